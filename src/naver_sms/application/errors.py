"""Failures of the outside world, each with a stable type name for results and alerts."""


class ExternalError(Exception):
    """An outside system failed; `kind` is what callers report as error.type."""

    kind = "ExternalError"


class LoginFailed(ExternalError):
    kind = "LoginFailed"


class BookingSourceError(ExternalError):
    kind = "BookingSourceError"


class DeliveryError(ExternalError):
    """The SMS provider refused or kept failing; `retryable` says whether a later try may work."""

    kind = "DeliveryError"

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class SentLogError(ExternalError):
    kind = "SentLogError"
