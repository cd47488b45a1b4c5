"""The synthetic XML 130 samples of ``samples/xml130/``: made-up people, valid structure, each with its expected report.

``python samples/xml130/generate.py`` writes them; ``tests/core/interop/test_samples.py`` checks the files are what
this module builds and that importing each gives its expected report. The expectations are written by hand from
shared/domain/exclusion.md, not recorded from a run.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.core.interop.xml130_builder import Fields, episode_file

SAMPLES_DIR = Path(__file__).resolve().parents[3] / "samples" / "xml130"
HOSPITAL = "51001"  # Bệnh viện Đa khoa tỉnh (made up)
NOW = dt.datetime(2026, 11, 24, 2, 0, tzinfo=dt.UTC)  # 09:00 in Quảng Ngãi, the day after the episodes


@dataclass(frozen=True)
class Person:
    key: str
    full_name: str
    sex: str  # male / female
    date_of_birth: dt.date
    cccd: str | None
    bhxh: str | None
    has_account: bool = False


# Who the test world holds. "stranger" is deliberately absent: their episode waits for a station.
PEOPLE = [
    Person("an", "Nguyễn Văn An", "male", dt.date(1968, 4, 12), "051068001234", "5101234567", has_account=True),
    Person("binh", "Trần Thị Bình", "female", dt.date(1955, 9, 30), None, "5109876543"),
    Person("hai", "Bùi Văn Hải", "male", dt.date(1982, 2, 3), "051082005555", None),
    Person("cuong", "Lê Văn Cường", "male", dt.date(1990, 7, 21), "051090004321", None),
    Person("khoa", "Đinh Văn Khoa", "male", dt.date(1985, 12, 1), "051085006666", None),
    Person("dung", "Phạm Thị Dung", "female", dt.date(1988, 3, 8), "051188002468", None),
    Person("em", "Hoàng Văn Em", "male", dt.date(1979, 5, 17), "051079003579", None),
    Person("hoa", "Võ Thị Hoa", "female", dt.date(1995, 1, 25), "051195001122", None),
    Person("khang", "Võ Minh Khang", "male", dt.date(2026, 11, 10), None, "5100000111"),
]
STRANGER_COMMUNE = "21010"


def header(ma_lk: str, who: str, main: str, secondary: str = "", **extra: str) -> dict[str, str]:
    """XML1 for one of PEOPLE (or the stranger): identity, dates, diagnoses, then any field given."""
    person = next((p for p in PEOPLE if p.key == who), None)
    identity = {
        "MA_BN": f"BN-{ma_lk[-4:]}",
        "HO_TEN": person.full_name if person else "Đặng Văn Giàu",
        "SO_CCCD": (person.cccd or "") if person else "051075009999",
        "NGAY_SINH": person.date_of_birth.strftime("%Y%m%d") if person else "19750606",
        "GIOI_TINH": "2" if person and person.sex == "female" else "1",
        "MA_THE_BHYT": f"GD451{person.bhxh}" if person and person.bhxh else "",
        "MAXA_CU_TRU": STRANGER_COMMUNE,
        "DIA_CHI": "Thôn 2, xã Nghĩa Hà, tỉnh Quảng Ngãi",
        "DIEN_THOAI": "0905123456",
    }
    return {
        "MA_LK": ma_lk,
        **identity,
        "MA_BENH_CHINH": main,
        "MA_BENH_KT": secondary,
        "MA_LOAI_KCB": "01",
        "MA_KHOA": "K02",
        "MA_CSKCB": HOSPITAL,
        "NGAY_VAO": "202611200800",
        "NGAY_RA": "202611201030",
        "SO_NGAY_DTRI": "1",
        "KET_QUA_DTRI": "2",
        "MA_LOAI_RV": "1",
        **extra,
    }


def drug(stt: str, name: str, strength: str, icd: str = "", **extra: str) -> dict[str, str]:
    return {
        "STT": stt,
        "MA_THUOC": f"40.{stt}00",
        "TEN_THUOC": name,
        "DON_VI_TINH": "Viên",
        "HAM_LUONG": strength,
        "DUONG_DUNG": "Uống",
        "LIEU_DUNG": "Ngày 1 lần, mỗi lần 1 viên",
        "SO_LUONG": "30",
        "NGAY_YL": "202611200900",
        "MA_BENH": icd,
        **extra,
    }


def service(stt: str, code: str, name: str, icd: str = "") -> dict[str, str]:
    return {"STT": stt, "MA_DICH_VU": code, "TEN_DICH_VU": name, "MA_BENH": icd, "NGAY_YL": "202611200815"}


def lab(stt: str, code: str, name: str, value: str, unit: str, **extra: str) -> dict[str, str]:
    return {
        "STT": stt,
        "MA_DICH_VU": code,
        "MA_CHI_SO": name[:6].upper(),
        "TEN_CHI_SO": name,
        "GIA_TRI": value,
        "DON_VI_DO": unit,
        "NGAY_KQ": "202611200930",
        **extra,
    }


def follow_up(on: str, main: str, secondary: str = "") -> dict[str, str]:
    return {
        "SO_GIAYHEN_KL": "GH-01",
        "MA_CSKCB": HOSPITAL,
        "NGAY_HEN_KL": on,
        "CHAN_DOAN_RV": "Tái khám theo hẹn",
        "MA_BENH_CHINH": main,
        "MA_BENH_KT": secondary,
    }


def imported(by: str, **kept: int) -> dict[str, Any]:
    counts = dict.fromkeys(
        ("diagnoses", "medications", "services", "lab_results", "texts", "papers", "reminders", "birth_records"), 0
    )
    return {"status": "imported", "matched_by": by, "kept": counts | kept}


def excluded(*lines: tuple[str, str, int]) -> list[dict[str, Any]]:
    return [{"rule_id": rule, "field": where, "count": n} for rule, where, n in lines]


HIV = "icd.hiv.B20-B24"
BASIC_TEXTS = {"LY_DO_VV": "Khám bệnh", "CHAN_DOAN_VAO": "Theo dõi", "CHAN_DOAN_RV": "Như chẩn đoán chính"}
TB_RECORD = {
    "STT": "1",
    "PHANLOAI_LAO_VITRI": "1",
    "PHANLOAI_LAO_TS": "1",
    "PHANLOAI_LAO_HIV": "1",
    "PHANLOAI_LAO_VK": "1",
    "PHANLOAI_LAO_KT": "1",
    "LOAI_DTRI_LAO": "1",
    "NGAYBD_DTRI_LAO": "20261101",
    "PHACDO_DTRI_LAO": "2RHZE/4RHE",
    "MA_CSKCB": HOSPITAL,
    "NGAYKD_HIV": "20260215",
    "BDDT_ARV": "20260301",
    "NGAY_BAT_DAU_DT_CTX": "20260301",
}

# name → (tables, expected report). The expected report lists what the hospital should read back.
SAMPLES: dict[str, tuple[dict[str, list[Fields]], dict[str, Any]]] = {
    "01_tang_huyet_ap_ngoai_tru": (
        {
            "XML1": [
                header(
                    "BV51001-2611-0101",
                    "an",
                    "I10",
                    "E78.5",
                    LY_DO_VV="Đau đầu, chóng mặt",
                    CHAN_DOAN_VAO="Tăng huyết áp",
                    CHAN_DOAN_RV="Tăng huyết áp vô căn (I10); rối loạn chuyển hóa lipid (E78.5)",
                    PP_DIEU_TRI="Điều trị nội khoa, tư vấn giảm muối",
                    GHI_CHU="Tái khám sau 3 tuần",
                    NGAY_TAI_KHAM="20261215",
                )
            ],
            "XML2": [drug("1", "Amlodipin", "5mg", "I10"), drug("2", "Atorvastatin", "10mg", "E78.5")],
            "XML3": [
                service("1", "02.1896", "Khám Nội"),
                service("2", "23.0075.1494", "Định lượng Glucose [Máu]"),
                service("3", "23.0041.1506", "Định lượng Cholesterol toàn phần"),
            ],
            "XML4": [
                lab("1", "23.0075.1494", "Glucose", "5.6", "mmol/L"),
                lab("2", "23.0041.1506", "Cholesterol toàn phần", "6.2", "mmol/L", KET_LUAN="Tăng"),
            ],
            "XML14": [follow_up("20261215", "I10", "E78.5")],
        },
        imported("cccd", diagnoses=2, medications=2, services=3, lab_results=2, texts=5, papers=1, reminders=1)
        | {"excluded": [], "warnings": []},
    ),
    "02_viem_phoi_noi_tru": (
        {
            "XML1": [
                header(
                    "BV51001-2611-0102",
                    "binh",
                    "J18.9",
                    "I10;E11.9",
                    NGAY_SINH="195509300000",  # yyyyMMdd0000, as some exporters write it
                    MA_THE_BHYT="HT3515109876543;GD4515109876543",  # two cards, one BHXH number
                    MA_LOAI_KCB="03",
                    NGAY_VAO="20261105143000",  # with seconds
                    NGAY_RA="202611121000",
                    SO_NGAY_DTRI="8",
                    LY_DO_VV="Sốt, ho khạc đờm 5 ngày",
                    CHAN_DOAN_VAO="Viêm phổi",
                    CHAN_DOAN_RV="Viêm phổi thùy dưới phổi phải",
                    PP_DIEU_TRI="Kháng sinh tĩnh mạch, thở oxy",
                )
            ],
            "XML2": [
                drug("1", "Ceftriaxon", "1g", "J18.9", DUONG_DUNG="Tiêm tĩnh mạch"),
                drug("2", "Paracetamol", "500mg", "J18.9"),
                drug("3", "Metformin", "500mg", "E11.9"),
            ],
            "XML3": [
                service("1", "18.0119.0028", "Chụp X-quang ngực thẳng"),
                service("2", "22.0121.1370", "Tổng phân tích tế bào máu ngoại vi"),
            ],
            "XML4": [
                lab("1", "22.0121.1370", "Số lượng bạch cầu", "14.2", "G/L"),
                lab("2", "22.0121.1370", "CRP", "48", "mg/L"),
            ],
            "XML5": [
                {"STT": "1", "DIEN_BIEN_LS": "Sốt 38.5 độ, ran nổ đáy phổi phải", "THOI_DIEM_DBLS": "202611051500"},
                {"STT": "2", "DIEN_BIEN_LS": "Hết sốt, ăn uống được", "THOI_DIEM_DBLS": "202611100800"},
            ],
            "XML7": [
                {
                    "CHAN_DOAN_RV": "Viêm phổi thùy dưới phổi phải",
                    "PP_DIEUTRI": "Kháng sinh, hạ sốt",  # the older spelling of PP_DIEU_TRI
                    "GHI_CHU": "Ra viện, uống thuốc tiếp 5 ngày",
                }
            ],
            "XML8": [
                {
                    "CHAN_DOAN_VAO": "Viêm phổi",
                    "CHAN_DOAN_RV": "Viêm phổi thùy dưới phổi phải; tăng huyết áp; đái tháo đường típ 2",
                    "QT_BENHLY": "Sốt, ho 5 ngày trước vào viện",
                    "TOMTAT_KQ": "X-quang: đám mờ thùy dưới phổi phải",
                    "PP_DIEUTRI": "Kháng sinh, thở oxy",
                    "KET_QUA_DTRI": "2",
                }
            ],
        },
        imported("bhxh", diagnoses=3, medications=3, services=2, lab_results=2, texts=12)
        | {"excluded": [], "warnings": []},
    ),
    "03_hiv_chan_doan_chinh": (
        {
            "XML1": [header("BV51001-2611-0103", "hai", "B20", "J18.9", **BASIC_TEXTS)],
            "XML2": [drug("1", "Dolutegravir", "50mg"), drug("2", "Paracetamol", "500mg")],
        },
        {
            "status": "quarantined",
            "matched_by": None,
            "kept": {},
            "excluded": excluded((HIV, "XML1.MA_BENH_CHINH", 1), ("med.arv.dolutegravir", "XML2.TEN_THUOC", 1)),
            "warnings": [],
        },
    ),
    "04_hiv_ma_benh_kem_theo": (
        {
            "XML1": [header("BV51001-2611-0104", "cuong", "J20.9", "R50.9;B24", **BASIC_TEXTS)],
            "XML2": [
                drug("1", "Paracetamol", "500mg", "J20.9;B24"),
                drug("2", "Amoxicilin", "500mg", "J20.9"),
                drug("3", "Cotrimoxazol", "480mg"),  # in HIV context: dropped
            ],
            "XML3": [service("1", "02.1896", "Khám Nội", "J20.9;B24")],
            "XML13": [
                {
                    "MA_NOI_DI": HOSPITAL,
                    "MA_NOI_DEN": "51002",
                    "CHAN_DOAN_RV": "Viêm phế quản cấp",
                    "QT_BENHLY": "Ho, sốt 3 ngày",
                    "TOMTAT_KQ": "X-quang bình thường",
                    "HUONG_DIEU_TRI": "Chuyển tuyến theo yêu cầu chuyên môn",
                    "MA_BENH_CHINH": "J20.9",
                    "MA_BENH_KT": "B24",
                }
            ],
            "XML14": [follow_up("20261201", "J20.9", "B24")],
        },
        imported("cccd", diagnoses=2, medications=2, services=1, texts=3, papers=2)
        | {
            "excluded": excluded(
                (HIV, "XML1.MA_BENH_KT", 1),
                (HIV, "XML13.MA_BENH_KT", 1),
                (HIV, "XML14.MA_BENH_KT", 1),
                (HIV, "XML2.MA_BENH", 1),
                (HIV, "XML3.MA_BENH", 1),
                ("med.hiv-context.cotrimoxazole", "XML2.TEN_THUOC", 1),
            ),
            "warnings": [],
        },
    ),
    "05_methadone": (
        {
            "XML1": [header("BV51001-2611-0105", "khoa", "K29.7", "", **BASIC_TEXTS)],
            "XML2": [
                drug("1", "Omeprazol", "20mg", "K29.7", NGAY_YL="2026-13-45"),  # an impossible date: a warning
                drug("2", "Methadone", "10mg/ml", DON_VI_TINH="ml", LIEU_DUNG="Uống tại cơ sở"),
            ],
            "XML11": [{"SO_CT": "01", "SO_NGAY_NGHI": "3"}],  # leave paper: not read
        },
        imported("cccd", diagnoses=1, medications=1, texts=3)
        | {
            "excluded": excluded(("med.oat.methadone", "XML2.TEN_THUOC", 1)),
            "warnings": [
                {"code": "unreadable_date", "field": "XML2.NGAY_YL"},
                {"code": "table_ignored", "field": "XML11"},
            ],
        },
    ),
    "06_tai_luong_hiv": (
        {
            "XML1": [header("BV51001-2611-0106", "cuong", "K76.0", "", **BASIC_TEXTS)],
            "XML3": [
                service("1", "23.0020.1493", "Định lượng ALT"),
                service("2", "23.0019.1493", "Định lượng AST"),
                service("3", "24.0200.1714", "Xét nghiệm sinh học phân tử"),
            ],
            "XML4": [
                lab("1", "23.0020.1493", "ALT", "45", "U/L"),
                lab("2", "23.0019.1493", "AST", "38", "U/L"),
                lab("3", "24.0200.1714", "Tải lượng vi rút HIV", "Dưới ngưỡng phát hiện", "copies/mL"),
            ],
        },
        imported("cccd", diagnoses=1, services=3, lab_results=2, texts=3)
        | {"excluded": excluded(("svc.hiv.viral-load", "XML4.TEN_CHI_SO", 1)), "warnings": []},
    ),
    "07_xml6": (
        {
            "XML1": [header("BV51001-2611-0107", "khoa", "J06.9", "", **BASIC_TEXTS)],
            "XML2": [drug("1", "Paracetamol", "500mg", "J06.9")],
            "XML6": [{"STT": "1", "NGAYKD_HIV": "20250101", "BDDT_ARV": "20250110", "MA_PHAC_DO_DIEU_TRI_BD": "TLD"}],
        },
        {
            "status": "quarantined",
            "matched_by": None,
            "kept": {},
            "excluded": excluded(("his.xml6", "XML6", 1)),
            "warnings": [],
        },
    ),
    "08_lao_xml15": (
        {
            "XML1": [header("BV51001-2611-0108", "dung", "A15.0", "", **BASIC_TEXTS)],
            "XML2": [
                drug("1", "Rifampicin + Isoniazid", "150mg + 75mg", "A15.0"),
                drug("2", "Pyrazinamid", "400mg", "A15.0"),
                drug("3", "Ethambutol", "400mg", "A15.0"),
                drug("4", "Cotrimoxazol", "960mg"),  # XML15's HIV fields make HIV context: dropped
            ],
            "XML15": [TB_RECORD],
        },
        imported("cccd", diagnoses=1, medications=3, texts=3, papers=1)
        | {
            "excluded": excluded(
                ("his.xml15.hiv-field", "XML15.BDDT_ARV", 1),
                ("his.xml15.hiv-field", "XML15.NGAYKD_HIV", 1),
                ("his.xml15.hiv-field", "XML15.NGAY_BAT_DAU_DT_CTX", 1),
                ("his.xml15.hiv-field", "XML15.PHANLOAI_LAO_HIV", 1),
                ("med.hiv-context.cotrimoxazole", "XML2.TEN_THUOC", 1),
            ),
            "warnings": [],
        },
    ),
    "09_tu_vung_van_ban": (
        {
            "XML1": [header("BV51001-2611-0109", "khoa", "K35.8", "", **BASIC_TEXTS)],
            "XML5": [{"STT": "1", "DIEN_BIEN_LS": "Benh nhan dang dieu tri ARV tai tuyen tinh"}],
            "XML8": [{"QT_BENHLY": "Đau hố chậu phải 1 ngày. Tiền sử nghiện ma túy đã cai.", "TOMTAT_KQ": "Siêu âm"}],
        },
        {
            "status": "quarantined",
            "matched_by": None,
            "kept": {},
            "excluded": excluded(
                ("txt.ascii.dieu-tri-arv", "XML5.DIEN_BIEN_LS", 1), ("txt.drug.nghien-ma-tuy", "XML8.QT_BENHLY", 1)
            ),
            "warnings": [],
        },
    ),
    "10_viem_gan_b_tenofovir": (
        {
            "XML1": [header("BV51001-2611-0110", "em", "B18.1", "", **BASIC_TEXTS)],
            "XML2": [drug("1", "Tenofovir disoproxil fumarat", "300mg", "B18.1")],
            "XML3": [
                service("1", "24.0104.1714", "Định lượng HBV DNA"),
                service("2", "24.0117.1714", "HBsAg test nhanh"),
            ],
            "XML4": [
                lab("1", "24.0104.1714", "Tải lượng vi rút viêm gan B", "2100", "IU/mL"),
                lab("2", "24.0117.1714", "HBsAg", "Dương tính", ""),
            ],
            "XML14": [follow_up("20270115", "B18.1")],
        },
        imported("cccd", diagnoses=1, medications=1, services=2, lab_results=2, texts=3, papers=1)
        | {"excluded": [], "warnings": []},
    ),
    "11_chua_xac_dinh": (
        {"XML1": [header("BV51001-2611-0111", "stranger", "S52.5", "", **BASIC_TEXTS)]},
        {"status": "pending_match", "matched_by": None, "kept": {}, "excluded": [], "warnings": []},
    ),
    "12_sinh_con": (
        {
            "XML1": [header("BV51001-2611-0112", "hoa", "O80", "", MA_LOAI_KCB="03", **BASIC_TEXTS)],
            "XML2": [drug("1", "Oxytocin", "5UI", "O80", DON_VI_TINH="Ống", DUONG_DUNG="Tiêm bắp")],
            "XML9": [
                {
                    "MA_BHXH_NND": "5101122334",
                    "HO_TEN_NND": "Võ Thị Hoa",
                    "MA_THE_TAM": "TE1515100000111",
                    "HO_TEN_CON": "Võ Minh Khang",
                    "GIOI_TINH_CON": "1",
                    "SO_CON": "1",
                    "LAN_SINH": "1",
                    "SO_CON_SONG": "1",
                    "CAN_NANG_CON": "3200",
                    "NGAY_SINH_CON": "202611100630",
                    "SINHCON_PHAUTHUAT": "0",
                    "SINHCON_DUOI32TUAN": "0",
                    "GHI_CHU": "Trẻ khỏe",
                }
            ],
        },
        imported("cccd", diagnoses=1, medications=1, texts=3, birth_records=1) | {"excluded": [], "warnings": []},
    ),
}


def sample_bytes(name: str) -> bytes:
    return episode_file(SAMPLES[name][0], facility=HOSPITAL)


def write_samples(directory: Path = SAMPLES_DIR) -> list[Path]:
    """Write every sample and its expected report; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (_tables, expected) in SAMPLES.items():
        xml, report = directory / f"{name}.xml", directory / f"{name}.expected.json"
        xml.write_bytes(sample_bytes(name))
        report.write_text(json.dumps(expected, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        written += [xml, report]
    return written
