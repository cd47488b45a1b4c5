import datetime
import pickle
import re
from typing import Literal

import pytest

from core.identifiers import (
    BhytCard,
    Cccd,
    InvalidIdentifier,
    bhxh_number_from,
    cccd_warnings,
    mask_phone,
    normalize_vn_mobile,
    parse_bhyt_card,
    parse_cccd,
    parse_cmnd,
    parse_facility_code,
)


def assert_message_hides_input(exc: InvalidIdentifier, raw: str) -> None:
    """The message must not echo the input, nor any run of 4+ of its digits."""
    message = str(exc)
    stripped = raw.strip()
    if stripped:
        assert stripped not in message
    digits = re.sub(r"[^0-9]", "", raw)
    for start in range(len(digits) - 3):
        assert digits[start : start + 4] not in message
    assert not re.search(r"[0-9]{4}", message)


# --- CCCD -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "province", "digit", "year2", "sex", "century", "birth_year"),
    [
        ("051085012345", "051", 0, 85, "male", 1900, 1985),
        ("051185012345", "051", 1, 85, "female", 1900, 1985),
        ("079205012345", "079", 2, 5, "male", 2000, 2005),
        ("079305012345", "079", 3, 5, "female", 2000, 2005),
        ("001400000001", "001", 4, 0, "male", 2100, 2100),
        ("001500000001", "001", 5, 0, "female", 2100, 2100),
        ("096699999999", "096", 6, 99, "male", 2200, 2299),
        ("096799999999", "096", 7, 99, "female", 2200, 2299),
        ("000812345678", "000", 8, 12, "male", 2300, 2312),
        ("999912345678", "999", 9, 12, "female", 2300, 2312),
    ],
)
def test_parse_cccd_century_sex_mapping(
    raw: str, province: str, digit: int, year2: int, sex: str, century: int, birth_year: int
) -> None:
    cccd = parse_cccd(raw)
    assert cccd.value == raw
    assert cccd.province_code == province
    assert cccd.century_sex_digit == digit
    assert cccd.birth_year_2 == year2
    assert cccd.sex == sex
    assert cccd.century_start == century
    assert cccd.birth_year == birth_year


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  051085012345  ", "051085012345"),
        ("\t051085012345\n", "051085012345"),
    ],
)
def test_parse_cccd_strips_surrounding_whitespace(raw: str, expected: str) -> None:
    assert parse_cccd(raw).value == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("001085012345", True),
        ("051085012345", True),
        ("096085012345", True),
        ("000085012345", False),
        ("097085012345", False),
        ("840085012345", False),
    ],
)
def test_cccd_is_province_code(raw: str, expected: bool) -> None:
    assert parse_cccd(raw).is_province_code is expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "05108501234",  # 11 digits
        "0510850123456",  # 13 digits
        "051 085 012 345",  # whitespace inside
        "051085\t012345",
        "051-085-012345",
        "05108501234a",
        "O51085012345",  # letter O instead of zero
        "０５１０８５０１２３４５",  # full-width digits
        "05108501234٥",  # Arabic-Indic digit
        "+51085012345",
        "051085012345\x00",
    ],
)
def test_parse_cccd_rejects_bad_format(raw: str) -> None:
    with pytest.raises(InvalidIdentifier) as info:
        parse_cccd(raw)
    assert info.value.field == "cccd"
    assert info.value.code == "cccd_format"
    assert_message_hides_input(info.value, raw)


@pytest.mark.parametrize(
    ("raw", "dob", "sex", "expected"),
    [
        ("051085012345", datetime.date(1985, 3, 1), "male", []),
        ("051185012345", datetime.date(1985, 3, 1), "female", []),
        ("079305012345", datetime.date(2005, 12, 31), "female", []),
        ("051085012345", None, None, []),
        ("051085012345", datetime.date(1985, 3, 1), None, []),
        ("051085012345", None, "male", []),
        ("051085012345", None, "female", ["cccd_sex_mismatch"]),
        ("051185012345", datetime.date(1985, 3, 1), "male", ["cccd_sex_mismatch"]),
        ("051085012345", datetime.date(2085, 3, 1), "male", ["cccd_century_mismatch"]),
        ("079205012345", datetime.date(1905, 3, 1), "male", ["cccd_century_mismatch"]),
        ("051085012345", datetime.date(1986, 3, 1), "male", ["cccd_birth_year_mismatch"]),
        (
            "051085012345",
            datetime.date(2003, 3, 1),
            None,
            ["cccd_century_mismatch", "cccd_birth_year_mismatch"],
        ),
        (
            "051085012345",
            datetime.date(2003, 3, 1),
            "female",
            ["cccd_sex_mismatch", "cccd_century_mismatch", "cccd_birth_year_mismatch"],
        ),
    ],
)
def test_cccd_warnings(
    raw: str, dob: datetime.date | None, sex: Literal["male", "female"] | None, expected: list[str]
) -> None:
    assert cccd_warnings(raw, date_of_birth=dob, sex=sex) == expected
    assert cccd_warnings(parse_cccd(raw), date_of_birth=dob, sex=sex) == expected


def test_cccd_warnings_rejects_malformed_string() -> None:
    with pytest.raises(InvalidIdentifier) as info:
        cccd_warnings("05108501234", date_of_birth=None, sex=None)
    assert info.value.code == "cccd_format"


def test_cccd_repr_hides_full_number() -> None:
    cccd = parse_cccd("051085012345")
    assert "051085012345" not in repr(cccd)
    assert isinstance(cccd, Cccd)


# --- CMND -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("212345678", "212345678"), (" 012345678 ", "012345678")],
)
def test_parse_cmnd_accepts(raw: str, expected: str) -> None:
    assert parse_cmnd(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "21234567", "2123456789", "051085012345", "212 345 678", "21234567x", "２１２３４５６７８"],
)
def test_parse_cmnd_rejects(raw: str) -> None:
    with pytest.raises(InvalidIdentifier) as info:
        parse_cmnd(raw)
    assert (info.value.field, info.value.code) == ("cmnd", "cmnd_format")
    assert_message_hides_input(info.value, raw)


# --- BHYT / BHXH ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value", "group", "level", "province", "bhxh"),
    [
        ("HS4010120878811", "HS4010120878811", "HS", 4, "01", "0120878811"),
        ("hs4010120878811", "HS4010120878811", "HS", 4, "01", "0120878811"),
        ("  Te1790000000001 ", "TE1790000000001", "TE", 1, "79", "0000000001"),
        ("DN5519999999999", "DN5519999999999", "DN", 5, "51", "9999999999"),
        ("ZZ3010120878811", "ZZ3010120878811", "ZZ", 3, "01", "0120878811"),  # unknown group kept
    ],
)
def test_parse_bhyt_card(raw: str, value: str, group: str, level: int, province: str, bhxh: str) -> None:
    assert parse_bhyt_card(raw) == BhytCard(
        value=value, group=group, benefit_level=level, province_code=province, bhxh_number=bhxh
    )


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("HS0010120878811", "bhyt_benefit_level"),
        ("HS6010120878811", "bhyt_benefit_level"),
        ("HS9010120878811", "bhyt_benefit_level"),
        ("", "bhyt_format"),
        ("HS401012087881", "bhyt_format"),  # 14 characters
        ("HS40101208788111", "bhyt_format"),  # 16 characters
        ("H54010120878811", "bhyt_format"),  # digit in group
        ("HSA010120878811", "bhyt_format"),  # letter as level
        ("HS4010120878B11", "bhyt_format"),
        ("HS 4 01 0120878811", "bhyt_format"),
        ("ĐN4010120878811", "bhyt_format"),  # non-ASCII letter
        ("ß4010120878811", "bhyt_format"),  # upper() would turn this into "SS..."
        ("0120878811", "bhyt_format"),  # bare BHXH number is not a card
    ],
)
def test_parse_bhyt_card_rejects(raw: str, code: str) -> None:
    with pytest.raises(InvalidIdentifier) as info:
        parse_bhyt_card(raw)
    assert (info.value.field, info.value.code) == ("bhyt_card", code)
    assert_message_hides_input(info.value, raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HS4010120878811", "0120878811"),
        ("hs4010120878811", "0120878811"),
        ("0120878811", "0120878811"),
        (" 0120878811 ", "0120878811"),
    ],
)
def test_bhxh_number_from(raw: str, expected: str) -> None:
    assert bhxh_number_from(raw) == expected


@pytest.mark.parametrize(
    ("raw", "field", "code"),
    [
        ("012087881", "bhxh_number", "bhxh_format"),
        ("01208788111", "bhxh_number", "bhxh_format"),
        ("012087881a", "bhxh_number", "bhxh_format"),
        ("", "bhxh_number", "bhxh_format"),
        ("HS6010120878811", "bhyt_card", "bhyt_benefit_level"),
        ("HSX010120878811", "bhyt_card", "bhyt_format"),
    ],
)
def test_bhxh_number_from_rejects(raw: str, field: str, code: str) -> None:
    with pytest.raises(InvalidIdentifier) as info:
        bhxh_number_from(raw)
    assert (info.value.field, info.value.code) == (field, code)
    assert_message_hides_input(info.value, raw)


def test_bhyt_repr_hides_card_and_bhxh_number() -> None:
    text = repr(parse_bhyt_card("HS4010120878811"))
    assert "0120878811" not in text
    assert "HS4010120878811" not in text
    assert "group='HS'" in text


# --- Phone ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0905123456", "+84905123456"),
        ("0905 123 456", "+84905123456"),
        ("0905.123.456", "+84905123456"),
        ("0905-123-456", "+84905123456"),
        ("+84 905 123 456", "+84905123456"),
        ("+84905123456", "+84905123456"),
        ("84905123456", "+84905123456"),
        ("(+84) 905-123-456", "+84905123456"),
        ("  0905123456  ", "+84905123456"),
        ("0321234567", "+84321234567"),  # 03x Viettel
        ("0561234567", "+84561234567"),  # 05x
        ("0701234567", "+84701234567"),  # 07x
        ("0812345678", "+84812345678"),  # 08x
        ("0981234567", "+84981234567"),  # 09x
    ],
)
def test_normalize_vn_mobile(raw: str, expected: str) -> None:
    assert normalize_vn_mobile(raw) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("02438123456", "phone_not_vn_mobile"),  # Hà Nội landline
        ("028 3822 1234", "phone_not_vn_mobile"),  # TP.HCM landline
        ("+84 24 3812 3456", "phone_not_vn_mobile"),
        ("0155123456", "phone_not_vn_mobile"),  # 01x is not a mobile prefix
        ("0405123456", "phone_not_vn_mobile"),
        ("0605123456", "phone_not_vn_mobile"),
        ("+1 415 555 0123", "phone_not_vn_mobile"),
        ("+86 138 0013 8000", "phone_not_vn_mobile"),
        ("+840905123456", "phone_not_vn_mobile"),  # trunk 0 after country code
        ("090512345", "phone_length"),
        ("09051234567", "phone_length"),
        ("+8490512345", "phone_length"),
        ("849051234567", "phone_length"),
        ("0905abc456", "phone_format"),
        ("O905123456", "phone_format"),
        ("0905/123/456", "phone_format"),
        ("0905+123456", "phone_format"),
        ("０９０５１２３４５６", "phone_format"),  # full-width digits
        ("905123456", "phone_format"),  # no trunk or country code
        ("", "phone_format"),
        ("+", "phone_format"),
        ("()", "phone_format"),
    ],
)
def test_normalize_vn_mobile_rejects(raw: str, code: str) -> None:
    with pytest.raises(InvalidIdentifier) as info:
        normalize_vn_mobile(raw)
    assert (info.value.field, info.value.code) == ("phone", code)
    assert_message_hides_input(info.value, raw)


@pytest.mark.parametrize(
    ("e164", "expected"),
    [("+84905123456", "+84******456"), ("+84321234000", "+84******000")],
)
def test_mask_phone(e164: str, expected: str) -> None:
    masked = mask_phone(e164)
    assert masked == expected
    assert len(masked) == len(e164)


@pytest.mark.parametrize("raw", ["0905123456", "+84 905 123 456", "+14155550123", "+8424381234", ""])
def test_mask_phone_rejects_non_normalised(raw: str) -> None:
    with pytest.raises(InvalidIdentifier) as info:
        mask_phone(raw)
    assert info.value.code == "phone_format"
    assert_message_hides_input(info.value, raw)


# --- Facility code ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("51001", "51001"), ("79024", "79024"), (" 01A12 ", "01A12"), ("01a12", "01A12"), ("ABCDE", "ABCDE")],
)
def test_parse_facility_code(raw: str, expected: str) -> None:
    assert parse_facility_code(raw) == expected


@pytest.mark.parametrize("raw", ["", "5100", "510011", "51 01", "51-01", "5100ß", "5100Đ", "５１００１"])
def test_parse_facility_code_rejects(raw: str) -> None:
    with pytest.raises(InvalidIdentifier) as info:
        parse_facility_code(raw)
    assert (info.value.field, info.value.code) == ("facility_code", "facility_code_format")
    assert_message_hides_input(info.value, raw)


# --- Exception --------------------------------------------------------------------------


def test_invalid_identifier_is_value_error_and_pickles() -> None:
    exc = InvalidIdentifier("cccd", "cccd_format", "CCCD must be exactly 12 ASCII digits")
    assert isinstance(exc, ValueError)
    clone = pickle.loads(pickle.dumps(exc))  # noqa: S301 - round-tripping our own object
    assert (clone.field, clone.code, str(clone)) == (exc.field, exc.code, str(exc))
