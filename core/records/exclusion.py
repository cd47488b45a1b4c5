"""The exclusion policy: HIV/AIDS, drug addiction and sex work never enter the record (shared/domain/exclusion.md).

Pure and standard-library only, so every path (interactive writes, the XML 130 import, the immunization feed,
database audits) applies the same rules. A ``Hit`` names a stable rule id, a category and a field path, never the
matched value: receipts and logs count exclusions without being able to say what was excluded. Changing what a
rule matches bumps ``POLICY_VERSION``; renaming a rule id breaks every receipt that cites it, so ids stay put.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from core.errors import Invalid

POLICY_VERSION = "2026.11.1"

Category = Literal["hiv", "drugs", "sex_work"]
Switch = Literal["narcotic_poisoning", "f15_stimulants"]


@dataclass(frozen=True, slots=True)
class Hit:
    """What matched: a rule and where. Deliberately no slot for the value, so no caller can leak it."""

    rule_id: str
    category: Category
    field: str | None = None


@dataclass(frozen=True, slots=True)
class PolicySwitches:
    """The province's settings (exclusion.md, "Policy switches"); both default to excluded."""

    narcotic_poisoning: bool = True  # T40, X42, X62, Y12: also accidental (a child and a parent's opioid)
    f15_stimulants: bool = True  # F15 includes caffeine


@dataclass(frozen=True, slots=True)
class CodeRule:
    rule_id: str
    category: Category
    prefixes: tuple[str, ...]  # normalised: upper case, no dots or spaces
    switch: Switch | None = None


@dataclass(frozen=True, slots=True)
class TextRule:
    rule_id: str
    category: Category
    phrases: tuple[str, ...]  # already normalised (NFC, case-folded, single spaces)


def _icd(rule_id: str, category: Category, *prefixes: str, switch: Switch | None = None) -> CodeRule:
    return CodeRule(rule_id, category, prefixes, switch)


# A code matches when its normalised form *starts with* a prefix. ICD-10 is hierarchical and every category is a
# letter and two digits, so a longer code is always inside the prefix's block: B20 covers B20.0-B20.9 and "B209",
# and Z21 (which has no children) also covers a national extension or typo such as "Z21.0" - excluding it is the
# safe side. Codes never match in the middle ("AB20" is not B20) and a bare "B2" matches nothing.
CODE_RULES: tuple[CodeRule, ...] = (
    _icd("icd.hiv.B20-B24", "hiv", "B20", "B21", "B22", "B23", "B24"),
    *(_icd(f"icd.hiv.{c}", "hiv", c.replace(".", "")) for c in ("Z21", "O98.7", "R75", "Z20.6", "Z71.7", "Z11.4")),
    *(_icd(f"icd.hiv.{c}", "hiv", c.replace(".", "")) for c in ("Z83.0", "F02.4")),
    # Drug use. F10 (alcohol) and F17 (tobacco) stay in the record; F15 (includes caffeine) has a switch.
    *(_icd(f"icd.drug.{c}", "drugs", c) for c in ("F11", "F12", "F13", "F14", "F16", "F18", "F19")),
    _icd("icd.drug.F15", "drugs", "F15", switch="f15_stimulants"),
    *(_icd(f"icd.drug.{c}", "drugs", c.replace(".", "")) for c in ("Z50.3", "Z71.5", "Z72.2", "Z81.3", "Z86.4")),
    # As the rule says, R78.0 (alcohol in blood) included; R78.6 and later (other substances) are not.
    _icd("icd.drug.R78.0-R78.5", "drugs", *(f"R78{n}" for n in "012345")),
    *(_icd(f"icd.drug.{c}", "drugs", c.replace(".", "")) for c in ("O35.5", "P04.4", "P96.1")),
    *(_icd(f"icd.poison.{c}", "drugs", c, switch="narcotic_poisoning") for c in ("T40", "X42", "X62", "Y12")),
    # Sex work has no code: Z72.5 (high-risk sexual behaviour) is deliberately absent.
)

# Free-text lexicon. (rule id, category, phrases, ascii twin). Script-neutral words (hiv, heroin, ...) are plain
# ASCII already. An accented phrase with an ascii twin is also matched in its accent-stripped form under
# "txt.ascii.<name>"; phrases whose stripped form collides with an everyday word get no twin (see the comments).
_LEXICON_SOURCE: tuple[tuple[str, Category, tuple[str, ...], bool], ...] = (
    ("txt.hiv.hiv", "hiv", ("hiv",), False),
    # Texts are Vietnamese; English "hearing aids" would be blocked too. Accepted: a conservative false positive.
    ("txt.hiv.aids", "hiv", ("aids",), False),
    ("txt.hiv.arv", "hiv", ("arv", "arvs"), False),
    ("txt.hiv.prep", "hiv", ("prep",), False),  # the word only: "prepare" and "preparation" pass
    ("txt.hiv.cd4", "hiv", ("cd4",), False),
    ("txt.hiv.pep-hiv", "hiv", ("pep hiv",), False),  # bare "pep" is rabies prophylaxis
    ("txt.hiv.nhiem-hiv", "hiv", ("nhiễm hiv",), True),
    ("txt.hiv.hiv-duong-tinh", "hiv", ("hiv dương tính",), True),
    ("txt.hiv.dieu-tri-arv", "hiv", ("điều trị arv",), True),
    ("txt.hiv.tai-luong-vi-rut-hiv", "hiv", ("tải lượng vi rút hiv",), True),
    ("txt.hiv.du-phong-sau-phoi-nhiem-hiv", "hiv", ("dự phòng sau phơi nhiễm hiv",), True),
    ("txt.drug.ma-tuy", "drugs", ("ma túy", "ma tuý"), True),  # both tone placements are in use
    ("txt.drug.nghien-ma-tuy", "drugs", ("nghiện ma túy", "nghiện ma tuý"), True),
    ("txt.drug.cai-nghien-ma-tuy", "drugs", ("cai nghiện ma túy", "cai nghiện ma tuý"), True),
    ("txt.drug.ma-tuy-tong-hop", "drugs", ("ma túy tổng hợp", "ma tuý tổng hợp"), True),
    ("txt.drug.nghien-chat", "drugs", ("nghiện chất",), False),  # "nghien chat" is also "nghiền chất" (grind)
    # Vietnamese law spells it "heroine" (French), so the English word is blocked too.
    ("txt.drug.heroin", "drugs", ("heroin", "heroine", "hêrôin"), False),
    ("txt.drug.methadone", "drugs", ("methadone", "methadon"), False),
    ("txt.drug.dieu-tri-mmt", "drugs", ("điều trị mmt",), True),  # bare "mmt" is manual muscle testing
    ("txt.drug.buprenorphine", "drugs", ("buprenorphin", "buprenorphine"), False),
    ("txt.drug.hong-phien", "drugs", ("hồng phiến",), False),  # "hong phien": hỏng/hông/hồng + phiên/phiền
    ("txt.drug.thuoc-lac", "drugs", ("thuốc lắc",), False),  # "thuoc lac" is also "thuốc lác", ringworm cream
    ("txt.sex.mai-dam", "sex_work", ("mại dâm",), True),
    ("txt.sex.ban-dam", "sex_work", ("bán dâm",), False),  # "ban dam" is also "ban đậm", a darkening rash
    ("txt.sex.nguoi-ban-dam", "sex_work", ("người bán dâm",), True),
    ("txt.sex.gai-mai-dam", "sex_work", ("gái mại dâm",), True),
)

# Invisible characters (soft hyphen, zero-width space and joiners, bidi marks, BOM) that copy-paste leaves in
# text. Inside a word they hide it ("h<ZWSP>iv"), between words they separate ("ma<ZWSP>túy"): both readings are
# checked.
_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_LEFT = r"(?<![^\W_])"  # not preceded by a letter or digit (Unicode-aware; "_" counts as a separator)
_RIGHT = r"(?![^\W\d_])"  # not followed by a letter: "pepsin" is not "pep", but "hiv1" and "tle400" are words
_GAP = r"[ \-]+"  # inside a phrase: spaces or hyphens ("ma-túy", "pep-hiv"), never other punctuation


def _normalise_text(text: str, invisible: str = "") -> str:
    """NFKC (folds full-width letters), NFC, case-fold, replace invisible characters, collapse whitespace."""
    folded = unicodedata.normalize("NFC", unicodedata.normalize("NFKC", text)).casefold()
    return " ".join(_INVISIBLE.sub(invisible, folded).split())


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _fold(name: str) -> str:
    """Item names (drugs, services) are matched without accents: their vocabulary has no diacritic homographs."""
    return _strip_accents(_normalise_text(name))


def _phrase_fragment(phrase: str) -> str:
    body = _GAP.join(re.escape(word) for word in phrase.split(" "))
    return body + (r"(?!\d)" if phrase[-1].isdigit() else "")  # "cd4" is not "cd45"


def _build_lexicon() -> tuple[TextRule, ...]:
    rules: list[TextRule] = []
    twins: list[TextRule] = []
    for rule_id, category, phrases, has_twin in _LEXICON_SOURCE:
        rules.append(TextRule(rule_id, category, phrases))
        if has_twin:
            stripped = tuple(dict.fromkeys(_strip_accents(p) for p in phrases))
            twins.append(TextRule("txt.ascii." + rule_id.split(".", 2)[2], category, stripped))
    return (*rules, *twins)


# Text written with diacritics can only contain an accented phrase literally; text typed without them can only
# contain the accent-stripped twins. Matching both lists literally on every text is therefore the rule of
# exclusion.md, and it also catches a half-accented text ("Bệnh nhân nghien ma tuy"). Text is never stripped
# before matching: that is what would turn "nghiên cứu" into "nghien cuu" and "ban đậm" into "ban dam".
LEXICON: tuple[TextRule, ...] = _build_lexicon()


class _Alternation:
    """One regex for many word-bounded fragments, each tagged with a key; the leftmost, then longest, wins."""

    def __init__(self, entries: Iterable[tuple[str, str]]) -> None:
        ordered = sorted(entries, key=lambda entry: -len(entry[1]))
        self._keys = [key for key, _ in ordered]
        body = "|".join(f"(?P<g{i}>{fragment})" for i, (_, fragment) in enumerate(ordered))
        self._regex = re.compile(f"{_LEFT}(?:{body}){_RIGHT}")

    def first(self, text: str) -> str | None:
        match = self._regex.search(text)
        return None if match is None or match.lastgroup is None else self._keys[int(match.lastgroup[1:])]

    def all(self, text: str) -> set[str]:
        return {self._keys[int(m.lastgroup[1:])] for m in self._regex.finditer(text) if m.lastgroup}


def _name(fragment: str) -> str:
    """'nevirapine?|nvp' names the rule 'nevirapine': the ingredient's full spelling."""
    return fragment.split("|")[0].replace("e?", "e")


def _words(*fragments: str) -> re.Pattern[str]:
    return re.compile(f"{_LEFT}(?:{'|'.join(fragments)}){_RIGHT}")


_TEXT_MATCHER = _Alternation((rule.rule_id, _phrase_fragment(p)) for rule in LEXICON for p in rule.phrases)
_TEXT_CATEGORY: dict[str, Category] = {rule.rule_id: rule.category for rule in LEXICON}

# Medicines: ingredient names as in XML2 TEN_THUOC, folded to ASCII. Vietnamese spellings drop a final "e"
# (nevirapin, lamivudin, methadon), hence "e?". A few programme abbreviations are unambiguous in a drug name.
# Each entry: ingredient name (its first alternative names the rule), then abbreviations. TLD and TLE are the
# fixed combinations tenofovir + lamivudine + dolutegravir / efavirenz.
_ARVS = ("dolutegravir|dtg", "efavirenz|efv", "nevirapine?|nvp", "zidovudine?|azt", "abacavir", "lopinavir|lpv",
         "ritonavir", "atazanavir", "darunavir", "raltegravir", "rilpivirine?", "tld", "tle")  # fmt: skip
# Antivirals that also treat hepatitis B: excluded only in HIV context, or two of the first three in one product.
_HBV_CAPABLE = ("tenofovir|tdf|taf", "lamivudine?|3tc", "emtricitabine?|ftc", "entecavir")
_HIV_BACKBONE = frozenset({"tenofovir", "lamivudine", "emtricitabine"})
_MED_COMBINATION = "med.arv.nrti-combination"
_MED_RULES = [
    *((f"med.arv.{_name(fragment)}", fragment) for fragment in _ARVS),
    ("med.oat.methadone", "methadone?"),
    ("med.oat.buprenorphine", "buprenorphine?"),  # with or without naloxone
    *((f"med.hbv-caveat.{_name(fragment)}", fragment) for fragment in _HBV_CAPABLE),
    ("med.hiv-context.cotrimoxazole", "co[ -]?trimoxazole?|sulfamethoxazole?|bactrim|biseptol"),
]
_MED_MATCHER = _Alternation(_MED_RULES)

# Services and lab lines (XML3 TEN_DICH_VU, XML4 TEN_CHI_SO), folded to ASCII. Hepatitis B tests (HBV DNA,
# HBsAg, "tải lượng vi rút viêm gan B") name no HIV word and pass.
_SVC_HIV = _words("hiv", "aids")
_SVC_VIRAL_LOAD = _words("tai luong", "viral load", "rna", "dinh luong")
_SVC_PCR = _words("pcr", "dna")
_SVC_CD4 = _words(r"t?cd4(?!\d)")
# Urine drug screens. Any service naming these is dropped, including a morphine analgesia procedure: a lost
# billing line is the cheap side of the trade.
_SVC_DRUG = _words(
    "morphine?", "heroine?", "methamphetamine?", "amphetamine?", "mdma", "cocaine?", "opiate?", "marijuana", "ma[ -]tuy"
)
_SERVICE_RULES = ("svc.hiv.viral-load", "svc.hiv.infant-pcr", "svc.hiv.cd4", "svc.hiv.test", "svc.drug.urine-screen")

# scan(): a string is also read as ICD-10 code(s) when its field name (case-insensitive) is listed here, ends
# with "icd10" or "icd10_code", or is "code" inside a field whose name contains "diagnos" or "condition".
DEFAULT_CODE_FIELDS = frozenset(
    {"icd10", "icd10_code", "icd_code", "diagnosis_code", "ma_benh", "ma_benh_chinh", "ma_benh_kt"}
)
_MAX_DEPTH = 100  # the import's XML nesting limit; JSON bodies are far shallower, and a cycle ends here too
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_CODE_JUNK = re.compile(r"[^A-Z0-9]")
_CODE_LIST_SEPARATORS = re.compile(r"[;,|]")


def _normalise_code(code: str) -> str:
    return _CODE_JUNK.sub("", unicodedata.normalize("NFKC", code).upper())


def _is_code_field(key: str, parent: str, names: frozenset[str]) -> bool:
    key, parent = key.lower(), parent.lower()
    if key in names or key.endswith(("icd10", "icd10_code")):
        return True
    return key == "code" and ("diagnos" in parent or "condition" in parent)


def _members(value: object) -> Iterable[tuple[str, object]]:
    """Named children of a mapping, a msgspec Struct, a dataclass or a plain object (public attributes)."""
    if isinstance(value, Mapping):
        return ((str(key), child) for key, child in value.items())
    if isinstance(value, type):
        return ()
    struct_fields = getattr(value, "__struct_fields__", None)  # msgspec, without importing it
    if isinstance(struct_fields, tuple):
        return ((name, getattr(value, name, None)) for name in struct_fields)
    if dataclasses.is_dataclass(value):
        return ((f.name, getattr(value, f.name)) for f in dataclasses.fields(value))
    attributes = getattr(value, "__dict__", None)
    if isinstance(attributes, dict):
        return ((name, child) for name, child in attributes.items() if not name.startswith("_"))
    return ()


class ExclusionPolicy:
    """The rules of exclusion.md under one set of switches. Stateless after construction; share it freely."""

    def __init__(self, switches: PolicySwitches | None = None) -> None:
        self.switches = switches or PolicySwitches()
        self._code_rules = tuple(r for r in CODE_RULES if r.switch is None or getattr(self.switches, r.switch))

    def check_code(self, code: str) -> Hit | None:
        """One ICD-10 code; case, dots, spaces and daggers/asterisks are ignored (" b 20.1 " is B20.1)."""
        normalised = _normalise_code(code)
        for rule in self._code_rules:
            if normalised.startswith(rule.prefixes):
                return Hit(rule.rule_id, rule.category)
        return None

    def check_codes(self, raw: str, *, field: str | None = None) -> list[Hit]:
        """A code list such as MA_BENH_KT ("I10;B20.1"): one hit per excluded code."""
        hits: list[Hit] = []
        for part in _CODE_LIST_SEPARATORS.split(raw):
            # A whole part first (" B 24 "), then its words, so a space-separated list ("I10 B20") is not missed.
            for candidate in (part, *part.split()):
                if (hit := self.check_code(candidate)) is not None:
                    hits.append(dataclasses.replace(hit, field=field))
                    break
        return hits

    def is_hiv_context_code(self, code: str) -> bool:
        return any(hit.category == "hiv" for hit in self.check_codes(code))

    def check_text(self, text: str, field: str | None = None) -> Hit | None:
        """Free text (diagnosis texts, courses, notes, "other" fields) against the lexicon."""
        rule_id = _TEXT_MATCHER.first(_normalise_text(text))
        if rule_id is None and _INVISIBLE.search(text):
            rule_id = _TEXT_MATCHER.first(_normalise_text(text, invisible=" "))
        return None if rule_id is None else Hit(rule_id, _TEXT_CATEGORY[rule_id], field)

    def check_medicine(self, name: str, *, hiv_context: bool) -> Hit | None:
        """A drug line's name or ingredients; the hepatitis-B caveat needs the episode's HIV context."""
        found = _MED_MATCHER.all(_fold(name))
        for prefix in ("med.arv.", "med.oat."):
            if always := sorted(rule for rule in found if rule.startswith(prefix)):
                return Hit(always[0], "hiv" if prefix == "med.arv." else "drugs")
        if len({rule.rsplit(".", 1)[1] for rule in found} & _HIV_BACKBONE) >= 2:
            return Hit(_MED_COMBINATION, "hiv")
        if hiv_context and found:
            return Hit(sorted(found)[0], "hiv")
        return None

    def check_service(self, name: str) -> Hit | None:
        """A service or lab line (TEN_DICH_VU, TEN_CHI_SO)."""
        folded = _fold(name)
        rule_id: str | None = None
        if _SVC_CD4.search(folded):
            rule_id = "svc.hiv.cd4"
        elif _SVC_HIV.search(folded):
            # HIV RNA by PCR is a viral load; HIV DNA PCR is how infants are diagnosed.
            rule_id = "svc.hiv.viral-load" if _SVC_VIRAL_LOAD.search(folded) else "svc.hiv.test"
            rule_id = "svc.hiv.infant-pcr" if rule_id == "svc.hiv.test" and _SVC_PCR.search(folded) else rule_id
        elif _SVC_DRUG.search(folded):
            rule_id = "svc.drug.urine-screen"
        return None if rule_id is None else Hit(rule_id, "hiv" if rule_id.startswith("svc.hiv.") else "drugs")

    def hiv_context(
        self,
        codes: Iterable[str] = (),
        medicines: Iterable[str] = (),
        services: Iterable[str] = (),
        *,
        xml6_present: bool = False,
        xml15_hiv_values: Iterable[str | None] = (),
    ) -> bool:
        """exclusion.md "HIV context": an HIV code, XML6, a filled XML15 HIV field, an ARV or an HIV test line."""
        if xml6_present or any(value and value.strip() for value in xml15_hiv_values):
            return True
        if any(self.is_hiv_context_code(raw) for raw in codes):
            return True
        if any((hit := self.check_medicine(m, hiv_context=False)) and hit.category == "hiv" for m in medicines):
            return True
        return any((hit := self.check_service(s)) and hit.category == "hiv" for s in services)

    def scan(self, payload: object, *, path: str = "", code_fields: Collection[str] = DEFAULT_CODE_FIELDS) -> list[Hit]:
        """Every hit in a request body, with its field path ("conditions[2].note"); interactive writes call this.

        Strings are checked as free text, and as codes in code fields (see DEFAULT_CODE_FIELDS). Mapping keys are
        checked too; a key that hits, or is not a plain identifier, appears in paths as "*" so no path echoes data.
        """
        hits: list[Hit] = []
        self._walk(payload, path, "", "", frozenset(name.lower() for name in code_fields), hits, 0)
        return hits

    def _walk(
        self, value: object, path: str, key: str, parent: str, names: frozenset[str], hits: list[Hit], depth: int
    ) -> None:
        if depth > _MAX_DEPTH:
            raise Invalid("payload nested too deeply to check", code="too-deep", field=path or None)
        if isinstance(value, str):
            if _is_code_field(key, parent, names):
                hits.extend(self.check_codes(value, field=path or None))
            if (hit := self.check_text(value, path or None)) is not None:
                hits.append(hit)
        elif isinstance(value, enum.Enum):
            self._walk(value.value, path, key, parent, names, hits, depth + 1)
        elif isinstance(value, list | tuple | set | frozenset):
            for index, item in enumerate(value):  # items inherit the name: ["I10", "B20"] under "icd10"
                self._walk(item, f"{path}[{index}]", key, parent, names, hits, depth + 1)
        else:
            for name, child in _members(value):
                key_hit = self.check_text(name)
                segment = name if key_hit is None and _FIELD_NAME.fullmatch(name) else "*"
                child_path = f"{path}.{segment}" if path else segment
                if key_hit is not None:
                    hits.append(dataclasses.replace(key_hit, field=child_path))
                self._walk(child, child_path, name, key, names, hits, depth + 1)

    @staticmethod
    def sql_code_pattern() -> str:
        """PostgreSQL (and Python) regex for the always-excluded codes, for a CHECK on a normalised column:
        ``NOT (upper(regexp_replace(col, '[^A-Za-z0-9]', '', 'g')) ~ '<pattern>')``. Switchable rules (T40, X42,
        X62, Y12, F15) are left out: a migration cannot follow a setting. Only ^, ( | ) and literals: same meaning
        in both engines."""
        return "^(" + "|".join(sorted(p for r in CODE_RULES if r.switch is None for p in r.prefixes)) + ")"


sql_code_pattern = ExclusionPolicy.sql_code_pattern

RULE_IDS: tuple[str, ...] = (
    *(rule.rule_id for rule in CODE_RULES),
    *(rule.rule_id for rule in LEXICON),
    *(rule_id for rule_id, _ in _MED_RULES),
    _MED_COMBINATION,
    *_SERVICE_RULES,
)

DEFAULT_POLICY = ExclusionPolicy()
