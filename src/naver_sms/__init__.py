"""naver-sms-automation: Naver booking → SMS rules → notifications."""

from __future__ import annotations

DISTRIBUTION = "naver-sms"  # pyproject.toml's [project] name, whose version is the one version


def __getattr__(name: str) -> str:
    # Read on first use, not at import: importlib.metadata is not free, and the Lambda's init imports this.
    if name == "__version__":
        from importlib.metadata import version  # noqa: PLC0415

        return version(DISTRIBUTION)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
