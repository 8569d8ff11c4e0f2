"""Settings.load(): base YAML → per-environment overlay → environment variables, validated once.

Every value remembers where it came from, so an error names the key, its source and what was
expected; secret values are never echoed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from naver_sms.domain.text import shown
from naver_sms.settings.env import CONFIG_DIR_ENV, ENV_TO_KEY, SECRET_KEYS
from naver_sms.settings.errors import SettingsError
from naver_sms.settings.model import SettingsModel
from naver_sms.settings.redact import without_credentials
from naver_sms.settings.secrets import Secret, is_reference

BASE_FILE = "settings.yaml"
PRODUCTION = "production"
# An environment's name: it also names its overlay file (settings.<name>.yaml).
_ENV_NAME = re.compile(r"[a-z][a-z0-9_-]{0,39}")


def default_config_dir() -> Path:
    """APP_CONFIG_DIR (the worker image sets it), else config/ beside the task root (Lambda), one level up
    from src/ (checkout), or in the current folder (the installed package run from a checkout)."""
    if os.environ.get(CONFIG_DIR_ENV):
        return Path(os.environ[CONFIG_DIR_ENV])
    package_parent = Path(__file__).resolve().parents[2]
    for candidate in (package_parent / "config", package_parent.parent / "config", Path.cwd() / "config"):
        if (candidate / BASE_FILE).is_file():
            return candidate
    raise SettingsError(
        f"no {BASE_FILE} found beside {package_parent} or in ./config; "
        f"set {CONFIG_DIR_ENV} to the config folder"
    )


def read_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except OSError as err:
        raise SettingsError(f"cannot read {path}: {err.strerror}") from err
    except yaml.YAMLError as err:
        raise SettingsError(f"{path}: not valid YAML: {err}") from err


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in data.items():
        key = f"{prefix}{name}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{key}."))
        else:
            flat[key] = value
    return flat


def _nest(flat: Mapping[str, Any], source: Callable[[str], str]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        if value is None and any(other.startswith(f"{key}.") for other in flat):
            continue  # `alerts:` with nothing under it is an empty section, not a null over its keys
        *parents, leaf = key.split(".")
        node = nested
        for depth, part in enumerate(parents, start=1):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                section = ".".join(parents[:depth])
                got = type(child).__name__
                raise SettingsError(
                    f"{section} ({source(section)}): expected a section holding {key}, got a {got}"
                )
            node = child
        node[leaf] = value
    return nested


class _Layers:
    """Flat key → value, plus key → where the value came from."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.sources: dict[str, str] = {}

    def add_file(self, path: Path, *, required: bool) -> None:
        if not path.is_file():
            if required:
                raise SettingsError(f"settings file {path} does not exist")
            return
        data = read_yaml(path)
        if data is None:
            return
        if not isinstance(data, Mapping):
            raise SettingsError(f"{path}: expected a mapping at the top, got {type(data).__name__}")
        for key, value in _flatten(data).items():
            self.values[key] = value
            self.sources[key] = str(path)

    def add_environment(self, environ: Mapping[str, str]) -> None:
        for env_name, key in ENV_TO_KEY.items():
            if env_name in environ:
                self.values[key] = _null_if_blank(key, environ[env_name])
                self.sources[key] = f"environment variable {env_name}"

    def wrap_secrets(self) -> None:
        for key in SECRET_KEYS:
            raw = self.values.get(key)
            raw = "" if raw is None else raw
            if not isinstance(raw, str):
                # YAML reads an unquoted no/yes/on/off/true/false as a boolean, and digits as a number.
                raise SettingsError(
                    f"{key} ({self.source(key)}): expected a string, got a YAML {type(raw).__name__}"
                    " (quote the value)"
                )
            self.values[key] = Secret(key=key, source=self.source(key), raw=raw)
        for key, value in self.values.items():
            if key not in SECRET_KEYS and isinstance(value, str) and is_reference(value):
                raise SettingsError(
                    f"{key} ({self.source(key)}): secret references are allowed only in "
                    f"{', '.join(sorted(SECRET_KEYS))}"
                )

    def source(self, key: str) -> str:
        return self.sources.get(key, "not set anywhere")


def _null_if_blank(key: str, value: str) -> str | None:
    # An empty SMS_DRY_RUN means "use the default", not "false".
    return None if key == "sms.dry_run" and value.strip() == "" else value


def _explain(err: ValidationError, layers: _Layers) -> SettingsError:
    lines = []
    for problem in err.errors():
        if not problem["loc"]:
            # A rule across sections: its message names the keys itself.
            lines.append(str(problem["msg"]).removeprefix("Value error, "))
            continue
        key = ".".join(str(part) for part in problem["loc"])
        # An unknown key may be a misspelled secret (`secret_kye:`): its value is never shown either.
        hidden = key in SECRET_KEYS or problem["type"] in ("missing", "extra_forbidden")
        got = "" if hidden else f"; got {without_credentials(repr(problem.get('input')))}"
        lines.append(f"{key} ({layers.source(key)}): {problem['msg']}{got}")
    return SettingsError("invalid settings:\n  " + "\n  ".join(lines))


def _check_env_name(value: object, where: str) -> None:
    """Only `production` sends SMS, so a near miss (Production, prod, a trailing space or \\r) would dry-run
    without a word: such names are refused, with the reason."""
    text = str(value)
    near_production = text != PRODUCTION and text.strip().casefold().startswith(("prod", "prd"))
    if near_production or not _ENV_NAME.fullmatch(text):
        raise SettingsError(
            f"{where}={shown(text)} is not an environment name: expected lowercase letters, digits, '-'"
            f" or '_' (at most 40), and exactly {PRODUCTION!r} for production (only it sends SMS;"
            " anything else is a dry run)"
        )


def load_model(config_dir: Path, environ: Mapping[str, str]) -> tuple[SettingsModel, Path]:
    layers = _Layers()
    layers.add_file(config_dir / BASE_FILE, required=True)
    app_env = environ.get("APP_ENV") or layers.values.get("app.env")
    if app_env:
        _check_env_name(
            app_env, "APP_ENV" if environ.get("APP_ENV") else f"app.env ({layers.source('app.env')})"
        )
        layers.add_file(config_dir / f"settings.{app_env}.yaml", required=False)
    layers.add_environment(environ)
    layers.wrap_secrets()
    try:
        return SettingsModel.model_validate(_nest(layers.values, layers.source)), config_dir
    except ValidationError as err:
        raise _explain(err, layers) from None
