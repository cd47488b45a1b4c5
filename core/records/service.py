"""Reading and writing the record. Every method takes the citizen id the caller was already authorised for
(``core.identity.access.require_access`` for the app, a grant for clinicians) and scopes every query by it.

Reads of the whole record are one query per section, whatever the record's size (the app's home screen and the
benchmark's hot path); they go through ``core.records.reading`` rather than the ORM. Writes check the exclusion
policy before anything is stored, use optimistic concurrency (the item's version = its ETag), and append to the
history.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Forbidden, Invalid, NotFound, PreconditionFailed, PreconditionRequired
from core.immunization.service import Programme
from core.immunization.service import refresh as refresh_immunization
from core.models import Citizen, Diagnosis, Examination, Source, Vaccine
from core.models.base import Base
from core.outbox import local_date
from core.records.guard import Actor, record_change, refuse_excluded
from core.records.reading import RowView, driver_connection, read_citizen, read_section
from core.records.sections import PROTECTED, SECTIONS, Section

IMMUNIZATION_SECTIONS = frozenset({"vaccinations", "reproductive"})  # doses, and pregnancy (tetanus UV doses)

CONTACT_FIELDS = frozenset(
    {"email", "cur_street", "cur_hamlet", "cur_commune_code", "caregiver_name", "caregiver_relation", "caregiver_phone"}
)


@dataclass
class RecordSummary:
    """The record as read for display: rows are ``RowView``s, read-only and detached from the session."""

    citizen: RowView
    singles: dict[str, RowView | None] = field(default_factory=dict)
    lists: dict[str, list[RowView]] = field(default_factory=dict)


def columns_of(row: Base) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}


def bmi(weight_kg: Decimal | None, height_cm: Decimal | None) -> Decimal | None:
    """Body-mass index, computed (never typed in): kg / m², one decimal."""
    if not weight_kg or not height_cm:
        return None
    metres = Decimal(height_cm) / 100
    return (Decimal(weight_kg) / (metres * metres)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


class RecordService:
    def __init__(
        self, session: AsyncSession, now: dt.datetime | None = None, *, programme: Programme | None = None
    ) -> None:
        self.session = session
        self.now = now or dt.datetime.now(dt.UTC)
        # Which immunization schedule the province runs: a dose or a pregnancy recorded here re-evaluates it.
        self.programme = programme or Programme()

    # -- reading -------------------------------------------------------------------------------------------
    async def citizen(self, citizen_id: uuid.UUID) -> Citizen:
        citizen = await self.session.get(Citizen, citizen_id)
        if citizen is None:
            raise NotFound("no such citizen", code="citizen_not_found")
        return citizen

    async def summary(self, citizen_id: uuid.UUID, sections: frozenset[str] | None = None) -> RecordSummary:
        """The whole record (or the granted sections): one query per section, newest items first."""
        connection = await driver_connection(self.session)
        citizen = await read_citizen(connection, citizen_id)
        if citizen is None:
            raise NotFound("no such citizen", code="citizen_not_found")
        summary = RecordSummary(citizen=citizen)
        for name in SECTIONS:
            if sections is not None and name not in sections:
                continue
            rows = await read_section(connection, name, citizen_id)
            if isinstance(rows, list):
                summary.lists[name] = rows
            else:
                summary.singles[name] = rows
        return summary

    async def single(self, citizen_id: uuid.UUID, section: Section) -> Base | None:
        model: Any = section.model
        return await self.session.scalar(select(model).where(model.citizen_id == citizen_id))

    async def items(
        self, citizen_id: uuid.UUID, section: Section, *, limit: int, before: tuple[Any, uuid.UUID] | None = None
    ) -> list[Base]:
        model: Any = section.model
        order = getattr(model, section.order_by)
        query = select(model).where(model.citizen_id == citizen_id, model.deleted_at.is_(None))
        if before is not None:
            key, item_id = before
            query = query.where((order < key) | ((order == key) & (model.id < item_id)))
        rows = await self.session.scalars(query.order_by(order.desc(), model.id.desc()).limit(limit))
        return list(rows.all())

    # -- writing -------------------------------------------------------------------------------------------
    def _writable(self, section: Section, actor: Actor) -> None:
        if actor.source is Source.self and not section.self_editable:
            raise Forbidden("clinical sections are written by clinicians", code="clinical_section_read_only")

    async def put_single(
        self,
        citizen_id: uuid.UUID,
        name: str,
        values: dict[str, Any],
        *,
        actor: Actor,
        if_match: int | None,
        path: str,
    ) -> Base:
        """Create or update a one-row section. Updating needs the version the writer saw (If-Match)."""
        section = SECTIONS[name]
        self._writable(section, actor)
        self._no_protected(values)
        await refuse_excluded(self.session, values, path=path, actor=actor)
        await self.citizen(citizen_id)
        model: Any = section.model
        row = await self.session.scalar(select(model).where(model.citizen_id == citizen_id).with_for_update())
        if row is None:
            if if_match not in (None, 0):
                raise PreconditionFailed("the section does not exist yet", code="version_mismatch")
            return await self._create(citizen_id, name, values, actor)
        if if_match is None:
            raise PreconditionRequired("send If-Match with the version you edited", code="if_match_required")
        if row.version != if_match:
            raise PreconditionFailed("someone else changed this section first", code="version_mismatch")
        before = {key: getattr(row, key) for key in values}
        for key, value in values.items():
            setattr(row, key, value)
        for key, value in actor.provenance().items():
            setattr(row, key, value)
        row.version += 1
        await self.session.flush()
        record_change(
            self.session,
            citizen_id=citizen_id,
            section=name,
            item_id=row.id,
            action="update",
            actor=actor,
            before=before,
            after=values,
        )
        await self._immunization_changed(citizen_id, name)
        return row  # type: ignore[no-any-return]

    async def add_item(
        self, citizen_id: uuid.UUID, name: str, values: dict[str, Any], *, actor: Actor, path: str
    ) -> Base:
        section = SECTIONS[name]
        if section.single:
            raise ValueError(f"{name} is a one-row section")
        self._writable(section, actor)
        self._no_protected(values)
        await refuse_excluded(self.session, values, path=path, actor=actor)
        await self.citizen(citizen_id)
        if name == "vaccinations":
            await self._known_vaccine(values.get("vaccine_code"))
        return await self._create(citizen_id, name, values, actor)

    async def _create(self, citizen_id: uuid.UUID, name: str, values: dict[str, Any], actor: Actor) -> Base:
        """A new row of a section (checked by the caller), its history entry, and the schedule re-evaluated."""
        row: Any = SECTIONS[name].model(citizen_id=citizen_id, **values, **actor.provenance())
        self.session.add(row)
        await self.session.flush()
        record_change(
            self.session,
            citizen_id=citizen_id,
            section=name,
            item_id=row.id,
            action="create",
            actor=actor,
            after=values,
        )
        await self._immunization_changed(citizen_id, name)
        return row  # type: ignore[no-any-return]

    async def remove_item(
        self, citizen_id: uuid.UUID, name: str, item_id: uuid.UUID, *, actor: Actor, if_match: int | None
    ) -> None:
        section = SECTIONS[name]
        self._writable(section, actor)
        model: Any = section.model
        row = await self.session.scalar(
            select(model)
            .where(model.id == item_id, model.citizen_id == citizen_id, model.deleted_at.is_(None))
            .with_for_update()
        )
        if row is None:
            raise NotFound("no such item", code="item_not_found")
        if actor.source is Source.self and row.source is not Source.self:
            # A person removes what they entered; a clinician's entry is disputed through a correction request.
            raise Forbidden("only self-entered items can be removed here", code="clinical_item_read_only")
        if if_match is not None and row.version != if_match:
            raise PreconditionFailed("someone else changed this item first", code="version_mismatch")
        row.deleted_at = self.now
        row.version += 1
        record_change(
            self.session,
            citizen_id=citizen_id,
            section=name,
            item_id=row.id,
            action="remove",
            actor=actor,
            before={"deleted_at": None},
            after={"deleted_at": self.now},
        )
        await self._immunization_changed(citizen_id, name)

    async def add_examination(
        self,
        citizen_id: uuid.UUID,
        values: dict[str, Any],
        diagnoses: list[dict[str, Any]],
        *,
        actor: Actor,
        path: str,
    ) -> tuple[Examination, list[Diagnosis]]:
        """An examination with its diagnoses, checked as one write: one excluded code refuses all of it."""
        section = SECTIONS["examinations"]
        self._writable(section, actor)
        self._no_protected(values)
        await refuse_excluded(self.session, {**values, "diagnoses": diagnoses}, path=path, actor=actor)
        await self.citizen(citizen_id)
        exam = Examination(citizen_id=citizen_id, **values, **actor.provenance())
        self.session.add(exam)
        await self.session.flush()
        rows = [
            Diagnosis(
                citizen_id=citizen_id, examination_id=exam.id, diagnosed_on=exam.examined_on, **d, **actor.provenance()
            )
            for d in diagnoses
        ]
        self.session.add_all(rows)
        await self.session.flush()
        record_change(
            self.session,
            citizen_id=citizen_id,
            section="examinations",
            item_id=exam.id,
            action="create",
            actor=actor,
            after={**values, "diagnoses": len(rows)},
        )
        return exam, rows

    async def update_contact(
        self, citizen_id: uuid.UUID, values: dict[str, Any], *, actor: Actor, if_match: int | None, path: str
    ) -> Citizen:
        """Part A contact details: the one part of the administrative section a person updates themself."""
        unknown = set(values) - CONTACT_FIELDS
        if unknown:
            raise Invalid("only contact details can be changed here", code="not_contact_fields")
        await refuse_excluded(self.session, values, path=path, actor=actor)
        citizen = await self.session.scalar(select(Citizen).where(Citizen.id == citizen_id).with_for_update())
        if citizen is None:
            raise NotFound("no such citizen", code="citizen_not_found")
        if if_match is None:
            raise PreconditionRequired("send If-Match with the version you edited", code="if_match_required")
        if citizen.version != if_match:
            raise PreconditionFailed("someone else changed these details first", code="version_mismatch")
        before = {key: getattr(citizen, key) for key in values}
        for key, value in values.items():
            setattr(citizen, key, value)
        citizen.version += 1
        await self.session.flush()
        record_change(
            self.session,
            citizen_id=citizen_id,
            section="administrative",
            item_id=citizen.id,
            action="update",
            actor=actor,
            before=before,
            after=values,
        )
        return citizen

    async def _immunization_changed(self, citizen_id: uuid.UUID, section: str) -> None:
        """Keep immunization_due in step in the same transaction: the station's lists see the dose at once."""
        if section in IMMUNIZATION_SECTIONS:
            await refresh_immunization(self.session, [citizen_id], today=local_date(self.now), programme=self.programme)

    async def vaccine_catalogue(self) -> list[Vaccine]:
        return list((await self.session.scalars(select(Vaccine).order_by(Vaccine.code))).all())

    async def _known_vaccine(self, code: Any) -> None:
        if not isinstance(code, str) or await self.session.get(Vaccine, code) is None:
            raise Invalid("unknown vaccine code", code="unknown_vaccine", field="vaccine_code")

    @staticmethod
    def _no_protected(values: dict[str, Any]) -> None:
        # The API's Structs already forbid unknown fields; this is the second wall against mass assignment.
        if PROTECTED & set(values):
            raise Invalid("provenance and identity fields cannot be set", code="protected_field")
