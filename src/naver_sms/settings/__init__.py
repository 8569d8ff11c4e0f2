"""Shared settings for both entry points. See config/settings.yaml for the layering order."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from naver_sms.settings.errors import SecretUnavailable, SettingsError
from naver_sms.settings.loader import PRODUCTION, default_config_dir, load_model
from naver_sms.settings.model import SettingsModel
from naver_sms.settings.secrets import Secret, refresh_secrets

__all__ = ["Secret", "SecretUnavailable", "Settings", "SettingsError", "refresh_secrets"]


class Settings(SettingsModel):
    """The validated settings (sections as attributes: `settings.worker.concurrency`) and the folder they
    were read from."""

    config_dir: Path

    @classmethod
    def load(cls, config_dir: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
        model, folder = load_model(
            config_dir or default_config_dir(), os.environ if environ is None else environ
        )
        # Already validated section by section and across sections: only the folder is added.
        return cls.model_construct(**dict(model), config_dir=folder)

    @property
    def is_production(self) -> bool:
        return self.app.env == PRODUCTION

    @property
    def sms_dry_run(self) -> bool:
        """Dry-run unless production settings say otherwise: nothing is sent by mistake."""
        configured = self.sms.dry_run
        return (not self.is_production) if configured is None else configured

    @property
    def rules_path(self) -> Path:
        return self.config_dir / self.app.rules_file

    def secrets(self) -> list[Secret]:
        candidates = (
            self.naver.username,
            self.naver.password,
            self.sms.access_key,
            self.sms.secret_key,
            self.alerts.slack_webhook_url,
        )
        return [s for s in candidates if s.is_set]
