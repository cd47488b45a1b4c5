"""The XML 130 parser on synthetic files: envelope, lenient formats, and every way a hostile file is refused."""

from __future__ import annotations

import base64
import datetime as dt

import pytest

from core.errors import BadRequest, DomainError, Invalid
from core.interop.episode import ParseWarning
from core.interop.safexml import read_xml
from core.interop.xml130 import MAX_FILE_BYTES, parse_episode, parse_moment, table_name
from core.outbox import VN_TZ
from tests.core.interop.xml130_builder import envelope, episode_file, table_xml

XML1 = {
    "MA_LK": "LK-1",
    "HO_TEN": "Người Thử",
    "SO_CCCD": "051068001234",
    "NGAY_SINH": "19680412",
    "GIOI_TINH": "1",
    "MA_THE_BHYT": "GD4515101234567",
    "MA_CSKCB": "51001",
    "NGAY_VAO": "202611200800",
    "MA_BENH_CHINH": "I10",
    "MA_BENH_KT": "E78.5; E11.9",
}
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">]>
<GIAMDINHHS>&lol2;</GIAMDINHHS>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE GIAMDINHHS [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><GIAMDINHHS>&xxe;</GIAMDINHHS>"""
PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE GIAMDINHHS [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/x.dtd"> %remote;]><GIAMDINHHS/>"""


def refusal(data: bytes) -> DomainError:
    with pytest.raises(DomainError) as raised:
        parse_episode(data)
    return raised.value


def test_a_full_envelope_is_read_into_typed_parts() -> None:
    data = episode_file(
        {
            "XML1": [XML1 | {"CHAN_DOAN_RV": "Tăng huyết áp <độ 2> & rối loạn lipid"}],
            "XML2": [{"STT": "1", "TEN_THUOC": "Amlodipin", "NGAY_YL": "202611200900", "MA_BENH": "I10"}],
            "XML4": [{"STT": "1", "TEN_CHI_SO": "Glucose", "GIA_TRI": "5.6", "DON_VI_DO": "mmol/L"}],
            "XML14": [{"NGAY_HEN_KL": "20261215", "MA_BENH_CHINH": "I10"}],
        }
    )
    episode = parse_episode(data)
    s = episode.summary
    assert (s.ma_lk, s.facility_code, s.main_icd10, s.secondary_icd10) == ("LK-1", "51001", "I10", ["E78.5", "E11.9"])
    assert s.texts["CHAN_DOAN_RV"] == "Tăng huyết áp <độ 2> & rối loạn lipid"  # CDATA, markup characters intact
    assert s.admitted_at == dt.datetime(2026, 11, 20, 8, 0, tzinfo=VN_TZ)
    assert (s.patient.cccd, s.patient.date_of_birth, s.patient.sex) == ("051068001234", dt.date(1968, 4, 12), "male")
    assert [m.name for m in episode.medications] == ["Amlodipin"]
    assert episode.medications[0].icd10 == ["I10"]
    assert [(lab.name, lab.value, lab.unit) for lab in episode.lab_results] == [("Glucose", "5.6", "mmol/L")]
    assert [a.on for a in episode.follow_ups] == [dt.date(2026, 12, 15)]
    assert episode.tables == ["XML1", "XML2", "XML4", "XML14"]
    assert episode.warnings == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("202611200830", dt.datetime(2026, 11, 20, 8, 30)),
        ("20261120083015", dt.datetime(2026, 11, 20, 8, 30, 15)),
        ("20261120", dt.datetime(2026, 11, 20)),
        ("196804120000", dt.datetime(1968, 4, 12)),  # NGAY_SINH as yyyyMMdd0000
        ("2026-11-20 08:30", dt.datetime(2026, 11, 20, 8, 30)),
        ("20261320", None),  # month 13
        ("20260230", None),  # 30 February
        ("2026112", None),
        ("hôm nay", None),
        ("", None),
    ],
)
def test_dates_are_read_leniently_in_local_time(raw: str, expected: dt.datetime | None) -> None:
    assert parse_moment(raw) == (expected.replace(tzinfo=VN_TZ) if expected else None)


@pytest.mark.parametrize(
    ("fields", "check"),
    [
        ({"GIOI_TINH": "2"}, lambda e: e.summary.patient.sex == "female"),
        ({"GIOI_TINH": "3"}, lambda e: e.summary.patient.sex == "undetermined"),
        ({"NGAY_SINH": "196804120000"}, lambda e: e.summary.patient.date_of_birth == dt.date(1968, 4, 12)),
        (
            {"MA_THE_BHYT": "HT3515101234567; gd4515101234567"},
            lambda e: e.summary.patient.bhyt_cards == ["HT3515101234567", "GD4515101234567"],
        ),
        ({"MA_BENH_KEM": "J45"}, lambda e: e.summary.secondary_icd10 == ["E78.5", "E11.9"]),  # the current name wins
        ({"PP_DIEUTRI": "Nội khoa"}, lambda e: e.summary.texts["PP_DIEU_TRI"] == "Nội khoa"),  # older spelling
        ({"SO_CCCD": ""}, lambda e: e.summary.patient.cccd is None and e.warnings == []),
    ],
)
def test_lenient_fields(fields: dict[str, str], check: object) -> None:
    episode = parse_episode(episode_file({"XML1": [XML1 | fields]}))
    assert check(episode)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("fields", "warning"),
    [
        ({"GIOI_TINH": "X"}, ParseWarning("unreadable_sex", "XML1.GIOI_TINH")),
        ({"SO_CCCD": "12345"}, ParseWarning("unreadable_cccd", "XML1.SO_CCCD")),
        ({"MA_THE_BHYT": "GD4515101234567;ABC"}, ParseWarning("unreadable_card", "XML1.MA_THE_BHYT")),
        ({"NGAY_RA": "20261340"}, ParseWarning("unreadable_date", "XML1.NGAY_RA")),
        ({"SO_NGAY_DTRI": "ba"}, ParseWarning("unreadable_number", "XML1.SO_NGAY_DTRI")),
    ],
)
def test_what_cannot_be_read_is_a_warning_naming_the_field_not_the_value(
    fields: dict[str, str], warning: ParseWarning
) -> None:
    episode = parse_episode(episode_file({"XML1": [XML1 | fields]}))
    assert episode.warnings == [warning]


def test_xml6_is_recognised_by_its_name_and_never_decoded() -> None:
    """Its content is not even base64 here: were it decoded, the file would be refused."""
    files = [("XML1", table_xml("XML1", [XML1])), ("XML6", b"\x00 not base64 at all \xff")]
    raw = envelope(files).replace(base64.encodebytes(b"\x00 not base64 at all \xff").decode().encode(), b"@@@!!")
    episode = parse_episode(raw)
    assert episode.xml6_present
    assert episode.tables == ["XML1", "XML6"]


def test_records_of_another_episode_and_unknown_tables_are_dropped_with_warnings() -> None:
    data = episode_file(
        {
            "XML1": [XML1],
            "XML2": [{"TEN_THUOC": "Amlodipin"}, {"MA_LK": "LK-OTHER", "TEN_THUOC": "Metformin"}],
            "XML0": [{"NGAY_VAO": "202611200800"}],
        }
    )
    episode = parse_episode(data)
    assert [m.name for m in episode.medications] == ["Amlodipin"]
    assert episode.warnings == [ParseWarning("other_episode_record", "XML2"), ParseWarning("table_ignored", "XML0")]


@pytest.mark.parametrize(("raw", "name"), [("xml1", "XML1"), ("XML01", "XML1"), (" XML15 ", "XML15"), ("ABC", "ABC")])
def test_table_names(raw: str, name: str) -> None:
    assert table_name(raw) == name


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (BILLION_LAUGHS, "xml_dtd_forbidden"),
        (EXTERNAL_ENTITY, "xml_dtd_forbidden"),
        (PARAMETER_ENTITY, "xml_dtd_forbidden"),
        (b"<GIAMDINHHS>&undefined;</GIAMDINHHS>", "xml_malformed"),
        (b"<GIAMDINHHS><HOSO></GIAMDINHHS>", "xml_malformed"),
        (b"", "xml_malformed"),
        (b"\xff\xfe\x00garbage", "xml_malformed"),
        (b"<a>" * 150 + b"</a>" * 150, "xml_too_deep"),
        (b"<GIAMDINHHS/>", "not_xml130"),
    ],
)
def test_hostile_or_broken_envelopes_are_refused(data: bytes, code: str) -> None:
    assert refusal(data).code == code


def test_a_hostile_table_inside_a_valid_envelope_is_refused_too() -> None:
    data = envelope([("XML1", table_xml("XML1", [XML1])), ("XML2", BILLION_LAUGHS)])
    error = refusal(data)
    assert (error.code, error.field) == ("xml_dtd_forbidden", "XML2")


ONE_XML1 = envelope([("XML1", table_xml("XML1", [XML1]))])
NO_FACILITY = envelope([("XML1", table_xml("XML1", [XML1 | {"MA_CSKCB": "?"}]))], facility="bad")
NO_DATES = envelope([("XML1", table_xml("XML1", [XML1 | {"NGAY_VAO": ""}]))])


@pytest.mark.parametrize(
    ("data", "kind", "code"),
    [
        (envelope([("XML1", b"not-xml")]), BadRequest, "xml_malformed"),
        (envelope([("XML2", table_xml("XML2", [{"TEN_THUOC": "x"}]))]), Invalid, "xml1_missing"),
        (NO_FACILITY, Invalid, "facility_code_invalid"),
        (NO_DATES, Invalid, "episode_dates_missing"),
        (ONE_XML1.replace(b"<HOSO>", b"<HOSO></HOSO><HOSO>"), Invalid, "several_episodes"),
    ],
)
def test_wrong_structures_are_refused_with_a_code(data: bytes, kind: type[DomainError], code: str) -> None:
    error = refusal(data)
    assert isinstance(error, kind)
    assert error.code == code


def test_content_that_is_not_base64_is_a_bad_request() -> None:
    data = envelope([("XML1", table_xml("XML1", [XML1]))]).replace(b"<NOIDUNGFILE>", b"<NOIDUNGFILE>%%%")
    assert refusal(data).code == "table_not_base64"


def test_size_and_element_limits() -> None:
    assert refusal(b" " * (MAX_FILE_BYTES + 1)).code == "file_too_large"
    with pytest.raises(BadRequest) as raised:
        read_xml(b"<r>" + b"<a/>" * 50 + b"</r>", where="t", max_elements=40)
    assert raised.value.code == "xml_too_many_elements"


def test_refusals_never_echo_the_document() -> None:
    secret = b"051068001234"
    error = refusal(b"<GIAMDINHHS><X>" + secret + b"</Y></GIAMDINHHS>")
    assert secret.decode() not in f"{error.detail} {error.field} {error}"
