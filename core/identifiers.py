"""Parsers and validators for Vietnamese personal and health identifiers.

Covers the 12-digit CCCD / personal ID number, the legacy 9-digit CMND, the 15-character
BHYT health-insurance card and the 10-digit BHXH number inside it, Vietnamese mobile numbers
(normalised to E.164) and the 5-character facility code MA_CSKCB. Pure standard library so it
can be used from the API, from imports and from migrations alike.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from typing import Literal

Sex = Literal["male", "female"]

# [0-9] rather than \d: \d also matches non-ASCII digits such as "٣", which must be rejected.
_CCCD_RE = re.compile(r"[0-9]{12}")
_CMND_RE = re.compile(r"[0-9]{9}")
_BHXH_RE = re.compile(r"[0-9]{10}")
_BHYT_RE = re.compile(r"([A-Z]{2})([0-9])([0-9]{2})([0-9]{10})")
_FACILITY_RE = re.compile(r"[0-9A-Z]{5}")
_E164_VN_MOBILE_RE = re.compile(r"\+84[35789][0-9]{8}")
# Separators people type inside phone numbers; anything else (letters, "/", "#") is rejected.
_PHONE_SEPARATORS = str.maketrans("", "", " .-()")
# First digit after the trunk "0" / country code "84" of every Vietnamese mobile range
# (03x, 05x, 07x, 08x, 09x). Landlines start with 02x.
_MOBILE_LEADING_DIGITS = frozenset("35789")


class InvalidIdentifier(ValueError):
    """An identifier failed validation.

    ``code`` is a stable machine-readable reason for API responses and metrics. The message
    never contains the offending value: identifiers are personal data and exception messages
    end up in logs, tracebacks and error-tracking services.
    """

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.code = code

    def __reduce__(self) -> tuple[type[InvalidIdentifier], tuple[str, str, str]]:
        # The custom __init__ signature would otherwise break pickling (multiprocessing, caches).
        return (type(self), (self.field, self.code, str(self)))


@dataclass(frozen=True, slots=True)
class Cccd:
    """A format-valid CCCD / personal identification number (số định danh cá nhân)."""

    # repr=False keeps the full number out of logs when the object is printed.
    value: str = field(repr=False)
    province_code: str  # "001".."096" for provinces; other values are country codes
    century_sex_digit: int  # 0..9
    birth_year_2: int  # last two digits of the birth year, 0..99

    @property
    def sex(self) -> Sex:
        # Even digits encode male, odd digits female, in every century.
        return "male" if self.century_sex_digit % 2 == 0 else "female"

    @property
    def century_start(self) -> int:
        # Digit pairs (0,1), (2,3), ... map to 1900, 2000, ... 2300.
        return 1900 + 100 * (self.century_sex_digit // 2)

    @property
    def birth_year(self) -> int:
        return self.century_start + self.birth_year_2

    @property
    def is_province_code(self) -> bool:
        # Format-wise any 3 digits are valid (people born abroad carry a country code);
        # this only tells whether the prefix falls in the domestic province range.
        return "001" <= self.province_code <= "096"


@dataclass(frozen=True, slots=True)
class BhytCard:
    """A format-valid BHYT health-insurance card number (mã thẻ BHYT)."""

    value: str = field(repr=False)
    group: str  # beneficiary group, e.g. "HS"; not checked against a list (new groups appear)
    benefit_level: int  # 1..5
    province_code: str  # 2 digits, e.g. "01"
    bhxh_number: str = field(repr=False)  # the person's stable insurance key


def parse_cccd(raw: str) -> Cccd:
    value = raw.strip()
    if not _CCCD_RE.fullmatch(value):
        raise InvalidIdentifier("cccd", "cccd_format", "CCCD must be exactly 12 ASCII digits")
    return Cccd(
        value=value,
        province_code=value[0:3],
        century_sex_digit=int(value[3]),
        birth_year_2=int(value[4:6]),
    )


def cccd_warnings(
    cccd: Cccd | str,
    *,
    date_of_birth: datetime.date | None,
    sex: Sex | None,
) -> list[str]:
    """Cross-check the sex/birth-year encoded in a CCCD against separately recorded data.

    Mismatches are warnings, not errors: the CCCD itself is authoritative and was issued by
    the police, while the date of birth and sex next to it are typed in by clinic staff or
    imported from older systems and are often wrong. Rejecting the record would lose the
    (valid) identifier; flagging it lets a human fix whichever side is wrong.
    """
    parsed = parse_cccd(cccd) if isinstance(cccd, str) else cccd
    warnings: list[str] = []
    if sex is not None and sex != parsed.sex:
        warnings.append("cccd_sex_mismatch")
    if date_of_birth is not None:
        if date_of_birth.year // 100 * 100 != parsed.century_start:
            warnings.append("cccd_century_mismatch")
        if date_of_birth.year % 100 != parsed.birth_year_2:
            warnings.append("cccd_birth_year_mismatch")
    return warnings


def parse_cmnd(raw: str) -> str:
    """Validate a legacy 9-digit CMND, which still appears in imported records."""
    value = raw.strip()
    if not _CMND_RE.fullmatch(value):
        raise InvalidIdentifier("cmnd", "cmnd_format", "CMND must be exactly 9 ASCII digits")
    return value


def parse_bhyt_card(raw: str) -> BhytCard:
    value = raw.strip()
    # Check ASCII before upper-casing: str.upper() can change the length of non-ASCII text
    # ("ß" becomes "SS"), which could turn a malformed input into a well-formed one.
    match = _BHYT_RE.fullmatch(value.upper()) if value.isascii() else None
    if match is None:
        raise InvalidIdentifier(
            "bhyt_card",
            "bhyt_format",
            "BHYT card must be 2 letters followed by 13 ASCII digits",
        )
    group, level, province, bhxh = match.groups()
    if not 1 <= int(level) <= 5:
        raise InvalidIdentifier("bhyt_card", "bhyt_benefit_level", "BHYT benefit level must be between 1 and 5")
    return BhytCard(
        value=match.group(0),
        group=group,
        benefit_level=int(level),
        province_code=province,
        bhxh_number=bhxh,
    )


def bhxh_number_from(raw: str) -> str:
    """Return the 10-digit BHXH number from a full BHYT card or from a bare BHXH number.

    The card prefix (group, level, province) changes when a person changes job, age group or
    province; the BHXH number does not, so it is the key records are matched on.
    """
    value = raw.strip()
    if _BHXH_RE.fullmatch(value):
        return value
    if len(value) == 15:
        return parse_bhyt_card(value).bhxh_number
    raise InvalidIdentifier(
        "bhxh_number",
        "bhxh_format",
        "expected a 10-digit BHXH number or a 15-character BHYT card",
    )


def normalize_vn_mobile(raw: str) -> str:
    """Normalise a Vietnamese mobile number to E.164 (``+84`` and 9 digits).

    Only Vietnamese mobiles are accepted because OTP codes are sent by SMS through a domestic
    gateway: landlines cannot receive SMS and foreign numbers are not deliverable.
    """
    compact = raw.strip().translate(_PHONE_SEPARATORS)
    has_plus = compact.startswith("+")
    digits = compact[1:] if has_plus else compact
    if not digits or not digits.isascii() or not digits.isdigit():
        raise InvalidIdentifier("phone", "phone_format", "phone number must contain only digits")
    if digits.startswith("84"):
        national = digits[2:]
    elif has_plus:
        raise InvalidIdentifier("phone", "phone_not_vn_mobile", "only Vietnamese mobile numbers are accepted")
    elif digits.startswith("0"):
        national = digits[1:]
    else:
        raise InvalidIdentifier("phone", "phone_format", "phone number must start with 0, 84 or +84")
    # Prefix before length, so that a landline (02x, one digit longer than a mobile)
    # is reported as "not a mobile" rather than as a length error.
    if not national or national[0] not in _MOBILE_LEADING_DIGITS:
        raise InvalidIdentifier("phone", "phone_not_vn_mobile", "only Vietnamese mobile numbers are accepted")
    if len(national) != 9:
        raise InvalidIdentifier("phone", "phone_length", "Vietnamese mobile numbers have 9 digits after 0 or +84")
    return "+84" + national


def is_vn_mobile_e164(value: str) -> bool:
    """Already normalised to E.164 and a Vietnamese mobile number (what may receive an SMS)."""
    return _E164_VN_MOBILE_RE.fullmatch(value) is not None


def mask_phone(e164: str) -> str:
    """Mask a normalised mobile number for logs, keeping the country code and last 3 digits.

    Raises rather than guessing on anything that is not the output of normalize_vn_mobile:
    a lenient mask could leak an unexpected format unmasked into the logs.
    """
    if not _E164_VN_MOBILE_RE.fullmatch(e164):
        raise InvalidIdentifier("phone", "phone_format", "expected a normalised +84 mobile number to mask")
    return "+84" + "*" * 6 + e164[-3:]


def parse_facility_code(raw: str) -> str:
    """Validate a facility code (MA_CSKCB): 5 ASCII letters or digits, upper-cased."""
    value = raw.strip()
    if not value.isascii() or not _FACILITY_RE.fullmatch(value.upper()):
        raise InvalidIdentifier(
            "facility_code",
            "facility_code_format",
            "facility code must be 5 ASCII letters or digits",
        )
    return value.upper()
