"""What every operator command (`make claims`, `make login-guard`) does around its own work: the
settings loaded, the work done on an event loop, and a failure said in one line on stderr, no traceback:
exit 2 for settings, 1 for anything else."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from naver_sms.application.errors import described
from naver_sms.settings import Settings, SettingsError

T = TypeVar("T")


def operate(doing: str, work: Callable[[Settings], Coroutine[Any, Any, T]]) -> tuple[Settings, T] | int:
    """The settings and what `work` returned, or the exit code after saying what failed."""
    try:
        settings = Settings.load()
        return settings, asyncio.run(work(settings))
    except SettingsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # noqa: BLE001  (an operator command: say what failed, no traceback)
        print(f"error: cannot {doing}: {described(err)}", file=sys.stderr)
        return 1
