"""The ports the use cases need, awaited but for the Alerter: both images run the one use case on an
event loop (the Lambda with one asyncio.run per invocation), while the Alerter is called by the Lambda
entry point after its run's loop has closed, so it is a plain call. Adapters implement them;
tests/support/fakes.py has a fake of each port a use case takes (the Alerter is the Lambda entry
point's, tested against a fake Slack)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple, Protocol

from naver_sms.domain.errors import InvalidBooking
from naver_sms.domain.events import BookingEvent
from naver_sms.domain.feed import Seen
from naver_sms.domain.messages import PlannedMessage
from naver_sms.domain.phone import mask_phone


class Authenticator(Protocol):
    async def login(self) -> Mapping[str, str]:
        """Log in and return session cookies."""
        ...


class BookingSource(Protocol):
    async def fetch(self, cookies: Mapping[str, str]) -> Sequence[object]:
        """Every booking record as the source sent it (decoded JSON): the use case validates each one
        on its own, so one bad record never hides the others."""
        ...


class SmsTransport(Protocol):
    async def send(self, message: PlannedMessage) -> str:
        """Send one SMS; returns the provider's request id. Raises a DeliveryError subclass that says
        whether the SMS is known not to have gone out."""
        ...

    async def close(self) -> None:
        """Let go of connections (the run's or the worker's last step)."""
        ...


REASON_CHARS = 500  # the most of a reason a sent log stores or a dead letter carries


class ClaimState(StrEnum):
    CLAIMED = "claimed"  # a process is sending it (or died while sending it)
    SENT = "sent"  # SENS accepted it; its handset result not (yet) known
    UNKNOWN = "unknown"  # it may have gone out; reported once, never resent by a delivery
    # Set by the reconciler (application/reconcile.py) from SENS's own record:
    EXPIRED = "expired"  # was unknown, SENS never accepted it, and its rule's window has closed
    DELIVERED = "delivered"  # sent, and SENS says the handset got it
    FAILED = "failed"  # sent, and SENS says the carrier could not deliver it (a wrong number …)


WENT_OUT = frozenset({ClaimState.SENT, ClaimState.DELIVERED, ClaimState.FAILED})


class Standing(StrEnum):
    """What a claim means to a reader at some instant: the one classification delivery and `make claims`
    share."""

    SENT = "sent"
    UNKNOWN = "unknown"
    LIVE = "live"  # claimed within its lease: a send in progress
    STALE = "stale"  # claimed longer ago than the lease and never confirmed: its sender stopped mid-send
    EXPIRED = "expired"
    DELIVERED = "delivered"
    FAILED = "failed"


def standing(state: ClaimState, age_seconds: float, lease_seconds: float) -> Standing:
    if state is ClaimState.CLAIMED:
        return Standing.LIVE if age_seconds < lease_seconds else Standing.STALE
    return Standing(state.value)


@dataclass(frozen=True)
class Claim:
    """What the sent log holds for one idempotency key. `revision` is the store's token for this very
    write, against which the next write compares-and-sets."""

    state: ClaimState
    owner: str
    at: float  # seconds since the epoch when the state was written
    provider_id: str = ""
    revision: str = ""
    attempt: str = ""  # a random token written with the claim, by which its writer knows it again
    report_pending: bool = False  # UNKNOWN, and nobody has reported it yet (its reporter died first)
    # What a reconciler needs, no phone and no text: domain.messages.fingerprint of the key, phone and
    # text ("" for a record written before #36), and when the rule stops sending it (epoch seconds).
    fingerprint: str = ""
    until: float | None = None
    message_id: str = ""  # SENS's id of the message, when known (a reconciled send)
    reason: str = ""  # why it is UNKNOWN
    note: str = ""  # the reconciler's last word on it (why it stays unknown, why it expired)
    # domain.messages.recipient_fingerprint of the key and phone alone ("" before it was written): what
    # tells a listed message to the same number with other text.
    recipient_fingerprint: str = ""
    # The path of the rule that planned it (domain.messages.SentBy's value; "" when not recorded): only a
    # message the scheduled run replans is ever released to be sent again.
    sent_by: str = ""
    # The state as stored when this version does not know it (written by a later version, read after a
    # rollback): read as UNKNOWN, so it is never sent, and left for a person; "" for a known state.
    foreign_state: str = ""


class SentLog(Protocol):
    """Idempotency store keyed by PlannedMessage.idempotency_key, for one writer: the owner its claims
    and confirmations name is given once, where it is built."""

    async def claim(self, message: PlannedMessage, now: float) -> tuple[Claim, bool]:
        """Atomically record a claim. Returns what the key holds now and whether this call made it."""
        ...

    async def confirm(self, message: PlannedMessage, provider_id: str) -> None:
        """Record the send as SENT, whatever the key held: it went out."""
        ...

    async def release(self, message: PlannedMessage, claim: Claim) -> None:
        """Drop `claim` (if still unchanged) when its send is known not to have gone out, so a retry
        may send it."""
        ...

    async def mark_unknown(self, message: PlannedMessage, previous: Claim, reason: str) -> bool:
        """Move `previous` (still unchanged) to UNKNOWN, its report pending; False when someone else
        changed it first, which is how a stale claim is reported exactly once."""
        ...

    async def reported(self, key: str) -> None:
        """The unknown under `key` has been reported (a run's result, alert and metric; a worker's
        record): its report is no longer pending, so nobody reports it again."""
        ...

    async def lookup(self, message: PlannedMessage) -> Claim | None: ...


class OpenClaims(Protocol):
    """The sent log's records that still need a look, found without reading the rest: claims not yet
    settled and unknowns not yet reported, whatever any run plans today."""

    async def open_claims(self) -> list[tuple[PlannedMessage, Claim]]:
        """Each as the message it is about (rule, booking id and key; no phone, no text) and its claim."""
        ...

    async def to_reconcile(self) -> list[tuple[PlannedMessage, Claim]]:
        """The records a reconciler looks up in SENS, as open_claims gives them: unknowns already
        reported, and sends whose handset result is not recorded yet."""
        ...


class Reconciling(Protocol):
    """The sent log's transitions a reconciler makes from what SENS says. Each compares-and-sets on the
    revision of the claim it is given, as listed: False when the record changed since (another
    reconciler, a run), so two reconcilers racing move a record once and only the winner reports it."""

    async def resolve_sent(
        self, key: str, unknown: Claim, request_id: str, message_id: str, sent_at: float
    ) -> bool:
        """UNKNOWN → SENT with SENS's ids; `sent_at` is when SENS received it (epoch seconds)."""
        ...

    async def release_unknown(self, key: str, unknown: Claim) -> bool:
        """Drop an UNKNOWN that SENS never accepted, so the next run that plans it sends it once."""
        ...

    async def expire(self, key: str, unknown: Claim, reason: str) -> bool:
        """UNKNOWN → EXPIRED: never accepted, and no longer to be sent."""
        ...

    async def note(self, key: str, unknown: Claim, reason: str) -> bool:
        """Keep an UNKNOWN as it is, with why it stays so (for `make claims`)."""
        ...

    async def record_handset(self, key: str, sent: Claim, result: HandsetResult | None) -> bool:
        """SENT → DELIVERED or FAILED with SENS's result; None: no result will be waited for any more
        (it stays SENT)."""
        ...


class Sighting(NamedTuple):
    """What the change feed's store holds for one booking: what was seen, as domain.feed.Seen.state
    (None: never seen, or a record no reader understands; its booking is then as good as never seen),
    and the store's token for that write, against which the next write compares-and-sets (None: no
    record, the next write creates one)."""

    state: str | None
    revision: str | None

    @property
    def seen(self) -> Seen | None:
        """The state decoded: asked only of a booking that changed."""
        if self.state is None:
            return None
        try:
            return Seen.from_state(self.state)
        except InvalidBooking:
            return None


NEVER_SEEN = Sighting(None, None)


class SeenBookings(Protocol):
    """What the scheduled run last saw of each booking (domain/feed.py), the change feed's memory. Each
    booking's record is written with a compare-and-set on the revision read, so of two runs racing on
    one booking only one records what it saw: the other's write is refused, the winner's state stands
    and the next run compares against it, so no change is lost (at worst derived twice, which the sent
    log answers as a duplicate). Raises SentLogError when the store fails."""

    async def started(self) -> bool:
        """Whether a baseline has been recorded: until one has, every booking read is old news."""
        ...

    async def baseline_taken(self) -> None:
        """Say the baseline is recorded: the next run derives events."""
        ...

    async def read(self, unlike: Mapping[str, str]) -> dict[str, Sighting]:
        """What is held of each booking in `unlike` (booking id → its Seen.state now) whose record does
        not hold that state: a booking left out is unchanged, one never seen is NEVER_SEEN. Most of a
        run's bookings are unchanged: the store compares, and makes nothing for them. A state no Seen
        has ("") reads the booking's record whatever it holds."""
        ...

    async def record(self, booking_id: str, seen: Seen, revision: str | None) -> bool:
        """Store `seen` if the booking's record still holds `revision` (None: no record yet); False when
        another writer moved it first."""
        ...


@dataclass(frozen=True)
class Published:
    """What handing a run's events on came to: the ids of those acknowledged, and why the rest were not
    (None: every one was)."""

    acknowledged: frozenset[str]
    error: str | None = None


class EventPublisher(Protocol):
    """Hands the change feed's events on to the worker's stream, in order, each deduplicated there by its
    event id, so the same change handed on twice (a run that died before recording it) is one event. It
    stops at the first event not acknowledged, and before each while `go_on()` says no more (the run's
    deadline): those left are derived again by the next run. A failure is in the answer, never raised."""

    async def publish(self, events: Sequence[BookingEvent], *, go_on: Callable[[], bool]) -> Published: ...


class Alerter(Protocol):
    def alert(self, text: str) -> None: ...


class Processing(StrEnum):
    """Where SENS is with one message: queued, handing it to the carrier, or done (a handset result)."""

    READY = "READY"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"


@dataclass(frozen=True)
class HandsetResult:
    """The carrier's answer for one message, as SENS gives it once COMPLETED."""

    status_code: str  # SENS's result code ("0" is success)
    delivered: bool  # statusName "success"; False: "fail" (a wrong, unreachable or blocked number …)
    status_message: str
    telco_code: str


@dataclass(frozen=True)
class SentMessage:
    """One message SENS accepted. `to` and `content` are personal data: out of every repr, so a log of
    this record or a traceback never shows them; `masked_to` is what a log may say."""

    request_id: str
    message_id: str
    request_time: datetime  # aware, as SENS recorded it (its clock, KST)
    to: str = field(repr=False)
    content: str | None = field(repr=False)  # None: the answer did not carry the text
    status: Processing | None  # None: the list did not say
    result: HandsetResult | None  # None until COMPLETED (or when the list did not say)

    @property
    def masked_to(self) -> str:
        return mask_phone(self.to)


class SentMessages(Protocol):
    """SENS's own record of what it accepted (its last 90 days), read whole or not at all: every method
    either returns everything SENS holds for the question or raises a SentMessagesError, never a partial
    or empty answer in place of an error, because "none listed" will be read as "never sent"."""

    async def by_request(self, request_id: str) -> list[SentMessage]:
        """The messages of the send request SENS answered with `request_id` (empty: none listed yet)."""
        ...

    async def in_window(self, start: datetime, end: datetime) -> list[SentMessage]:
        """Every message whose request SENS received between `start` and `end` (aware datetimes,
        inclusive), across all pages. Raises WindowRefused for a window SENS cannot answer whole."""
        ...

    async def message(self, message_id: str) -> SentMessage:
        """One message with its processing status and handset result."""
        ...

    async def close(self) -> None: ...
