"""The exclusion filter for one XML 130 episode, in the order shared/domain/exclusion.md gives (it is the rule).

1. XML6 present → the episode is quarantined (the parser never decoded it).
2. XML15's HIV fields are stripped; the TB data stays.
3. ICD-10 codes are deny-listed: an excluded main diagnosis (XML1, XML13, XML14) quarantines the episode; an
   excluded secondary code is dropped everywhere it repeats (XML1 ``MA_BENH_KT``, XML2/XML3 ``MA_BENH``, XML13,
   XML14).
4. Drug lines (XML2) through the medicine rules; hepatitis-B-capable antivirals and cotrimoxazole only fall in HIV
   context. 5. Service (XML3) and lab (XML4) lines through the service rules; lab lines of a dropped service go
   with it. Item names are judged as items: a name that hits the lexicon drops its line, not the episode.
6. The lexicon on every free text that is left (and an excluded ICD-10 code written inside a text counts the same).
   Any hit quarantines the episode: a narrative cannot be cut safely.

Pure: the policy's rules (``core/records/exclusion.py``) are reused, never restated. Hits carry rule ids and
``TABLE.FIELD`` paths only.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import msgspec

from core.interop.episode import Episode, LabResult, Service
from core.records.exclusion import DEFAULT_POLICY, ExclusionPolicy, Hit

# Structural rules of the import path; receipts cite them like the policy's own rule ids.
RULE_XML6 = "his.xml6"
RULE_XML15_HIV = "his.xml15.hiv-field"
RULE_QUARANTINED = "his.quarantined"  # one per quarantined episode: how a repeat of it is recognised
# An ICD-10 code as people write it inside a sentence ("... (B20.1)", "j18.9").
_CODE_IN_TEXT = re.compile(r"(?<![A-Za-z0-9])[A-Za-z][0-9]{2}(?:\.?[0-9A-Za-z]{1,4})?(?![A-Za-z0-9])")


@dataclass(slots=True)
class Screened:
    """The filter's verdict. Not frozen: the import appends what its last look at the stored form finds."""

    episode: Episode  # what may be kept; meaningless when quarantined
    hits: list[Hit]  # every exclusion, those that quarantine included
    reasons: list[Hit]  # the hits that quarantine the whole episode
    hiv_context: bool

    @property
    def quarantined(self) -> bool:
        return bool(self.reasons)


def _all_codes(episode: Episode) -> Iterator[str]:
    s = episode.summary
    yield from [c for c in (s.main_icd10,) if c]
    yield from s.secondary_icd10
    for medication in episode.medications:
        yield from medication.icd10
    for line in episode.services:
        yield from line.icd10
    for paper in episode.referrals:
        yield from [c for c in (paper.main_icd10,) if c]
        yield from paper.secondary_icd10
    for appointment in episode.follow_ups:
        yield from [c for c in (appointment.main_icd10,) if c]
        yield from appointment.secondary_icd10


def hiv_context(episode: Episode, policy: ExclusionPolicy = DEFAULT_POLICY) -> bool:
    """exclusion.md "HIV context", read from the episode as it arrived (before anything is dropped)."""
    return policy.hiv_context(
        codes=_all_codes(episode),
        medicines=(m.name for m in episode.medications),
        services=[*(s.name for s in episode.services), *(lab.name for lab in episode.lab_results)],
        xml6_present=episode.xml6_present,
        xml15_hiv_values=[value for record in episode.tuberculosis for value in record.sensitive.values()],
    )


class _Screen:
    def __init__(self, episode: Episode, policy: ExclusionPolicy) -> None:
        self.episode = episode
        self.policy = policy
        self.hits: list[Hit] = []
        self.reasons: list[Hit] = []
        self.context = hiv_context(episode, policy)

    def quarantine(self, hit: Hit, field: str) -> None:
        hit = dataclasses.replace(hit, field=field)
        self.hits.append(hit)
        self.reasons.append(hit)

    def drop(self, hit: Hit, field: str) -> None:
        self.hits.append(dataclasses.replace(hit, field=field))

    def main_code(self, code: str | None, field: str) -> None:
        for hit in self.policy.check_codes(code or "", field=field):
            self.quarantine(hit, field)

    def codes(self, codes: Iterable[str], field: str) -> list[str]:
        kept: list[str] = []
        for code in codes:
            found = self.policy.check_codes(code, field=field)
            for hit in found:
                self.drop(hit, field)
            if not found:
                kept.append(code)
        return kept

    def item(self, name: str, field: str, *, medicine: bool) -> bool:
        """Keep the line? Medicine or service rules first, then the lexicon on the item's name."""
        if medicine:
            hit = self.policy.check_medicine(name, hiv_context=self.context)
        else:
            hit = self.policy.check_service(name)
        hit = hit or self.policy.check_text(name)
        if hit is not None:
            self.drop(hit, field)
        return hit is None

    def text(self, value: str | None, field: str) -> None:
        if not value:
            return
        if (hit := self.policy.check_text(value)) is not None:
            self.quarantine(hit, field)
        for written in _CODE_IN_TEXT.findall(value):
            if (hit := self.policy.check_code(written)) is not None:
                self.quarantine(hit, field)

    def texts(self, table: str, values: dict[str, str]) -> None:
        for name, value in values.items():
            self.text(value, f"{table}.{name}")

    def run(self) -> Screened:
        e = self.episode
        if e.xml6_present:  # 1
            self.quarantine(Hit(RULE_XML6, "hiv"), "XML6")
        tuberculosis = []  # 2
        for record in e.tuberculosis:
            for name in record.sensitive:
                self.drop(Hit(RULE_XML15_HIV, "hiv"), f"XML15.{name}")
            tuberculosis.append(msgspec.structs.replace(record, sensitive={}))
        s = e.summary  # 3
        self.main_code(s.main_icd10, "XML1.MA_BENH_CHINH")
        summary = msgspec.structs.replace(s, secondary_icd10=self.codes(s.secondary_icd10, "XML1.MA_BENH_KT"))
        referrals = []
        for paper in e.referrals:
            self.main_code(paper.main_icd10, "XML13.MA_BENH_CHINH")
            kept = self.codes(paper.secondary_icd10, "XML13.MA_BENH_KT")
            referrals.append(msgspec.structs.replace(paper, secondary_icd10=kept))
        follow_ups = []
        for appointment in e.follow_ups:
            self.main_code(appointment.main_icd10, "XML14.MA_BENH_CHINH")
            kept = self.codes(appointment.secondary_icd10, "XML14.MA_BENH_KT")
            follow_ups.append(msgspec.structs.replace(appointment, secondary_icd10=kept))
        medications = [  # 4
            msgspec.structs.replace(m, icd10=self.codes(m.icd10, "XML2.MA_BENH"))
            for m in e.medications
            if self.item(m.name, "XML2.TEN_THUOC", medicine=True)
        ]
        services, labs = self._services_and_labs()  # 5
        screened = msgspec.structs.replace(
            e,
            summary=summary,
            medications=medications,
            services=services,
            lab_results=labs,
            referrals=referrals,
            follow_ups=follow_ups,
            tuberculosis=tuberculosis,
        )
        self._free_texts(screened)  # 6
        return Screened(screened, self.hits, self.reasons, self.context)

    def _services_and_labs(self) -> tuple[list[Service], list[LabResult]]:
        services: list[Service] = []
        dropped: dict[str, Hit] = {}  # service code → why its line went: its lab values go the same way
        for line in self.episode.services:
            before = len(self.hits)
            if self.item(line.name, "XML3.TEN_DICH_VU", medicine=False):
                services.append(msgspec.structs.replace(line, icd10=self.codes(line.icd10, "XML3.MA_BENH")))
            elif line.code:
                dropped[line.code] = self.hits[before]
        labs: list[LabResult] = []
        for lab in self.episode.lab_results:
            if lab.service_code in dropped:
                self.drop(dropped[lab.service_code], "XML4.MA_DICH_VU")
            elif self.item(lab.name, "XML4.TEN_CHI_SO", medicine=False):
                labs.append(lab)
        return services, labs

    def _free_texts(self, e: Episode) -> None:
        self.texts("XML1", e.summary.texts)
        for m in e.medications:
            self.texts("XML2", _present({"LIEU_DUNG": m.dosage, "CACH_DUNG": m.usage}))
        for line in e.services:
            self.text(line.result, "XML3.KET_QUA")
        for lab in e.lab_results:
            self.texts("XML4", _present({"GIA_TRI": lab.value, "MO_TA": lab.description, "KET_LUAN": lab.conclusion}))
        for narrative in e.narratives:
            self.texts(narrative.table, narrative.texts)
        for birth in e.births:
            self.text(birth.note, "XML9.GHI_CHU")
        for paper in e.referrals:
            self.texts("XML13", paper.texts)
        for appointment in e.follow_ups:
            self.text(appointment.diagnosis, "XML14.CHAN_DOAN_RV")
        for record in e.tuberculosis:
            self.texts("XML15", record.fields)


def _present(values: dict[str, str | None]) -> dict[str, str]:
    return {name: value for name, value in values.items() if value}


def screen(episode: Episode, policy: ExclusionPolicy = DEFAULT_POLICY) -> Screened:
    """Run the whole filter; see the module docstring for the order and what each step does."""
    return _Screen(episode, policy).run()
