"""Failures of the outside world, each with a stable type name for results and alerts."""


class ExternalError(Exception):
    """An outside system failed; `kind` is what callers report as error.type."""

    kind = "ExternalError"


class LoginFailed(ExternalError):
    kind = "LoginFailed"


class BookingSourceError(ExternalError):
    kind = "BookingSourceError"


class SessionExpired(BookingSourceError):
    """The booking source says the session's cookies are no longer logged in: log in again."""

    kind = "SessionExpired"


class SentLogError(ExternalError):
    kind = "SentLogError"


class DeliveryError(ExternalError):
    """A send did not end in an accepted message. The subclass says what is known about the SMS."""

    kind = "DeliveryError"


class NotDelivered(DeliveryError):
    """Known not to have reached the SMS provider (connect refused or timed out, DNS, 429), so a later
    try cannot double-send. `retry_after` is the provider's wish, in seconds, when it gave one."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Refused(DeliveryError):
    """The provider answered and refused this message (a 4xx other than 429): not sent."""


class OutcomeUnknown(DeliveryError):
    """The request may have reached the provider (read timeout, 5xx, connection lost after sending):
    the SMS may or may not go out, so it is never sent again automatically."""
