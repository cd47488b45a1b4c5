from __future__ import annotations

import logging

import pytest

from core.logging import configure_logging, get_logger, scrub_text


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        ("sent to +84905123456", "905123456"),
        ("sent to 0905123456 now", "905123456"),
        ("Authorization: Bearer eyJhbGciOiJFUzI1NiJ9.abc.def", "eyJhbGci"),
        ("cccd 051090001234", "051090001234"),
        ("bhxh 5112345678", "5112345678"),
        ("token eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln seen", "eyJzdWIiOiIxIn0"),
    ],
)
def test_scrub_text_masks_personal_data(text: str, leak: str) -> None:
    assert leak not in scrub_text(text)


def test_scrub_text_keeps_ordinary_numbers() -> None:
    assert scrub_text("batch of 500 rows in 12 ms") == "batch of 500 rows in 12 ms"


def test_log_records_are_scrubbed(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")
    log = get_logger("phr.test")
    log.info("otp sent to 0905123456", code="123456", token="abc.def", attempts=3)
    logging.getLogger("other.library").warning("user +84912345678 failed")
    err = capsys.readouterr().err
    assert "0905123456" not in err and "912345678" not in err
    assert "123456" not in err and "abc.def" not in err
    assert '"attempts": 3' in err
