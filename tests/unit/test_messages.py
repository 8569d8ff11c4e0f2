from __future__ import annotations

import pytest

from naver_sms.domain.errors import InvalidMessage
from naver_sms.domain.messages import LMS_MAX_BYTES, SMS_MAX_BYTES, MessageKind, encoded_size, message_kind


def test_korean_is_two_bytes_and_ninety_bytes_is_still_an_sms() -> None:
    assert encoded_size("가나a") == (5, True)
    assert message_kind("r", "가" * 45) is MessageKind.SMS
    assert message_kind("r", "가" * 45 + "a") is MessageKind.LMS
    assert message_kind("r", "a" * SMS_MAX_BYTES) is MessageKind.SMS


@pytest.mark.parametrize("char", ["😀", "é", "\u0301"])
def test_a_character_euc_kr_cannot_encode_forces_an_lms_and_counts_its_utf8_bytes(char: str) -> None:
    size, encodable = encoded_size("hi" + char)
    assert (size, encodable) == (2 + len(char.encode()), False)
    assert message_kind("r", "hi" + char) is MessageKind.LMS


def test_longer_than_an_lms_is_refused_with_its_size() -> None:
    assert message_kind("r", "가" * (LMS_MAX_BYTES // 2)) is MessageKind.LMS
    with pytest.raises(
        InvalidMessage, match=r"rule 'r': the message is 2002 bytes; an LMS holds at most 2000"
    ):
        message_kind("r", "가" * (LMS_MAX_BYTES // 2 + 1))
