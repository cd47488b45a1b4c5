"""The exclusion filter of an episode, step by step (shared/domain/exclusion.md is the rule)."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from core.interop.episode import (
    Episode,
    FollowUp,
    LabResult,
    Medication,
    Patient,
    Referral,
    Service,
    Summary,
    Texts,
    Tuberculosis,
)
from core.interop.screening import RULE_XML15_HIV, Screened, screen

BENIGN = [line for line in (Path(__file__).parents[1] / "records/benign_notes_vi.txt").read_text().splitlines() if line]


def episode(**parts: object) -> Episode:
    summary = Summary(ma_lk="LK", facility_code="51001", patient=Patient(), main_icd10="J20.9")
    if "summary" in parts:
        summary = msgspec.structs.replace(summary, **parts.pop("summary"))  # type: ignore[arg-type]
    return Episode(summary=summary, **parts)  # type: ignore[arg-type]


def rules(result: Screened) -> list[tuple[str, str | None]]:
    return [(hit.rule_id, hit.field) for hit in result.hits]


TENOFOVIR = Medication(name="Tenofovir disoproxil fumarat 300mg")


@pytest.mark.parametrize(
    ("context", "parts"),
    [
        ("none", {}),
        ("hiv code", {"summary": {"secondary_icd10": ["B24"]}}),
        ("xml6", {"xml6_present": True}),
        ("xml15 field", {"tuberculosis": [Tuberculosis(sensitive={"PHANLOAI_LAO_HIV": "2"})]}),
        ("hiv lab line", {"lab_results": [LabResult(name="Tải lượng vi rút HIV")]}),
        ("arv line", {"medications": [Medication(name="Dolutegravir 50mg")]}),
    ],
)
def test_hepatitis_b_antivirals_stay_unless_the_episode_has_hiv_context(context: str, parts: dict[str, object]) -> None:
    medications = [TENOFOVIR, *parts.pop("medications", [])]  # type: ignore[misc]
    result = screen(episode(medications=medications, **parts))
    assert result.hiv_context == (context != "none")
    kept = [m.name for m in result.episode.medications]
    assert (TENOFOVIR.name in kept) == (context == "none")


def test_an_hiv_combination_is_dropped_even_without_context() -> None:
    result = screen(episode(medications=[Medication(name="Tenofovir + Lamivudin 300mg/300mg")]))
    assert rules(result) == [("med.arv.nrti-combination", "XML2.TEN_THUOC")]
    assert result.episode.medications == []
    assert not result.quarantined


def test_an_excluded_secondary_code_is_dropped_everywhere_it_repeats() -> None:
    result = screen(
        episode(
            summary={"secondary_icd10": ["I10", "b20.1", "R50.9"]},
            medications=[Medication(name="Paracetamol", icd10=["J20.9", "B20"])],
            services=[Service(name="Khám Nội", icd10=["B20"])],
            referrals=[Referral(main_icd10="J20.9", secondary_icd10=["B20"])],
            follow_ups=[FollowUp(main_icd10="J20.9", secondary_icd10=["B20", "I10"])],
        )
    )
    assert not result.quarantined
    e = result.episode
    assert e.summary.secondary_icd10 == ["I10", "R50.9"]
    assert (e.medications[0].icd10, e.services[0].icd10) == (["J20.9"], [])
    assert (e.referrals[0].secondary_icd10, e.follow_ups[0].secondary_icd10) == ([], ["I10"])
    fields = sorted(field for _, field in rules(result))
    expected = ["XML1.MA_BENH_KT", "XML13.MA_BENH_KT", "XML14.MA_BENH_KT", "XML2.MA_BENH", "XML3.MA_BENH"]
    assert fields == expected


@pytest.mark.parametrize(
    ("parts", "field"),
    [
        ({"summary": {"main_icd10": "B20"}}, "XML1.MA_BENH_CHINH"),
        ({"summary": {"main_icd10": "F11.2"}}, "XML1.MA_BENH_CHINH"),
        ({"referrals": [Referral(main_icd10="Z21")]}, "XML13.MA_BENH_CHINH"),
        ({"follow_ups": [FollowUp(main_icd10="B24")]}, "XML14.MA_BENH_CHINH"),
        ({"xml6_present": True}, "XML6"),
        ({"summary": {"texts": {"GHI_CHU": "Bệnh nhân nhiễm HIV"}}}, "XML1.GHI_CHU"),
        ({"narratives": [Texts(table="XML5", texts={"DIEN_BIEN_LS": "dieu tri ARV"})]}, "XML5.DIEN_BIEN_LS"),
        ({"narratives": [Texts(table="XML8", texts={"QT_BENHLY": "Gái mại dâm"})]}, "XML8.QT_BENHLY"),
        ({"narratives": [Texts(table="XML7", texts={"CHAN_DOAN_RV": "Viêm phổi; B20.1"})]}, "XML7.CHAN_DOAN_RV"),
        ({"lab_results": [LabResult(name="ALT", conclusion="điều trị MMT")]}, "XML4.KET_LUAN"),
        ({"tuberculosis": [Tuberculosis(fields={"PHACDO_DTRI_LAO": "phối hợp ARV"})]}, "XML15.PHACDO_DTRI_LAO"),
    ],
)
def test_what_quarantines_the_whole_episode(parts: dict[str, object], field: str) -> None:
    result = screen(episode(**parts))
    assert result.quarantined
    assert field in [hit.field for hit in result.reasons]


def test_xml15_loses_its_hiv_fields_and_keeps_the_tb_data() -> None:
    tb = Tuberculosis(fields={"PHACDO_DTRI_LAO": "2RHZE/4RHE"}, sensitive={"NGAYKD_HIV": "20260101", "BDDT_ARV": "x"})
    result = screen(episode(tuberculosis=[tb]))
    assert result.episode.tuberculosis == [Tuberculosis(fields={"PHACDO_DTRI_LAO": "2RHZE/4RHE"})]
    assert rules(result) == [(RULE_XML15_HIV, "XML15.NGAYKD_HIV"), (RULE_XML15_HIV, "XML15.BDDT_ARV")]
    assert not result.quarantined


def test_lab_values_of_a_dropped_service_go_with_it() -> None:
    result = screen(
        episode(
            services=[Service(code="24.1", name="HIV Ag/Ab test nhanh"), Service(code="23.1", name="Định lượng ALT")],
            lab_results=[LabResult(service_code="24.1", name="Kết quả"), LabResult(service_code="23.1", name="ALT")],
        )
    )
    assert [s.name for s in result.episode.services] == ["Định lượng ALT"]
    assert [lab.name for lab in result.episode.lab_results] == ["ALT"]
    assert rules(result) == [("svc.hiv.test", "XML3.TEN_DICH_VU"), ("svc.hiv.test", "XML4.MA_DICH_VU")]


def test_item_names_drop_their_line_not_the_episode_and_dropped_lines_are_not_read() -> None:
    result = screen(
        episode(
            medications=[
                Medication(name="Thuốc hỗ trợ cai nghiện ma túy"),  # no medicine rule: the lexicon on the name
                Medication(name="Methadone", dosage="Uống tại cơ sở điều trị MMT"),  # its dosage text goes with it
                Medication(name="Paracetamol"),
            ],
            services=[Service(name="Xét nghiệm Morphin nước tiểu")],
        )
    )
    assert not result.quarantined
    assert [m.name for m in result.episode.medications] == ["Paracetamol"]
    assert result.episode.services == []
    assert rules(result) == [
        ("txt.drug.cai-nghien-ma-tuy", "XML2.TEN_THUOC"),
        ("med.oat.methadone", "XML2.TEN_THUOC"),
        ("svc.drug.urine-screen", "XML3.TEN_DICH_VU"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Nghiện thuốc lá 20 năm, khuyên bỏ thuốc",
        "Tiêm PEP dại sau khi bị chó cắn",
        "Tải lượng vi rút viêm gan B dưới ngưỡng",
        "Nghiên cứu lâm sàng, ban đậm vùng mặt",
        "Đo sức cơ MMT bậc 4",
        "Tăng huyết áp (I10); đái tháo đường (E11.9)",
        "Viêm phế quản J20.9, chuẩn bị ra viện",
    ],
)
def test_benign_texts_pass(text: str) -> None:
    assert not screen(episode(summary={"texts": {"CHAN_DOAN_RV": text}})).quarantined


def test_the_benign_corpus_passes_as_discharge_texts() -> None:
    """The false-positive budget is 1 %; the corpus the exclusion tests keep passes whole."""
    blocked = [note for note in BENIGN if screen(episode(summary={"texts": {"QT_BENHLY": note}})).quarantined]
    assert blocked == []
