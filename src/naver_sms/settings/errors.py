"""Settings errors: each names the key, where its value came from and what was expected."""


class SettingsError(Exception):
    """Configuration cannot be used as given."""


class SecretUnavailable(SettingsError):
    """A secret reference could not be resolved (missing, access denied, AWS unreachable)."""
