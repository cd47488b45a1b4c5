"""Writing a screened episode into a citizen's record: the encounter, birth data (XML9), re-examination reminders.

Only what ``core/interop/screening.py`` kept reaches this module, and it still goes through the record service
(``RecordService.add_item`` / ``put_single``), so the interactive writes' exclusion check and history apply too.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from sqlalchemy import literal, select
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncSession

from core.identity.access import recipients_for
from core.interop.episode import Episode, ParseWarning
from core.models import BirthStatus, Citizen, Facility
from core.outbox import VN_TZ, Draft, after_quiet_hours, local_date, notify_many
from core.records.guard import Actor
from core.records.service import RecordService

REMINDER_TEMPLATE = "reexamination_due"
REMINDER_DAYS_BEFORE = 1  # the day before, from 07:00 (quiet hours end): time to arrange the trip
PATH = "his_import"  # the record history's and receipts' "path" for this import
# Column sizes of record_encounters: a longer value from a hospital is dropped with a warning, not a 500.
_SIZES = {"kind": 4, "department": 50, "outcome": 4, "discharge_type": 4, "main_icd10": 10}
_SECONDARY_SIZE = 200
_TEXT_COLUMNS = {
    "LY_DO_VV": "reason",
    "CHAN_DOAN_VAO": "admission_diagnosis",
    "CHAN_DOAN_RV": "discharge_diagnosis",
    "PP_DIEU_TRI": "treatment",
    "GHI_CHU": "note",
}


@dataclass
class Written:
    encounter_id: uuid.UUID
    kept: dict[str, int] = field(default_factory=dict)


def _plain(struct: msgspec.Struct, *, without: Iterable[str] = ()) -> dict[str, Any]:
    """JSON-ready (dates as ISO strings), empty values left out: what JSONB columns hold."""
    data: dict[str, Any] = msgspec.to_builtins(struct)
    return {key: value for key, value in data.items() if value not in (None, "", [], {}) and key not in without}


def encounter_values(episode: Episode, warnings: list[ParseWarning]) -> dict[str, Any]:
    """The ``record_encounters`` row of a screened episode (no provenance columns)."""
    s = episode.summary
    values: dict[str, Any] = {
        "facility_code": s.facility_code,
        "admitted_at": s.admitted_at or s.discharged_at,
        "discharged_at": s.discharged_at,
        "treatment_days": s.treatment_days if s.treatment_days is not None and 0 <= s.treatment_days < 10_000 else None,
        **{column: s.texts.get(name) for name, column in _TEXT_COLUMNS.items()},
    }
    for column, size in _SIZES.items():
        value = getattr(s, column)
        if value is not None and len(value) > size:
            warnings.append(ParseWarning("value_too_long", f"XML1.{column}"))
            value = None
        values[column] = value
    secondary: list[str] = []
    for code in s.secondary_icd10:
        if len(";".join([*secondary, code])) > _SECONDARY_SIZE:
            warnings.append(ParseWarning("too_many_codes", "XML1.MA_BENH_KT"))
            break
        secondary.append(code)
    values["secondary_icd10"] = ";".join(secondary) or None
    dates = sorted(appointment.on for appointment in episode.follow_ups if appointment.on)
    values["follow_up_on"] = dates[0] if dates else None
    values["documents"] = _documents(episode)
    values["medications"] = [_plain(m, without=("icd10",)) for m in episode.medications]
    values["services"] = [_plain(line, without=("icd10",)) for line in episode.services]
    values["lab_results"] = [_plain(lab) for lab in episode.lab_results]
    return values


def _documents(episode: Episode) -> dict[str, Any]:
    """The papers' texts. XML5 (the day-by-day course) is screened but not kept: the summaries say what matters."""
    documents: dict[str, Any] = {}
    for narrative in episode.narratives:
        if narrative.table == "XML7":
            documents.setdefault("discharge", {}).update(narrative.texts)
        elif narrative.table == "XML8":
            documents.setdefault("record_summary", {}).update(narrative.texts)
    referrals = [_plain(paper, without=("main_icd10", "secondary_icd10")) for paper in episode.referrals]
    follow_ups = [_plain(a, without=("main_icd10", "secondary_icd10")) for a in episode.follow_ups]
    tuberculosis = [record.fields for record in episode.tuberculosis if record.fields]
    for name, items in (("referrals", referrals), ("follow_ups", follow_ups), ("tuberculosis", tuberculosis)):
        if items:
            documents[name] = items
    return documents


def kept_counts(values: dict[str, Any]) -> dict[str, int]:
    """What an imported episode left in the record, for the report (counts only)."""
    secondary = values.get("secondary_icd10")
    documents = values["documents"]
    return {
        "diagnoses": (1 if values.get("main_icd10") else 0) + (len(secondary.split(";")) if secondary else 0),
        "medications": len(values["medications"]),
        "services": len(values["services"]),
        "lab_results": len(values["lab_results"]),
        "texts": sum(1 for column in _TEXT_COLUMNS.values() if values.get(column))
        + sum(len(documents.get(paper, {})) for paper in ("discharge", "record_summary")),
        "papers": sum(len(documents.get(paper, [])) for paper in ("referrals", "follow_ups", "tuberculosis")),
    }


class EpisodeWriter:
    """Writes one screened episode for one citizen, inside the caller's transaction."""

    def __init__(self, session: AsyncSession, *, now: dt.datetime, actor: Actor, key_tag: str) -> None:
        self.session = session
        self.now = now
        self.actor = actor
        self.key_tag = key_tag  # a short hex of the keyed hash of (facility, MA_LK): reminders' dedupe keys
        self.records = RecordService(session, now)

    async def write(self, citizen_id: uuid.UUID, episode: Episode, values: dict[str, Any]) -> Written:
        row = await self.records.add_item(citizen_id, "encounters", values, actor=self.actor, path=PATH)
        written = Written(encounter_id=row.id, kept=kept_counts(values))  # type: ignore[attr-defined]
        written.kept["birth_records"] = await self._births(citizen_id, episode)
        written.kept["reminders"] = await self._reminders(citizen_id, episode)
        return written

    async def _births(self, mother_id: uuid.UUID, episode: Episode) -> int:
        """XML9 → part B.1 of the *child's* record, when the child is known and B.1 is still empty."""
        written = 0
        for birth in episode.births:
            child_id = None
            if birth.child_card:  # the newborn's temporary card carries its BHXH number
                child_id = await self.session.scalar(
                    select(Citizen.id).where(Citizen.bhxh_number == birth.child_card[-10:])
                )
            elif birth.born_on is not None and birth.born_on == episode.summary.patient.date_of_birth:
                child_id = mother_id  # the newborn's own episode
            if child_id is None:
                continue
            if await self.session.scalar(select(BirthStatus.id).where(BirthStatus.citizen_id == child_id)):
                continue  # B.1 already filled (by a station or an earlier import): not overwritten
            values = {
                "weight_g": birth.weight_g if birth.weight_g and 200 <= birth.weight_g <= 8000 else None,
                "delivery": None if birth.caesarean is None else ("caesarean" if birth.caesarean else "normal"),
                "premature": True if birth.under_32_weeks else None,  # "not under 32 weeks" is not "term"
            }
            await self.records.put_single(child_id, "birth", values, actor=self.actor, if_match=None, path=PATH)
            written += 1
        return written

    async def _reminders(self, citizen_id: uuid.UUID, episode: Episode) -> int:
        """XML14's NGAY_HEN_KL → a generic push, the day before, to everyone who acts for the citizen."""
        today = local_date(self.now)
        target = select(literal(citizen_id, UUID).label("citizen_id")).cte("reexamination_target")
        pairs = (await self.session.execute(recipients_for(target, now=self.now))).all()
        drafts: list[Draft] = []
        for appointment in episode.follow_ups:
            if appointment.on is None or appointment.on < today:
                continue
            expires = dt.datetime.combine(appointment.on + dt.timedelta(days=1), dt.time(0), VN_TZ)
            start = dt.datetime.combine(appointment.on - dt.timedelta(days=REMINDER_DAYS_BEFORE), dt.time(7), VN_TZ)
            if after_quiet_hours(max(start, self.now)) >= expires:
                continue  # too late to be of use
            facility = await self._facility_name(appointment.facility_code or episode.summary.facility_code)
            for account_id, _citizen in pairs:
                drafts.append(
                    Draft(
                        template=REMINDER_TEMPLATE,
                        dedupe_key=f"reexam:{self.key_tag}:{appointment.on.isoformat()}:{account_id}",
                        account_id=account_id,
                        citizen_id=citizen_id,
                        params={"date": appointment.on.strftime("%d/%m/%Y"), "facility": facility},
                        not_before=start,
                        expires_at=expires,
                    )
                )
        return len(await notify_many(self.session, drafts, now=self.now)) if drafts else 0

    async def _facility_name(self, code: str) -> str:
        name = await self.session.scalar(select(Facility.name).where(Facility.code == code))
        return name or code
