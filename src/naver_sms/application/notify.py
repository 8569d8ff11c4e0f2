"""The use case both images run: one booking (and, for the worker, its event) → planned messages →
each delivered at most once, every outcome returned for the caller to record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from naver_sms.application.delivery import Deliverer, Delivery, Outcome
from naver_sms.domain.booking import Booking, booking_from_mapping, booking_id_of
from naver_sms.domain.errors import InvalidBooking, InvalidMessage
from naver_sms.domain.events import BookingEvent, EventType
from naver_sms.domain.messages import PlannedMessage
from naver_sms.domain.rules import RuleSet

UNKNOWN_BOOKING = "(no valid id)"


def planned(
    rules: RuleSet, booking: Booking, now: datetime, event: EventType | None
) -> list[PlannedMessage | Delivery]:
    """Each applicable rule's message, or the INVALID delivery of one that cannot be sent as rendered."""
    plans: list[PlannedMessage | Delivery] = []
    for rule in rules.applicable(booking, now, event):
        try:
            plans.append(rule.render(booking, rules.timezone))
        except InvalidMessage as err:
            plans.append(Delivery(Outcome.INVALID, rule.name, booking.booking_id, "", reason=str(err)))
    return plans


@dataclass(frozen=True)
class Notifier:
    rules: RuleSet
    deliverer: Deliverer

    @property
    def dry_run(self) -> bool:
        return self.deliverer.dry_run

    async def notify(self, booking: Booking, now: datetime, event: EventType | None = None) -> list[Delivery]:
        return [await self.deliver(plan) for plan in planned(self.rules, booking, now, event)]

    async def deliver(self, plan: PlannedMessage | Delivery) -> Delivery:
        """A planned message delivered; a plan that is already a failure (invalid) as it is. Delivery
        errors (the sent log) go on to the caller and stop its run."""
        return plan if isinstance(plan, Delivery) else await self.deliverer.deliver(plan)

    def plan_record(self, record: object, now: datetime) -> list[PlannedMessage | Delivery]:
        """A scheduled run's booking record as the source sent it: an invalid one is one failure (see
        read_record)."""
        booking = read_record(record)
        return [booking] if isinstance(booking, Delivery) else self.plan_booking(booking, now)

    def plan_booking(self, booking: Booking, now: datetime) -> list[PlannedMessage | Delivery]:
        """A valid booking's scheduled messages; planning that fails in any way is one failure (nothing
        has been sent for it yet), so that one booking never stops every run."""
        try:
            return planned(self.rules, booking, now, None)
        except Exception as err:  # noqa: BLE001 - pure planning of one record; its type is the reason
            return [_unplanned(booking.booking_id, err)]

    def plan_event(self, event: BookingEvent, now: datetime) -> list[PlannedMessage | Delivery]:
        """The `events` rules' messages for an event the scheduled run derived (application/change_feed.py):
        what the worker's handler plans for the same event, under the same keys."""
        try:
            return planned(self.rules, event.booking, now, event.type)
        except Exception as err:  # noqa: BLE001 - as plan_record: one booking never stops every run
            return [_unplanned(event.booking.booking_id, err)]


def read_record(record: object) -> Booking | Delivery:
    """A booking record as the source sent it, validated once for the run's planning and its change
    feed: the booking, or the INVALID delivery that reports it."""
    booking_id = booking_id_of(record) or UNKNOWN_BOOKING
    try:
        return booking_from_mapping(record)
    except InvalidBooking as err:
        return Delivery(Outcome.INVALID, "", booking_id, "", reason=str(err))
    except Exception as err:  # noqa: BLE001 - pure validation of one record; its type is the reason
        return _unplanned(booking_id, err)


def _unplanned(booking_id: str, err: Exception) -> Delivery:
    reason = f"booking could not be planned: {type(err).__name__}"
    return Delivery(Outcome.INVALID, "", booking_id, "", reason=reason)
