"""Failures of the outside world, each with a stable type name for results and alerts."""


class ExternalError(Exception):
    """An outside system failed; `kind` is what callers report as error.type."""

    kind = "ExternalError"


class LoginFailed(ExternalError):
    kind = "LoginFailed"


class LoginDeferred(ExternalError):
    """The login guard (application/login_guard.py) allows no login before `until` (seconds since the
    epoch): a backoff after failed logins, or the hour's logins used up. Nothing was tried."""

    kind = "LoginDeferred"

    def __init__(self, message: str, *, until: float) -> None:
        super().__init__(message)
        self.until = until


class BookingSourceError(ExternalError):
    kind = "BookingSourceError"


class SessionExpired(BookingSourceError):
    """The booking source says the session's cookies are no longer logged in: log in again."""

    kind = "SessionExpired"


class SourceRefused(BookingSourceError):
    """The booking source answered and refused to serve for now (403, 429: rate limiting, a WAF): not a
    session end, so no new login (each one alerts the shop owner and risks locking the account), and no
    waiting it out in the run. `retry_after` is the source's wish, in seconds, when it gave one."""

    kind = "SourceRefused"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DeadlineTooShort(ExternalError):
    """The run's time (the Lambda's timeout) cannot hold one worst-case send: nothing was tried."""

    kind = "DeadlineTooShort"


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
    """The provider answered and refused this message (a 4xx other than 429): not sent. `status` is its
    HTTP status, when it gave one."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class OutcomeUnknown(DeliveryError):
    """The request may have reached the provider (read timeout, 5xx, connection lost after sending):
    the SMS may or may not go out, so it is never sent again automatically."""


class SentMessagesError(ExternalError):
    """SENS's record of what it accepted could not be read whole: nothing can be concluded from it, least
    of all "not sent" (a list that failed or was cut short is not an empty one)."""

    kind = "SentMessagesError"


class SentMessagesUnavailable(SentMessagesError):
    """No usable answer: no connection, no answer in time, a 5xx. Asking again later may do."""

    kind = "SentMessagesUnavailable"


class SentMessagesRefused(SentMessagesError):
    """SENS answered and refused the read (401/403: the keys; another 4xx: the query). `status` is its
    HTTP status."""

    kind = "SentMessagesRefused"

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class OddAnswer(SentMessagesError):
    """An answer that is not SENS's, or not whole: not JSON, a field missing or of the wrong type, a page
    cut short or repeated. Trusting it could read a send as missing."""

    kind = "OddAnswer"


class MessageNotFound(SentMessagesError):
    """SENS knows no message by the id asked for (404): not a "never sent", since ids come from SENS
    itself; a wrong id, or one older than SENS's 90 days."""

    kind = "MessageNotFound"


class WindowRefused(SentMessagesError):
    """A request-time window SENS cannot answer whole (longer than it allows, reversed, naive, or reaching
    past the days it keeps): refused before any request, since SENS's answer would be partial or an
    error."""

    kind = "WindowRefused"
