"""Failures of the outside world, and the one rule that names any error in results, logs, dead letters
and alerts (docs/architecture.md, "Error map")."""

INTERNAL = "InternalError"


def error_type(err: BaseException) -> str:
    """What results (`error.type`), log lines (`error_type`), dead letters and alerts call `err`: its
    class's name for a class of naver_sms, each drawn in the Error map, which a test keeps whole; any other
    class is InternalError, so a library's upgrade cannot bring a name nobody alarms on or documented."""
    return type(err).__name__ if type(err).__module__.startswith("naver_sms.") else INTERNAL


def error_message(err: BaseException) -> str:
    """What results and log lines (`error`) say of `err`: its message; an InternalError's keeps its own
    class first, which is what the person reading it needs."""
    return f"{type(err).__name__}: {err}".rstrip(": ") if error_type(err) == INTERNAL else str(err)


def described(err: BaseException) -> str:
    """`<error type>: <message>`, for one-line reports: an alert, a dead letter's reason, an operator's
    command."""
    return f"{error_type(err)}: {error_message(err)}".rstrip(": ")


class ExternalError(Exception):
    """An outside system failed."""


class LoginFailed(ExternalError):
    """The login did not end signed in: an error shown on the page, a challenge, the timeout."""


class LoginDeferred(ExternalError):
    """The login guard (application/login_guard.py) allows no login before `until` (seconds since the
    epoch): a backoff after failed logins, or the hour's logins used up. Nothing was tried."""

    def __init__(self, message: str, *, until: float) -> None:
        super().__init__(message)
        self.until = until


class BookingSourceError(ExternalError):
    """The booking source gave no usable answer: unreachable, a 5xx after retries, a redirect away."""


class SessionExpired(BookingSourceError):
    """The booking source says the session's cookies are no longer logged in: log in again."""


class SourceRefused(BookingSourceError):
    """The booking source answered and refused to serve for now (403, 429: rate limiting, a WAF): not a
    session end, so no new login (each one alerts the shop owner and risks locking the account), and no
    waiting it out in the run. `retry_after` is the source's wish, in seconds, when it gave one."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DeadlineTooShort(ExternalError):
    """The run's time (the Lambda's timeout) cannot hold one worst-case send: nothing was tried."""


class SentLogError(ExternalError):
    """The sent log failed (unreachable, no answer in time, a claim that kept changing under it): nothing
    can be claimed or confirmed, so nothing is sent."""


class DeliveryError(ExternalError):
    """A send did not end in an accepted message. The subclass says what is known about the SMS."""


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


class SentMessagesUnavailable(SentMessagesError):
    """No usable answer: no connection, no answer in time, a 5xx. Asking again later may do."""


class SentMessagesRefused(SentMessagesError):
    """SENS answered and refused the read (401/403: the keys; another 4xx: the query). `status` is its
    HTTP status."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class OddAnswer(SentMessagesError):
    """An answer that is not SENS's, or not whole: not JSON, a field missing or of the wrong type, a page
    cut short or repeated. Trusting it could read a send as missing."""


class MessageNotFound(SentMessagesError):
    """SENS knows no message by the id asked for (404): not a "never sent", since ids come from SENS
    itself; a wrong id, or one older than SENS's 90 days."""


class WindowRefused(SentMessagesError):
    """A request-time window SENS cannot answer whole (longer than it allows, reversed, naive, or reaching
    past the days it keeps): refused before any request, since SENS's answer would be partial or an
    error."""
