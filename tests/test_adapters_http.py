"""HTTP adapters against the fake servers: pagination and validation, SMS type and signature."""

from __future__ import annotations

from datetime import timedelta

import pytest

from naver_sms.adapters.booking_api import HttpBookingSource
from naver_sms.adapters.sens import SensCredentials, SensTransport, message_type
from naver_sms.application.errors import BookingSourceError, DeliveryError
from naver_sms.domain.messages import PlannedMessage
from tests.support import fake_sens as sens_fake
from tests.support.bookings import mixed_bookings, record
from tests.support.fake_naver import SESSION, FakeNaver
from tests.support.fake_sens import FakeSens

COOKIES = {SESSION: "valid"}


def source(naver: FakeNaver, max_attempts: int = 2) -> HttpBookingSource:
    return HttpBookingSource(f"{naver.url}/api/bookings", page_size=2, timeout=5, max_attempts=max_attempts)


def test_pages_are_followed_and_validated(fake_naver: FakeNaver) -> None:
    fake_naver.state.bookings = mixed_bookings()
    bookings = source(fake_naver).fetch(COOKIES)
    assert [b.booking_id for b in bookings] == ["bk-1", "bk-2", "bk-3", "bk-4", "bk-5"]
    assert fake_naver.state.api_calls == 3


def test_an_invalid_record_names_page_and_field(fake_naver: FakeNaver) -> None:
    fake_naver.state.bookings = [
        record(1, "confirmed", timedelta(hours=1)),
        {**record(2, "confirmed", timedelta(hours=1)), "phone": "n/a"},
    ]
    with pytest.raises(BookingSourceError, match=r"page 1: booking.phone: expected 9-15 digits, got 'n/a'"):
        source(fake_naver).fetch(COOKIES)


def test_not_logged_in_is_an_error(fake_naver: FakeNaver) -> None:
    with pytest.raises(BookingSourceError, match="HTTP 401"):
        source(fake_naver).fetch({})


def test_retries_run_out(fake_naver: FakeNaver) -> None:
    fake_naver.state.fail_next = 10
    with pytest.raises(BookingSourceError):
        source(fake_naver, max_attempts=2).fetch(COOKIES)
    assert fake_naver.state.api_calls == 2


def test_sms_or_lms_by_euc_kr_length() -> None:
    assert message_type("가" * 40) == "SMS"  # 80 bytes in EUC-KR
    assert message_type("가" * 41) == "LMS"


def test_long_text_goes_as_lms_with_a_valid_signature(fake_sens: FakeSens) -> None:
    creds = SensCredentials(
        sens_fake.ACCESS_KEY, sens_fake.SECRET_KEY, sens_fake.SERVICE_ID, sens_fake.SENDER
    )
    transport = SensTransport(fake_sens.url, creds, timeout=5, max_attempts=1)
    text = "안녕하세요 " * 20
    assert transport.send(PlannedMessage("r", "b", "01012345678", text, "k")) != ""
    assert fake_sens.state.sent[0]["type"] == "LMS" and fake_sens.state.rejected_signatures == 0


def test_wrong_secret_is_refused_not_retried(fake_sens: FakeSens) -> None:
    creds = SensCredentials(sens_fake.ACCESS_KEY, "wrong", sens_fake.SERVICE_ID, sens_fake.SENDER)
    transport = SensTransport(fake_sens.url, creds, timeout=5, max_attempts=3)
    with pytest.raises(DeliveryError) as caught:
        transport.send(PlannedMessage("r", "b", "01012345678", "hi", "k"))
    assert not caught.value.retryable and fake_sens.state.rejected_signatures == 1
