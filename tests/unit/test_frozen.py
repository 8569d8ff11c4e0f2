"""domain/frozen.quick_init: the value objects it speeds up make, compare, copy and refuse changes exactly
as dataclasses' own would, and a class it cannot serve is refused at import."""

from __future__ import annotations

import copy
import dataclasses
import inspect
from dataclasses import InitVar, dataclass, field
from datetime import UTC, datetime

import pytest

from naver_sms.application.delivery import Delivery, Outcome
from naver_sms.application.settlement import Action, Settlement
from naver_sms.domain.booking import Booking, BookingStatus
from naver_sms.domain.events import BookingEvent, EventType
from naver_sms.domain.frozen import quick_init
from naver_sms.domain.messages import PlannedMessage

START = datetime(2026, 12, 6, 10, 30, tzinfo=UTC)
BOOKING = Booking(
    "bk-1", "김민수", "01012345678", "커트", START, BookingStatus.CONFIRMED, "2026-12-06T10:30:00Z"
)
SAMPLES = [
    BOOKING,
    BookingEvent("ev-1", EventType.CREATED, START, BOOKING),
    PlannedMessage("confirmation", "bk-1", "01012345678", "확정", "k" * 40),
    Delivery(Outcome.SENT, "confirmation", "bk-1", "k" * 40, provider_id="p-1"),
    Settlement(Action.ACK),
]


def _plain(cls: type) -> type:
    """The same fields as `cls`, made by dataclasses' own __init__."""
    return dataclass(frozen=True)(
        type(
            cls.__name__,
            (),
            {"__annotations__": dict(cls.__annotations__)}
            | {
                f.name: field(default=f.default, compare=f.compare, repr=f.repr, kw_only=f.kw_only)
                for f in dataclasses.fields(cls)
                if f.default is not dataclasses.MISSING
            },
        )
    )


def _parameters(cls: type) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(cls).parameters.values()]


@pytest.mark.parametrize("value", SAMPLES, ids=lambda v: type(v).__name__)
def test_a_quick_value_object_is_made_as_its_dataclass_would_make_it(value: object) -> None:
    cls = type(value)
    assert _parameters(cls) == _parameters(_plain(cls))
    fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}  # type: ignore[arg-type]
    assert vars(value) == fields  # every field set, nothing else
    assert cls(**fields) == value and hash(cls(**fields)) == hash(value)
    assert cls(*fields.values()) == value
    assert copy.deepcopy(value) == value and copy.copy(value) == value
    name = next(iter(fields))
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(value, name, "changed")
    assert getattr(value, name) == fields[name]


def test_defaults_and_fields_left_out_of_comparison_stay_as_declared() -> None:
    assert Delivery(Outcome.DRY_RUN, "r", "bk-1", "k") == Delivery(
        Outcome.DRY_RUN, "r", "bk-1", "k", "", "", None
    )
    assert PlannedMessage("r", "bk-1", "010", "t", "k").sent_by is None
    other_text = dataclasses.replace(BOOKING, start_text="2026-12-06T19:30:00+09:00")
    assert other_text == BOOKING and other_text.start_text != BOOKING.start_text
    assert "start_text" not in repr(BOOKING)
    with pytest.raises(TypeError, match="missing"):
        Delivery(Outcome.SENT, "r")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword"):
        Delivery(Outcome.SENT, "r", "bk-1", "k", colour="red")  # type: ignore[call-arg]


def test_a_class_it_cannot_serve_is_refused_at_import() -> None:
    class Loose:
        a: int

    class Slotted:
        __slots__ = ("a",)

    refused: list[type] = [
        dataclass(Loose),
        dataclass(frozen=True, slots=True)(type("Slotted", (), {"__annotations__": {"a": int}})),
        dataclass(frozen=True)(
            type("Factory", (), {"__annotations__": {"a": list}, "a": field(default_factory=list)})
        ),
        dataclass(frozen=True)(
            type("Later", (), {"__annotations__": {"a": int}, "__post_init__": lambda self: None})
        ),
        dataclass(frozen=True)(
            type("Hidden", (), {"__annotations__": {"a": int}, "a": field(default=1, init=False)})
        ),
        Loose,
        # A field named as the generated __init__'s own helper would shadow it.
        dataclass(frozen=True)(type("Shadow", (), {"__annotations__": {"_quick_set": object}})),
        # An InitVar is no field, but __init__ takes it.
        dataclass(frozen=True)(type("Passed", (), {"__annotations__": {"a": int, "b": InitVar[int]}})),
        # A base's slot holds its field outside the instance dict.
        dataclass(frozen=True)(type("OnSlots", (Slotted,), {"__annotations__": {"b": int}})),
    ]
    for cls in refused:
        with pytest.raises(TypeError, match="quick_init"):
            quick_init(cls)  # type: ignore[type-var]
