"""The exclusion policy (shared/domain/exclusion.md): a table per rule family, positive and negative cases.

If one of these breaks, HIV, drug-use or sex-work information can reach a shared record (a legal disclosure), or a
benign note (tobacco counselling, a rabies vaccination, hepatitis B treatment) is refused.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import re
import string
import unicodedata
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from core.errors import Invalid
from core.logging import configure_logging, get_logger
from core.records.exclusion import (
    CODE_RULES,
    DEFAULT_POLICY,
    LEXICON,
    POLICY_VERSION,
    RULE_IDS,
    Category,
    ExclusionPolicy,
    Hit,
    PolicySwitches,
    sql_code_pattern,
)
from tests.conftest import PgCluster

POLICY = DEFAULT_POLICY
NO_SWITCHES = ExclusionPolicy(PolicySwitches(narcotic_poisoning=False, f15_stimulants=False))
CORPUS = Path(__file__).with_name("benign_notes_vi.txt")

# --- rule ids: receipts cite them, so the list only changes on purpose -----------------------------------------

EXPECTED_RULE_IDS = {
    *("icd.hiv.B20-B24", "icd.hiv.Z21", "icd.hiv.O98.7", "icd.hiv.R75", "icd.hiv.Z20.6", "icd.hiv.Z71.7"),
    *("icd.hiv.Z11.4", "icd.hiv.Z83.0", "icd.hiv.F02.4"),
    *(f"icd.drug.F1{n}" for n in "1234689"),
    *("icd.drug.F15", "icd.drug.Z50.3", "icd.drug.Z71.5", "icd.drug.Z72.2", "icd.drug.Z81.3", "icd.drug.Z86.4"),
    *("icd.drug.R78.0-R78.5", "icd.drug.O35.5", "icd.drug.P04.4", "icd.drug.P96.1"),
    *("icd.poison.T40", "icd.poison.X42", "icd.poison.X62", "icd.poison.Y12"),
    *("txt.hiv.hiv", "txt.hiv.aids", "txt.hiv.arv", "txt.hiv.prep", "txt.hiv.cd4", "txt.hiv.pep-hiv"),
    *("txt.hiv.nhiem-hiv", "txt.hiv.hiv-duong-tinh", "txt.hiv.dieu-tri-arv", "txt.hiv.tai-luong-vi-rut-hiv"),
    *("txt.hiv.du-phong-sau-phoi-nhiem-hiv", "txt.drug.ma-tuy", "txt.drug.nghien-ma-tuy"),
    *("txt.drug.cai-nghien-ma-tuy", "txt.drug.ma-tuy-tong-hop", "txt.drug.nghien-chat", "txt.drug.heroin"),
    *("txt.drug.methadone", "txt.drug.dieu-tri-mmt", "txt.drug.buprenorphine", "txt.drug.hong-phien"),
    *("txt.drug.thuoc-lac", "txt.sex.mai-dam", "txt.sex.ban-dam", "txt.sex.nguoi-ban-dam", "txt.sex.gai-mai-dam"),
    *("txt.ascii.nhiem-hiv", "txt.ascii.hiv-duong-tinh", "txt.ascii.dieu-tri-arv", "txt.ascii.tai-luong-vi-rut-hiv"),
    *("txt.ascii.du-phong-sau-phoi-nhiem-hiv", "txt.ascii.ma-tuy", "txt.ascii.nghien-ma-tuy"),
    *("txt.ascii.cai-nghien-ma-tuy", "txt.ascii.ma-tuy-tong-hop", "txt.ascii.dieu-tri-mmt", "txt.ascii.mai-dam"),
    *("txt.ascii.nguoi-ban-dam", "txt.ascii.gai-mai-dam"),
    *(f"med.arv.{n}" for n in ("dolutegravir", "efavirenz", "nevirapine", "zidovudine", "abacavir", "lopinavir")),
    *(f"med.arv.{n}" for n in ("ritonavir", "atazanavir", "darunavir", "raltegravir", "rilpivirine", "tld", "tle")),
    *("med.arv.nrti-combination", "med.oat.methadone", "med.oat.buprenorphine", "med.hiv-context.cotrimoxazole"),
    *(f"med.hbv-caveat.{n}" for n in ("tenofovir", "lamivudine", "emtricitabine", "entecavir")),
    *("svc.hiv.viral-load", "svc.hiv.infant-pcr", "svc.hiv.cd4", "svc.hiv.test", "svc.drug.urine-screen"),
}


def test_rule_ids_are_the_published_stable_list() -> None:
    assert len(RULE_IDS) == len(set(RULE_IDS))
    assert set(RULE_IDS) == EXPECTED_RULE_IDS
    assert all(re.fullmatch(r"(icd|txt|med|svc)\.[a-z-]+\.[A-Za-z0-9.-]+", rule_id) for rule_id in RULE_IDS)
    assert re.fullmatch(r"\d{4}\.\d{1,2}\.\d+", POLICY_VERSION)


# --- ICD-10 codes ---------------------------------------------------------------------------------------------

CODE_HITS = [
    ("B20", "icd.hiv.B20-B24"),
    ("b20.1", "icd.hiv.B20-B24"),
    (" B 24 ", "icd.hiv.B20-B24"),
    ("B24.9", "icd.hiv.B20-B24"),
    ("B209", "icd.hiv.B20-B24"),
    ("B21.0", "icd.hiv.B20-B24"),
    ("B22.7", "icd.hiv.B20-B24"),
    ("B23.8", "icd.hiv.B20-B24"),
    ("Ｂ２０.１", "icd.hiv.B20-B24"),  # full-width, folded by NFKC
    ("B20.0†", "icd.hiv.B20-B24"),  # dagger/asterisk notation
    ("Z21", "icd.hiv.Z21"),
    ("z21", "icd.hiv.Z21"),
    ("Z21.0", "icd.hiv.Z21"),  # prefix semantics: anything under Z21 is Z21
    ("O98.7", "icd.hiv.O98.7"),
    ("o 98 . 7", "icd.hiv.O98.7"),
    ("R75", "icd.hiv.R75"),
    ("Z20.6", "icd.hiv.Z20.6"),
    ("Z71.7", "icd.hiv.Z71.7"),
    ("Z11.4", "icd.hiv.Z11.4"),
    ("Z83.0", "icd.hiv.Z83.0"),
    ("F02.4", "icd.hiv.F02.4"),
    ("F02.4*", "icd.hiv.F02.4"),
    ("F11", "icd.drug.F11"),
    ("F11.2", "icd.drug.F11"),
    ("f12.1", "icd.drug.F12"),
    ("F13", "icd.drug.F13"),
    ("F14.0", "icd.drug.F14"),
    ("F15.2", "icd.drug.F15"),
    ("F16", "icd.drug.F16"),
    ("F18.1", "icd.drug.F18"),
    ("F19.9", "icd.drug.F19"),
    ("Z50.3", "icd.drug.Z50.3"),
    ("Z71.5", "icd.drug.Z71.5"),
    ("Z72.2", "icd.drug.Z72.2"),
    ("Z81.3", "icd.drug.Z81.3"),
    ("Z86.4", "icd.drug.Z86.4"),
    ("R78.0", "icd.drug.R78.0-R78.5"),
    ("R78.1", "icd.drug.R78.0-R78.5"),
    ("r785", "icd.drug.R78.0-R78.5"),
    ("O35.5", "icd.drug.O35.5"),
    ("P04.4", "icd.drug.P04.4"),
    ("P96.1", "icd.drug.P96.1"),
    ("T40", "icd.poison.T40"),
    ("T40.0", "icd.poison.T40"),
    ("T40.9", "icd.poison.T40"),
    ("X42", "icd.poison.X42"),
    ("X62", "icd.poison.X62"),
    ("Y12", "icd.poison.Y12"),
]

CODE_MISSES = [
    *("B19", "B19.9", "B25", "B25.0", "A09", "I10", "E11.9", "J18.0", "O24.4", "K74.6"),
    *("F10", "F10.2", "F17", "F17.1", "F20", "F01", "F02.3", "F03"),  # alcohol, tobacco, other mental disorders
    *("Z72.5", "Z72.0", "Z72.1", "Z20", "Z20.5", "Z71.4", "Z11.5", "Z83.1", "Z50.2", "Z81.1", "Z86.3"),
    *("R78", "R78.6", "R78.9", "R74", "R76", "O98", "O98.6", "O35.4", "P04.3", "P96.0"),
    *("T39", "T41.1", "X41", "X43", "X61", "Y11", "Y13"),
    *("", "   ", "B2", "2", "AB20", "XB24", "1B20", "Z2", "-"),  # an excluded code never matches mid-string
]


@pytest.mark.parametrize(("code", "rule_id"), CODE_HITS)
def test_excluded_codes_are_found(code: str, rule_id: str) -> None:
    hit = POLICY.check_code(code)
    assert hit is not None
    assert hit.rule_id == rule_id
    assert hit.category == ("hiv" if rule_id.startswith("icd.hiv.") else "drugs")


@pytest.mark.parametrize("code", CODE_MISSES)
def test_other_codes_are_kept(code: str) -> None:
    assert POLICY.check_code(code) is None


@pytest.mark.parametrize(
    ("code", "switches", "excluded"),
    [
        ("T40.1", PolicySwitches(), True),
        ("T40.1", PolicySwitches(narcotic_poisoning=False), False),
        ("X42", PolicySwitches(narcotic_poisoning=False), False),
        ("X62", PolicySwitches(narcotic_poisoning=False), False),
        ("Y12", PolicySwitches(narcotic_poisoning=False), False),
        ("T40.1", PolicySwitches(f15_stimulants=False), True),
        ("F15", PolicySwitches(), True),
        ("F15.1", PolicySwitches(f15_stimulants=False), False),
        ("F15.1", PolicySwitches(narcotic_poisoning=False), True),
        ("F11", PolicySwitches(narcotic_poisoning=False, f15_stimulants=False), True),  # not switchable
        ("B20", PolicySwitches(narcotic_poisoning=False, f15_stimulants=False), True),
    ],
)
def test_policy_switches_turn_only_their_own_rules_off(code: str, switches: PolicySwitches, excluded: bool) -> None:
    assert (ExclusionPolicy(switches).check_code(code) is not None) is excluded


@pytest.mark.parametrize(
    ("raw", "rule_ids"),
    [
        ("I10;B20.1", ["icd.hiv.B20-B24"]),
        ("I10; E11 ;F17.1", []),
        ("b24; z21 ;F11.2;I10", ["icd.hiv.B20-B24", "icd.hiv.Z21", "icd.drug.F11"]),
        ("I10,Z21", ["icd.hiv.Z21"]),  # a comma where a semicolon belongs
        ("I10 B20", ["icd.hiv.B20-B24"]),  # a space-separated list still finds the code
        (" B 24 ", ["icd.hiv.B20-B24"]),  # a code with spaces inside is still one code
        ("Z72.5;F10.2;F17", []),
        (";;", []),
        ("", []),
    ],
)
def test_code_lists_report_each_excluded_code(raw: str, rule_ids: list[str]) -> None:
    hits = POLICY.check_codes(raw, field="MA_BENH_KT")
    assert [hit.rule_id for hit in hits] == rule_ids
    assert all(hit.field == "MA_BENH_KT" for hit in hits)


@pytest.mark.parametrize(
    ("codes", "expected"),
    [("B20.1", True), ("Z21", True), ("I10;O98.7", True), ("F11.2", False), ("T40.1", False), ("I10", False)],
)
def test_hiv_context_codes(codes: str, expected: bool) -> None:
    assert POLICY.is_hiv_context_code(codes) is expected


def _all_code_shapes() -> list[str]:
    """Every category (A00-Z99) with and without a fourth character: the whole space a column can hold."""
    return [
        f"{letter}{number:02d}{tail}"
        for letter in string.ascii_uppercase
        for number in range(100)
        for tail in ("", *string.digits, ".9", "X")
    ]


def test_sql_pattern_uses_syntax_both_engines_read_the_same_way() -> None:
    assert re.fullmatch(r"\^\((?:[A-Z0-9]+\|)*[A-Z0-9]+\)", sql_code_pattern())
    assert ExclusionPolicy.sql_code_pattern() == sql_code_pattern()


def test_sql_pattern_matches_exactly_the_always_excluded_codes() -> None:
    pattern = re.compile(sql_code_pattern())
    for code in _all_code_shapes():
        normalised = re.sub(r"[^A-Za-z0-9]", "", code).upper()  # what the CHECK constraint computes
        assert bool(pattern.search(normalised)) is (NO_SWITCHES.check_code(code) is not None), code
    # The switchable rules stay out of the database guard: a migration cannot follow a setting.
    assert not pattern.search("T401") and not pattern.search("F15") and not pattern.search("X42")


async def test_sql_pattern_means_the_same_in_postgresql(pg_cluster: PgCluster) -> None:
    codes = [*_all_code_shapes(), "b20.1", " B 24 ", "z21", "o98.7", "F10.2"]
    engine = create_async_engine(pg_cluster.admin_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(
                text(
                    "SELECT c, NOT (upper(regexp_replace(c, '[^A-Za-z0-9]', '', 'g')) ~ :pattern) AS allowed"
                    " FROM unnest(CAST(:codes AS text[])) AS c"
                ),
                {"pattern": sql_code_pattern(), "codes": codes},
            )
            allowed = dict(result.tuples().all())
    finally:
        await engine.dispose()
    wrong = [code for code in codes if allowed[code] is not (NO_SWITCHES.check_code(code) is None)]
    assert wrong == []


# --- free text ------------------------------------------------------------------------------------------------

TEXT_HITS = [
    ("HIV", "txt.hiv.hiv"),
    ("Xét nghiệm HIV âm tính lần trước", "txt.hiv.hiv"),
    ("bệnh nhân HIV(+)", "txt.hiv.hiv"),
    ("test nhanh hiv1/2", "txt.hiv.hiv"),
    ("HIV-1", "txt.hiv.hiv"),
    ("ＨＩＶ", "txt.hiv.hiv"),  # full-width
    ("AIDS giai đoạn cuối", "txt.hiv.aids"),
    ("HIV/AIDS", "txt.hiv.hiv"),
    ("wears hearing aids", "txt.hiv.aids"),  # documented conservative false positive
    ("đang dùng ARV", "txt.hiv.arv"),
    ("ARVs", "txt.hiv.arv"),
    ("dùng PrEP hằng ngày", "txt.hiv.prep"),
    ("CD4 350", "txt.hiv.cd4"),
    ("cd4+ giảm", "txt.hiv.cd4"),
    ("PEP HIV", "txt.hiv.pep-hiv"),
    ("pep-hiv sau tai nạn nghề nghiệp", "txt.hiv.pep-hiv"),
    ("Nhiễm HIV", "txt.hiv.nhiem-hiv"),
    ("HIV dương tính", "txt.hiv.hiv-duong-tinh"),
    ("đang điều trị ARV tại OPC", "txt.hiv.dieu-tri-arv"),
    ("Tải lượng vi rút HIV dưới ngưỡng", "txt.hiv.tai-luong-vi-rut-hiv"),
    ("dự phòng sau phơi nhiễm HIV", "txt.hiv.du-phong-sau-phoi-nhiem-hiv"),
    ("tiền sử dùng ma túy", "txt.drug.ma-tuy"),
    ("ma tuý", "txt.drug.ma-tuy"),
    ("MA TÚY", "txt.drug.ma-tuy"),
    ("ma-túy", "txt.drug.ma-tuy"),
    ("Nghiện ma túy 5 năm", "txt.drug.nghien-ma-tuy"),
    ("nghiện ma tuý", "txt.drug.nghien-ma-tuy"),
    ("  NGHIỆN   MA   TÚY  ", "txt.drug.nghien-ma-tuy"),
    ("nghiện\n\tma túy", "txt.drug.nghien-ma-tuy"),
    (unicodedata.normalize("NFD", "nghiện ma túy"), "txt.drug.nghien-ma-tuy"),  # decomposed accents
    ("đã cai nghiện ma túy", "txt.drug.cai-nghien-ma-tuy"),
    ("ma túy tổng hợp", "txt.drug.ma-tuy-tong-hop"),
    ("Ma Tuý Tổng Hợp", "txt.drug.ma-tuy-tong-hop"),
    ("nghiện chất kích thích", "txt.drug.nghien-chat"),
    ("heroin", "txt.drug.heroin"),
    ("Heroine", "txt.drug.heroin"),  # Vietnamese law spells it the French way
    ("hêrôin", "txt.drug.heroin"),
    ("he\u00adroin", "txt.drug.heroin"),  # a soft hyphen inside the word
    ("Methadone", "txt.drug.methadone"),
    ("uống methadon 60mg", "txt.drug.methadone"),
    ("điều trị MMT", "txt.drug.dieu-tri-mmt"),
    ("buprenorphin", "txt.drug.buprenorphine"),
    ("Buprenorphine", "txt.drug.buprenorphine"),
    ("hồng phiến", "txt.drug.hong-phien"),
    ("thuốc lắc", "txt.drug.thuoc-lac"),
    ("mại dâm", "txt.sex.mai-dam"),
    ("mại\u200bdâm", "txt.sex.mai-dam"),  # a zero-width space between the words
    ("bán dâm", "txt.sex.ban-dam"),
    ("Người bán dâm", "txt.sex.nguoi-ban-dam"),
    ("gái mại dâm", "txt.sex.gai-mai-dam"),
    # typed without diacritics: the unambiguous phrases, accent-stripped
    ("nhiem hiv", "txt.ascii.nhiem-hiv"),
    ("hiv duong tinh", "txt.ascii.hiv-duong-tinh"),
    ("dieu tri ARV", "txt.ascii.dieu-tri-arv"),
    ("tai luong vi rut hiv", "txt.ascii.tai-luong-vi-rut-hiv"),
    ("du phong sau phoi nhiem hiv", "txt.ascii.du-phong-sau-phoi-nhiem-hiv"),
    ("su dung ma tuy", "txt.ascii.ma-tuy"),
    ("benh nhan nghien ma tuy", "txt.ascii.nghien-ma-tuy"),
    ("BENH NHAN NGHIEN MA TUY", "txt.ascii.nghien-ma-tuy"),
    ("Bệnh nhân nghien ma tuy", "txt.ascii.nghien-ma-tuy"),  # half-accented text
    ("da cai nghien ma tuy", "txt.ascii.cai-nghien-ma-tuy"),
    ("ma tuy tong hop", "txt.ascii.ma-tuy-tong-hop"),
    ("dieu tri mmt", "txt.ascii.dieu-tri-mmt"),
    ("mai dam", "txt.ascii.mai-dam"),
    ("nguoi ban dam", "txt.ascii.nguoi-ban-dam"),
    ("gai mai dam", "txt.ascii.gai-mai-dam"),
    ("ｍａｉ ｄａｍ", "txt.ascii.mai-dam"),
]

TEXT_MISSES = [
    *("nghiện thuốc lá", "tư vấn cai nghiện thuốc lá", "cai nghiện rượu", "nghiện", "cai nghiện", "nghiện game"),
    *("nghien thuoc la 20 nam", "cai nghien ruou", "nghien", "nghiền chất", "nghien chat"),
    *("tải lượng vi rút viêm gan B", "tải lượng vi rút", "tai luong virus HBV", "tai luong vi rut"),
    *("PEP dại", "tiêm phòng dại sau phơi nhiễm (PEP)", "pep", "dự phòng sau phơi nhiễm bệnh dại"),
    *("pepsin", "men tiêu hóa có PEPSIN", "prepare", "preparation", "preps"),
    *("MMT", "MMT cơ tứ đầu 4/5", "sau điều trị, MMT 4/5", "đánh giá MMT"),
    *("nghiên cứu", "nghien cuu", "tham gia nghiên cứu vắc xin"),
    *("ban đậm", "ban dam", "nổi ban đậm ở cẳng chân", "ban đỏ"),
    *("thuốc lác", "boi thuoc lac", "hong phien", "hông phiền"),
    *("cd45", "cd8", "tcd", "shiva", "aid", "arvo", "heroic", "heroism"),
    *("mà tùy theo đường huyết", "tuy nhiên", "ma", "tùy", "mái dầm", "mai", "dam"),
    *("viêm gan B, uống tenofovir", "Z72.5", ""),
]


@pytest.mark.parametrize(("note", "rule_id"), TEXT_HITS)
def test_lexicon_finds_excluded_phrases(note: str, rule_id: str) -> None:
    assert POLICY.check_text(note, field="note") == Hit(rule_id, _category_of(rule_id), "note")


@pytest.mark.parametrize("note", TEXT_MISSES)
def test_lexicon_keeps_benign_phrases(note: str) -> None:
    assert POLICY.check_text(note) is None


@pytest.mark.parametrize("note", ["hen ngay mai dam bao nhin an", "khong dung lieu co dinh ma tuy theo duong huyet"])
def test_known_unaccented_collisions_are_blocked_as_the_rule_is_written(note: str) -> None:
    # "ngày mai đảm bảo" and "mà tùy theo" typed without diacritics read as "mai dam" / "ma tuy", which
    # exclusion.md lists as unambiguous. Kept (the safe side) and pinned here so a rule change is deliberate.
    assert POLICY.check_text(note) is not None


def _category_of(rule_id: str) -> Category:
    return {rule.rule_id: rule.category for rule in LEXICON}[rule_id]


# --- medicines ------------------------------------------------------------------------------------------------

MEDICINES = [
    ("Dolutegravir 50mg", False, "med.arv.dolutegravir"),
    ("Efavirenz 600mg", False, "med.arv.efavirenz"),
    ("Nevirapin 200mg", False, "med.arv.nevirapine"),
    ("Zidovudine", False, "med.arv.zidovudine"),
    ("Abacavir sulfat", False, "med.arv.abacavir"),
    ("Lopinavir/ritonavir", False, "med.arv.lopinavir"),
    ("Ritonavir 100mg", False, "med.arv.ritonavir"),
    ("Atazanavir", False, "med.arv.atazanavir"),
    ("DARUNAVIR", False, "med.arv.darunavir"),
    ("Raltegravir", False, "med.arv.raltegravir"),
    ("Rilpivirin", False, "med.arv.rilpivirine"),
    ("TLD", False, "med.arv.tld"),
    ("TLE400", False, "med.arv.tle"),
    ("AZT/3TC/NVP", False, "med.arv.nevirapine"),
    ("Tenofovir disoproxil fumarat 300mg + Lamivudin 300mg + Dolutegravir 50mg", False, "med.arv.dolutegravir"),
    ("tenofovir + lamivudine", False, "med.arv.nrti-combination"),
    ("Emtricitabin/Tenofovir", False, "med.arv.nrti-combination"),
    ("TDF/3TC", False, "med.arv.nrti-combination"),
    ("Méthadone", False, "med.oat.methadone"),
    ("Methadon hydroclorid 10mg/ml", False, "med.oat.methadone"),
    ("Buprenorphine + Naloxone", False, "med.oat.buprenorphine"),
    ("Tenofovir disoproxil fumarat 300mg", False, None),  # hepatitis B treatment stays
    ("Tenofovir disoproxil fumarat 300mg", True, "med.hbv-caveat.tenofovir"),
    ("TENOFOVIR", True, "med.hbv-caveat.tenofovir"),
    ("Tenofovir alafenamid 25mg", False, None),
    ("Lamivudin 100mg", False, None),
    ("Lamivudin 100mg", True, "med.hbv-caveat.lamivudine"),
    ("Emtricitabine", False, None),
    ("Emtricitabine", True, "med.hbv-caveat.emtricitabine"),
    ("Entecavir 0,5mg", False, None),
    ("Entecavir 0,5mg", True, "med.hbv-caveat.entecavir"),
    ("Entecavir + Tenofovir", False, None),  # not an HIV combination
    ("Cotrimoxazol 480mg", False, None),
    ("Cotrimoxazol 480mg", True, "med.hiv-context.cotrimoxazole"),
    ("Co-trimoxazole", True, "med.hiv-context.cotrimoxazole"),
    ("Sulfamethoxazol 400mg + Trimethoprim 80mg", False, None),
    ("Sulfamethoxazol 400mg + Trimethoprim 80mg", True, "med.hiv-context.cotrimoxazole"),
    ("Biseptol 480", True, "med.hiv-context.cotrimoxazole"),
    ("Trimethoprim", True, None),
    ("Paracetamol 500mg", True, None),
    ("Amlodipin 5mg", False, None),
    ("Morphin 10mg", False, None),  # pain relief: not in the rule
    ("Subtle 10mg", True, None),  # "tle" inside a word is not TLE
]


@pytest.mark.parametrize(("name", "hiv_context", "rule_id"), MEDICINES)
def test_medicines(name: str, hiv_context: bool, rule_id: str | None) -> None:
    hit = POLICY.check_medicine(name, hiv_context=hiv_context)
    assert (hit.rule_id if hit else None) == rule_id
    if hit is not None:
        assert hit.category == ("drugs" if rule_id and rule_id.startswith("med.oat.") else "hiv")


# --- services and lab lines -----------------------------------------------------------------------------------

SERVICES = [
    ("Tải lượng vi rút HIV", "svc.hiv.viral-load"),
    ("HIV RNA định lượng Real-time PCR", "svc.hiv.viral-load"),
    ("HIV viral load", "svc.hiv.viral-load"),
    ("HIV Ab test nhanh", "svc.hiv.test"),
    ("HIV khẳng định (3 test)", "svc.hiv.test"),
    ("HIV Ag/Ab miễn dịch tự động", "svc.hiv.test"),
    ("Xét nghiệm HIV1/2", "svc.hiv.test"),
    ("HIV DNA PCR (trẻ dưới 18 tháng)", "svc.hiv.infant-pcr"),
    ("Đếm tế bào CD4", "svc.hiv.cd4"),
    ("T-CD4 tuyệt đối", "svc.hiv.cd4"),
    ("Tỷ lệ CD4/CD8", "svc.hiv.cd4"),
    ("Morphin nước tiểu (test nhanh)", "svc.drug.urine-screen"),
    ("Heroin test nhanh", "svc.drug.urine-screen"),
    ("Methamphetamin (MET) nước tiểu", "svc.drug.urine-screen"),
    ("Ma túy tổng hợp test nhanh", "svc.drug.urine-screen"),
    ("Amphetamin nước tiểu", "svc.drug.urine-screen"),
    ("Tải lượng vi rút viêm gan B (HBV DNA)", None),
    ("HBV-DNA định lượng", None),
    ("HBsAg test nhanh", None),
    ("Anti-HCV", None),
    ("HCV RNA định lượng", None),
    ("Định lượng Glucose", None),
    ("Tổng phân tích tế bào máu ngoại vi", None),
    ("Tổng phân tích nước tiểu", None),
    ("Dấu ấn CD45", None),
]


@pytest.mark.parametrize(("name", "rule_id"), SERVICES)
def test_services(name: str, rule_id: str | None) -> None:
    hit = POLICY.check_service(name)
    assert (hit.rule_id if hit else None) == rule_id
    if hit is not None:
        assert hit.category == ("drugs" if hit.rule_id.startswith("svc.drug.") else "hiv")


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"codes": ["I10", "E11.9"], "medicines": ["Tenofovir"], "services": ["HBsAg test nhanh"]}, False),
        ({"codes": ["I10;B20.1"]}, True),
        ({"codes": ["F11.2"]}, False),  # drug use is not HIV context
        ({"medicines": ["Dolutegravir 50mg"]}, True),
        ({"medicines": ["Tenofovir + Lamivudin"]}, True),
        ({"medicines": ["Methadon"]}, False),
        ({"medicines": ["Cotrimoxazol"]}, False),
        ({"services": ["Đếm tế bào CD4"]}, True),
        ({"services": ["Morphin nước tiểu"]}, False),
        ({"xml6_present": True}, True),
        ({"xml15_hiv_values": ["", None, "  "]}, False),
        ({"xml15_hiv_values": [None, "20260101"]}, True),
    ],
)
def test_hiv_context_of_an_episode(kwargs: dict[str, object], expected: bool) -> None:
    assert POLICY.hiv_context(**kwargs) is expected


def test_every_rule_has_a_positive_case() -> None:
    seen = {rule_id for _, rule_id in CODE_HITS + TEXT_HITS + SERVICES} | {r for *_, r in MEDICINES}
    assert set(RULE_IDS) - seen == set()


# --- a hit never carries the value ----------------------------------------------------------------------------


def _all_hits_with_inputs() -> list[tuple[str, Hit]]:
    notes = [f"Ghi chú 7731: {note} (xem lại)" for note, _ in TEXT_HITS]
    cases = [(note, POLICY.check_text(note, field="notes")) for note in notes]
    cases += [(f"I10;{code}", (POLICY.check_codes(f"I10;{code}") or [None])[0]) for code, _ in CODE_HITS]
    cases += [(name, POLICY.check_medicine(name, hiv_context=ctx)) for name, ctx, _ in MEDICINES]
    cases += [(name, POLICY.check_service(name)) for name, _ in SERVICES]
    return [(value, hit) for value, hit in cases if hit is not None]


def test_hits_hold_only_a_rule_id_a_category_and_a_field() -> None:
    assert [f.name for f in dataclasses.fields(Hit)] == ["rule_id", "category", "field"]
    assert not hasattr(Hit("x", "hiv"), "__dict__")  # slots: nothing can be attached later
    hits = _all_hits_with_inputs()
    assert len(hits) > 100
    for value, hit in hits:
        assert hit.rule_id in RULE_IDS
        assert value not in repr(hit) and value not in str(hit)
        assert repr(hit) == f"Hit(rule_id={hit.rule_id!r}, category={hit.category!r}, field={hit.field!r})"


def test_a_logged_hit_carries_the_rule_and_field_never_the_value(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")
    note = "Bệnh nhân nghiện ma túy 7 năm"
    hit = POLICY.check_text(note, field="notes")
    assert hit is not None
    get_logger("phr.test.exclusion").info("write refused", rule_id=hit.rule_id, field=hit.field, hit=repr(hit))
    err = capsys.readouterr().err
    assert "txt.drug.nghien-ma-tuy" in err and '"field": "notes"' in err
    for leak in (note, "ma túy", json.dumps("ma túy")[1:-1], "7 năm", json.dumps("7 năm")[1:-1]):
        assert leak not in err


# --- scan: what interactive writes call -----------------------------------------------------------------------


class Kind(enum.Enum):
    OTHER = "ma túy tổng hợp"


@dataclasses.dataclass
class Allergy:
    substance: str
    reaction: str


class Condition(msgspec.Struct):
    icd10: str | None = None
    note: str | None = None


class Plain:
    def __init__(self) -> None:
        self.remark = "heroin"
        self._cache = "heroin"  # private attributes are not data


def test_scan_finds_nested_hits_with_their_paths() -> None:
    payload = {
        "conditions": [
            {"icd10": "I10", "note": "tăng huyết áp"},
            {"icd10": "E11.9"},
            {"icd10": "b20.1", "note": "theo dõi"},
        ],
        "family_history": [{"relation": "bố", "text": "Nghiện ma túy"}],
        "advice": "tư vấn cai nghiện thuốc lá",
        "vitals": {"weight": 62, "taken_on": None},
    }
    hits = POLICY.scan(payload)
    assert hits == [
        Hit("icd.hiv.B20-B24", "hiv", "conditions[2].icd10"),
        Hit("txt.drug.nghien-ma-tuy", "drugs", "family_history[0].text"),
    ]
    assert POLICY.scan(payload, path="body")[0].field == "body.conditions[2].icd10"


def test_scan_walks_structs_dataclasses_objects_tuples_and_enums() -> None:
    payload = {
        "structs": [Condition(icd10="I10"), Condition(icd10="Z21", note="mại dâm")],
        "allergies": (Allergy("penicillin", "nổi ban đậm"), Allergy("tôm", "hêrôin")),
        "kind": Kind.OTHER,
        "plain": Plain(),
        "tags": {"ok"},
        "raw": b"hiv",  # bytes are not text a person wrote; bodies carry no bytes
    }
    assert {(hit.rule_id, hit.field) for hit in POLICY.scan(payload)} == {
        ("icd.hiv.Z21", "structs[1].icd10"),
        ("txt.sex.mai-dam", "structs[1].note"),
        ("txt.drug.heroin", "allergies[1].reaction"),
        ("txt.drug.ma-tuy-tong-hop", "kind"),
        ("txt.drug.heroin", "plain.remark"),
    }


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({"diagnosis": {"code": "F11.2"}}, ["diagnosis.code"]),
        ({"conditions": [{"code": "Z21"}]}, ["conditions[0].code"]),
        ({"main_diagnosis": {"code": "B24"}}, ["main_diagnosis.code"]),
        ({"medication": {"code": "B20"}}, []),  # not a diagnosis: a drug or service code is not ICD-10
        ({"note": "B20"}, []),  # codes are read in code fields only
        ({"primary_icd10": "B20"}, ["primary_icd10"]),
        ({"MA_BENH_KT": "I10;Z21;F11"}, ["MA_BENH_KT", "MA_BENH_KT"]),
        ({"icd10": ["I10", "B20"]}, ["icd10[1]"]),
        ({"diagnoses": [{"icd10_code": "O98.7"}]}, ["diagnoses[0].icd10_code"]),
    ],
)
def test_scan_reads_codes_in_code_fields(payload: object, fields: list[str]) -> None:
    assert [hit.field for hit in POLICY.scan(payload)] == fields


def test_scan_takes_the_callers_code_fields() -> None:
    assert POLICY.scan({"dx": "B20"}) == []
    assert POLICY.scan({"dx": "B20"}, code_fields={"DX"}) == [Hit("icd.hiv.B20-B24", "hiv", "dx")]


def test_scan_checks_keys_and_never_puts_data_in_a_path() -> None:
    payload = {"other": {"HIV dương tính": True, "ghi chú riêng": "heroin", "0905123456": "ok"}}
    hits = POLICY.scan(payload)
    assert hits == [
        Hit("txt.hiv.hiv-duong-tinh", "hiv", "other.*"),
        Hit("txt.drug.heroin", "drugs", "other.*"),
    ]
    assert not any(word in repr(hit) for hit in hits for word in ("HIV", "dương", "ghi", "0905"))


def test_scan_refuses_what_it_cannot_finish() -> None:
    deep: list[object] = ["ok"]
    for _ in range(150):
        deep = [deep]
    with pytest.raises(Invalid) as excinfo:
        POLICY.scan({"x": deep})
    assert excinfo.value.code == "too-deep"
    cycle: list[object] = []
    cycle.append(cycle)
    with pytest.raises(Invalid):
        POLICY.scan(cycle)


# --- property tests -------------------------------------------------------------------------------------------

# Clinical words that cannot spell a deny-listed phrase in any order (checked below), including the near misses.
_SAFE_TEXT = (
    "bệnh nhân tăng huyết áp đái tháo đường mang thai tuần khám tái hẹn ngày tháng uống thuốc đều lần sốt ho sổ "
    "mũi đau đầu bụng ngực khó thở trẻ cân nặng chiều cao tiêm vắc xin phản ứng sưng nhẹ tư vấn bỏ hút "
    "thuốc lá rượu bia nghiện cai nghiên cứu ban đậm đỏ ngứa tải lượng vi rút viêm gan b hbv dna tenofovir "
    "entecavir pep dại chó cắn sau phơi nhiễm pepsin men tiêu hóa điều trị vật lý trị liệu cơ tứ đầu "
    "prepare amlodipin metformin 5mg 500mg lúc bình thường tốt ổn định theo dõi người bán gái hồng thuốc "
    "benh nhan kham thai tiem phong dai nghien cuu ban dam thuoc la tai luong vi rut tu van cai ruou "
    "dieu tri huyet ap duong tuy nhien tùy mà mái dầm mã"
)
SAFE_WORDS = sorted(set(_SAFE_TEXT.split()))
STYLES: list[Callable[[str], str]] = [
    lambda s: s,
    str.upper,
    str.title,
    lambda s: s.replace(" ", "   "),
    lambda s: s.replace(" ", "\n"),
    lambda s: "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s),  # full-width ASCII
    lambda s: unicodedata.normalize("NFD", s),
]
SEPARATORS = [" ", ", ", ". ", " (", ") ", ": ", "; ", "\n", " / "]
PHRASES = [(rule.category, phrase) for rule in LEXICON for phrase in rule.phrases]


def test_the_safe_vocabulary_cannot_spell_a_phrase() -> None:
    vocabulary = set(SAFE_WORDS)
    assert all(POLICY.check_text(word) is None for word in vocabulary)
    assert [phrase for _, phrase in PHRASES if set(re.split(r"[ -]", phrase)) <= vocabulary] == []


def _sentence(words: list[str], seps: list[str]) -> str:
    return "".join(word + sep for word, sep in zip(words, seps, strict=True)).strip()


@settings(max_examples=300)
@given(
    before=st.lists(st.tuples(st.sampled_from(SAFE_WORDS), st.sampled_from(SEPARATORS)), max_size=10),
    after=st.lists(st.tuples(st.sampled_from(SAFE_WORDS), st.sampled_from(SEPARATORS)), max_size=10),
    entry=st.sampled_from(PHRASES),
    style=st.sampled_from(STYLES),
    left=st.sampled_from(SEPARATORS),
    right=st.sampled_from(SEPARATORS),
)
def test_any_phrase_inserted_into_benign_text_is_found(
    before: list[tuple[str, str]],
    after: list[tuple[str, str]],
    entry: tuple[Category, str],
    style: Callable[[str], str],
    left: str,
    right: str,
) -> None:
    category, phrase = entry
    head = _sentence([w for w, _ in before], [s for _, s in before])
    tail = _sentence([w for w, _ in after], [s for _, s in after])
    note = f"{head}{left}{style(phrase)}{right}{tail}"
    hit = POLICY.check_text(note)
    assert hit is not None and hit.category == category


@settings(max_examples=300)
@given(
    words=st.lists(st.tuples(st.sampled_from(SAFE_WORDS), st.sampled_from(SEPARATORS)), min_size=1, max_size=30),
    style=st.sampled_from(STYLES),
)
def test_benign_vocabulary_is_never_flagged(words: list[tuple[str, str]], style: Callable[[str], str]) -> None:
    note = style(_sentence([w for w, _ in words], [s for _, s in words]))
    assert POLICY.check_text(note) is None


# --- the benign corpus ----------------------------------------------------------------------------------------


def test_benign_clinical_notes_pass() -> None:
    notes = [line.strip() for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(notes) >= 300
    assert len(set(notes)) == len(notes)
    flagged = [(note, hit.rule_id) for note in notes if (hit := POLICY.check_text(note)) is not None]
    for note, rule_id in flagged:
        print(f"flagged by {rule_id}: {note}")  # the corpus is benign and ours: safe to show
    assert len(flagged) / len(notes) <= 0.01, flagged


def test_code_rules_are_normalised_prefixes() -> None:
    assert all(re.fullmatch(r"[A-Z][0-9]{2}[0-9A-Z]?", p) for rule in CODE_RULES for p in rule.prefixes)
