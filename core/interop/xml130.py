"""The Ministry of Health's XML 130 episode file (QĐ 130/QĐ-BYT, amended by 4750 and 3176), read into typed parts.

Pure functions (``parse_episode``) from the file's bytes to an ``Episode``; no database, no policy. The envelope
``GIAMDINHHS/THONGTINHOSO/DANHSACHHOSO/HOSO/FILEHOSO`` carries one table per ``FILEHOSO`` (``LOAIHOSO`` names it,
``NOIDUNGFILE`` is the table's XML in base64). Tables XML1-5, 7-9 and 13-15 are read; XML6 (the HIV/AIDS treatment
record) is noted as present and never decoded; the others are listed as ignored.

Lenient where hospitals differ (see shared/domain/his-xml130.md): dates ``yyyyMMddHHmm`` with or without
seconds or separators, ``NGAY_SINH`` as ``yyyyMMdd`` or ``yyyyMMdd0000``, several BHYT cards joined by ``;``, a few
alternative field names across versions. What cannot be read becomes a ``ParseWarning`` naming the table and field,
never the value: warnings end up in import reports.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Iterable, Mapping

from core.errors import BadRequest, Invalid
from core.identifiers import InvalidIdentifier, parse_bhyt_card, parse_cccd, parse_facility_code
from core.interop.episode import (
    Birth,
    Episode,
    FollowUp,
    LabResult,
    Medication,
    ParseWarning,
    Patient,
    Referral,
    Service,
    Sex,
    Summary,
    Texts,
    Tuberculosis,
)
from core.interop.safexml import read_xml
from core.outbox import VN_TZ

MAX_FILE_BYTES = 10 * 1024 * 1024  # exclusion.md: one episode file, 10 MiB
READ_TABLES = frozenset({"XML1", "XML2", "XML3", "XML4", "XML5", "XML7", "XML8", "XML9", "XML13", "XML14", "XML15"})
HIV_TABLE = "XML6"
XML15_HIV_FIELDS = ("PHANLOAI_LAO_HIV", "NGAYKD_HIV", "BDDT_ARV", "NGAY_BAT_DAU_DT_CTX")
_SEX = {"1": "male", "2": "female", "3": "undetermined"}
_TABLE_NAME = re.compile(r"XML0*([0-9]{1,2})")
_CODE_SEPARATORS = re.compile(r"[;,]")


# Narrative fields per table: what the lexicon reads, and (except XML5) what the record keeps.
NARRATIVE_FIELDS: dict[str, tuple[str, ...]] = {
    "XML1": ("LY_DO_VV", "CHAN_DOAN_VAO", "CHAN_DOAN_RV", "PP_DIEU_TRI", "GHI_CHU"),
    "XML5": ("DIEN_BIEN_LS", "GIAI_DOAN_BENH", "HOI_CHAN", "PHAU_THUAT"),
    "XML7": ("CHAN_DOAN_RV", "PP_DIEU_TRI", "GHI_CHU"),
    "XML8": ("CHAN_DOAN_VAO", "CHAN_DOAN_RV", "QT_BENHLY", "TOMTAT_KQ", "PP_DIEU_TRI", "GHI_CHU"),
    "XML13": ("DAU_HIEU_LS", "CHAN_DOAN_RV", "QT_BENHLY", "TOMTAT_KQ", "PP_DIEU_TRI", "HUONG_DIEU_TRI", "GHI_CHU"),
}
XML15_TB_FIELDS = (
    "PHANLOAI_LAO_VITRI",
    "PHANLOAI_LAO_TS",
    "PHANLOAI_LAO_VK",
    "PHANLOAI_LAO_KT",
    "LOAI_DTRI_LAO",
    "PHACDO_DTRI_LAO",
    "NGAYBD_DTRI_LAO",
    "NGAYKT_DTRI_LAO",
    "KET_QUA_DTRI_LAO",
)
# Field names that changed between versions or are spelled both ways in the wild → the name used here.
ALIASES = {"PP_DIEUTRI": "PP_DIEU_TRI", "MA_BENH_KEM": "MA_BENH_KT", "PHANLOAI_LAO_VI_TRI": "PHANLOAI_LAO_VITRI"}


class _Fields:
    """One record's leaves with lenient readers that note what they could not use."""

    def __init__(self, table: str, raw: Mapping[str, str], warnings: list[ParseWarning]) -> None:
        self.table = table
        self.raw: dict[str, str] = {}
        for key, value in raw.items():
            name = ALIASES.get(key, key)
            if name == key or name not in self.raw:  # the current spelling wins over an old one
                self.raw[name] = value
        self.warnings = warnings

    def warn(self, code: str, name: str) -> None:
        self.warnings.append(ParseWarning(code, f"{self.table}.{name}"))

    def text(self, name: str) -> str | None:
        value = self.raw.get(name, "").strip()
        return value or None

    def texts(self, names: Iterable[str]) -> dict[str, str]:
        return {name: value for name in names if (value := self.text(name)) is not None}

    def integer(self, name: str) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            return int(float(value.replace(",", ".")))
        except ValueError:
            self.warn("unreadable_number", name)
            return None

    def moment(self, name: str) -> dt.datetime | None:
        value = self.text(name)
        if value is None:
            return None
        parsed = parse_moment(value)
        if parsed is None:
            self.warn("unreadable_date", name)
        return parsed

    def day(self, name: str) -> dt.date | None:
        moment = self.moment(name)
        return None if moment is None else moment.astimezone(VN_TZ).date()

    def sex(self, name: str) -> Sex | None:
        value = self.text(name)
        if value is None:
            return None
        if value not in _SEX:
            self.warn("unreadable_sex", name)
            return None
        return _SEX[value]  # type: ignore[return-value]

    def flag(self, name: str) -> bool | None:
        value = self.integer(name)
        return None if value is None else value == 1

    def codes(self, name: str) -> list[str]:
        """An ICD-10 list ("I10;E11.9"); each code stripped, empties dropped."""
        return [code.strip() for code in _CODE_SEPARATORS.split(self.text(name) or "") if code.strip()]


def parse_moment(value: str) -> dt.datetime | None:
    """``yyyyMMddHHmm`` (also with seconds, or a bare ``yyyyMMdd``), local time → aware datetime; None if unreadable.

    Separators are ignored, so ``2026-11-02 08:30`` reads too. ``NGAY_SINH`` comes as ``yyyyMMdd0000``: midnight.
    """
    digits = re.sub(r"[\s\-/:T.]", "", value)
    if not digits.isdigit() or len(digits) not in (8, 12, 14):
        return None
    hour, minute, second = ([int(digits[i : i + 2]) for i in range(8, len(digits), 2)] + [0, 0, 0])[:3]
    try:
        return dt.datetime(int(digits[:4]), int(digits[4:6]), int(digits[6:8]), hour, minute, second, tzinfo=VN_TZ)
    except ValueError:  # month 13, 30 February, hour 25
        return None


def _cards(fields: _Fields, name: str) -> list[str]:
    cards: list[str] = []
    for raw in re.split(r"[;,\s]+", fields.text(name) or ""):
        if not raw:
            continue
        try:
            cards.append(parse_bhyt_card(raw).value)
        except InvalidIdentifier:
            fields.warn("unreadable_card", name)
    return list(dict.fromkeys(cards))


def _patient(f: _Fields) -> Patient:
    cccd = f.text("SO_CCCD")
    if cccd is not None:
        try:
            cccd = parse_cccd(cccd).value
        except InvalidIdentifier:
            f.warn("unreadable_cccd", "SO_CCCD")
            cccd = None
    return Patient(
        full_name=f.text("HO_TEN"),
        cccd=cccd,
        date_of_birth=f.day("NGAY_SINH"),
        sex=f.sex("GIOI_TINH"),
        bhyt_cards=_cards(f, "MA_THE_BHYT"),
        commune_code=f.text("MAXA_CU_TRU"),
    )


def _summary(f: _Fields, envelope_facility: str | None) -> Summary:
    ma_lk = f.text("MA_LK")
    if ma_lk is None or len(ma_lk) > 100:
        raise Invalid("XML1 has no usable MA_LK", code="ma_lk_missing", field="XML1.MA_LK")
    try:
        facility = parse_facility_code(f.text("MA_CSKCB") or envelope_facility or "")
    except InvalidIdentifier:
        raise Invalid("XML1 has no valid MA_CSKCB", code="facility_code_invalid", field="XML1.MA_CSKCB") from None
    summary = Summary(
        ma_lk=ma_lk,
        facility_code=facility,
        patient=_patient(f),
        kind=f.text("MA_LOAI_KCB"),
        department=f.text("MA_KHOA"),
        admitted_at=f.moment("NGAY_VAO"),
        discharged_at=f.moment("NGAY_RA"),
        treatment_days=f.integer("SO_NGAY_DTRI"),
        outcome=f.text("KET_QUA_DTRI"),
        discharge_type=f.text("MA_LOAI_RV"),
        main_icd10=f.text("MA_BENH_CHINH"),
        secondary_icd10=f.codes("MA_BENH_KT"),
        texts=f.texts(NARRATIVE_FIELDS["XML1"]),
    )
    if summary.admitted_at is None and summary.discharged_at is None:
        raise Invalid("XML1 has neither NGAY_VAO nor NGAY_RA", code="episode_dates_missing", field="XML1.NGAY_VAO")
    return summary


def _medication(f: _Fields) -> Medication:
    return Medication(
        line=f.integer("STT"),
        code=f.text("MA_THUOC"),
        name=f.text("TEN_THUOC") or "",
        unit=f.text("DON_VI_TINH"),
        strength=f.text("HAM_LUONG"),
        route=f.text("DUONG_DUNG"),
        dosage=f.text("LIEU_DUNG"),
        usage=f.text("CACH_DUNG"),
        quantity=f.text("SO_LUONG"),
        ordered_at=f.moment("NGAY_YL"),
        icd10=f.codes("MA_BENH"),
    )


def _service(f: _Fields) -> Service:
    return Service(
        line=f.integer("STT"),
        code=f.text("MA_DICH_VU") or f.text("MA_VAT_TU"),
        name=f.text("TEN_DICH_VU") or f.text("TEN_VAT_TU") or "",
        result=f.text("KET_QUA"),
        ordered_at=f.moment("NGAY_YL"),
        result_at=f.moment("NGAY_KQ"),
        icd10=f.codes("MA_BENH"),
    )


def _lab(f: _Fields) -> LabResult:
    return LabResult(
        line=f.integer("STT"),
        service_code=f.text("MA_DICH_VU"),
        indicator_code=f.text("MA_CHI_SO"),
        name=f.text("TEN_CHI_SO") or "",
        value=f.text("GIA_TRI"),
        unit=f.text("DON_VI_DO"),
        description=f.text("MO_TA"),
        conclusion=f.text("KET_LUAN"),
        result_at=f.moment("NGAY_KQ"),
    )


def _birth(f: _Fields) -> Birth:
    cards = _cards(f, "MA_THE_TAM")
    return Birth(
        child_card=cards[0] if cards else None,
        child_sex=f.sex("GIOI_TINH_CON"),
        born_on=f.day("NGAY_SINH_CON"),
        weight_g=f.integer("CAN_NANG_CON"),
        caesarean=f.flag("SINHCON_PHAUTHUAT"),
        under_32_weeks=f.flag("SINHCON_DUOI32TUAN"),
        note=f.text("GHI_CHU"),
    )


def _referral(f: _Fields) -> Referral:
    return Referral(
        from_facility=f.text("MA_NOI_DI"),
        to_facility=f.text("MA_NOI_DEN"),
        texts=f.texts(NARRATIVE_FIELDS["XML13"]),
        main_icd10=f.text("MA_BENH_CHINH"),
        secondary_icd10=f.codes("MA_BENH_KT"),
    )


def _follow_up(f: _Fields) -> FollowUp:
    return FollowUp(
        facility_code=f.text("MA_CSKCB"),
        on=f.day("NGAY_HEN_KL"),
        diagnosis=f.text("CHAN_DOAN_RV"),
        main_icd10=f.text("MA_BENH_CHINH"),
        secondary_icd10=f.codes("MA_BENH_KT"),
    )


def _tuberculosis(f: _Fields) -> Tuberculosis:
    return Tuberculosis(fields=f.texts(XML15_TB_FIELDS), sensitive=f.texts(XML15_HIV_FIELDS))


def table_name(raw: str) -> str:
    """``xml1``, ``XML01`` → ``XML1``; anything else upper-cased as given."""
    value = raw.strip().upper()
    match = _TABLE_NAME.fullmatch(value)
    return f"XML{int(match.group(1))}" if match else value


def _decode(content: str | None, table: str) -> bytes:
    if not content:
        raise Invalid(f"{table} has no NOIDUNGFILE", code="table_content_missing", field=table)
    try:
        return base64.b64decode("".join(content.split()), validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"{table} NOIDUNGFILE is not base64", code="table_not_base64", field=table) from None


def _unpack(data: bytes) -> tuple[dict[str, list[dict[str, str]]], list[str], bool, str | None]:
    """The envelope → ({table: [record fields]}, table order, XML6 present, envelope facility code)."""
    if len(data) > MAX_FILE_BYTES:
        raise BadRequest("episode file larger than 10 MiB", code="file_too_large")
    envelope = read_xml(data, where="envelope")
    files = [record.fields for record in envelope.records if record.tag.upper() == "FILEHOSO"]
    if not files:
        raise Invalid("not an XML 130 envelope (no FILEHOSO)", code="not_xml130", field="envelope")
    if envelope.counts["HOSO"] > 1:
        raise Invalid("one episode (HOSO) per file", code="several_episodes", field="envelope")
    facility = next((r.fields["MACSKCB"] for r in envelope.records if r.fields.get("MACSKCB")), None)
    tables: dict[str, list[dict[str, str]]] = {}
    order: list[str] = []
    xml6 = False
    for file in files:
        table = table_name(file.get("LOAIHOSO", ""))
        order.append(table)
        if table == HIV_TABLE:
            xml6 = True  # recognised by its name alone: its content is never decoded
            continue
        if table not in READ_TABLES:
            continue
        document = read_xml(_decode(file.get("NOIDUNGFILE"), table), where=table)
        tables.setdefault(table, []).extend(record.fields for record in document.records)
    return tables, order, xml6, facility


def parse_episode(data: bytes) -> Episode:
    """One XML 130 file → an ``Episode``; ``BadRequest`` for unreadable XML, ``Invalid`` for a wrong structure."""
    tables, order, xml6, envelope_facility = _unpack(data)
    warnings: list[ParseWarning] = []
    headers = [record for record in tables.get("XML1", []) if record.get("MA_LK", "").strip()]
    if len(headers) != 1:
        code = "xml1_missing" if not headers else "several_xml1"
        raise Invalid("an episode needs exactly one XML1 record", code=code, field="XML1")
    summary = _summary(_Fields("XML1", headers[0], warnings), envelope_facility)

    def records(table: str) -> list[_Fields]:
        """The table's records of this episode: other MA_LKs are dropped with a warning."""
        kept: list[_Fields] = []
        for raw in tables.get(table, []):
            ma_lk = raw.get("MA_LK", "").strip()
            if ma_lk and ma_lk != summary.ma_lk:
                warnings.append(ParseWarning("other_episode_record", table))
                continue
            kept.append(_Fields(table, raw, warnings))
        return kept

    medications = [_medication(f) for f in records("XML2")]
    services = [_service(f) for f in records("XML3")]
    lab_results = [_lab(f) for f in records("XML4")]
    narratives = [
        Texts(table=table, texts=texts, at=f.moment("THOI_DIEM_DBLS") if table == "XML5" else None)
        for table in ("XML5", "XML7", "XML8")
        for f in records(table)
        if (texts := f.texts(NARRATIVE_FIELDS[table]))
    ]
    births = [_birth(f) for f in records("XML9")]
    referrals = [_referral(f) for f in records("XML13")]
    follow_ups = [_follow_up(f) for f in records("XML14")]
    tuberculosis = [_tuberculosis(f) for f in records("XML15")]
    ignored = sorted({t for t in order if t not in READ_TABLES and t != HIV_TABLE})
    warnings += [ParseWarning("table_ignored", table) for table in ignored]
    return Episode(
        summary=summary,
        medications=medications,
        services=services,
        lab_results=lab_results,
        narratives=narratives,
        births=births,
        referrals=referrals,
        follow_ups=follow_ups,
        tuberculosis=tuberculosis,
        xml6_present=xml6,
        tables=list(dict.fromkeys(order)),
        warnings=warnings,
    )
