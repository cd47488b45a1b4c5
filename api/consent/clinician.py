"""The clinician's side of consent: redeem a QR, list grants, read and write the record under a grant, and
emergency (break-glass) access. Every route here needs a clinician token; every use of a grant is logged."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import provide_clinician
from api.citizen.records import citizen_out, item_out
from api.consent.citizen import grant_out
from api.consent.schemas import EmergencyIn, ExaminationIn, GrantOut, NoteIn, RedeemIn, VaccinationIn
from api.errors import problem_spec
from core.consent.grants import GrantService
from core.consent.shares import ShareService
from core.errors import Forbidden, Unauthenticated
from core.immunization.service import Programme
from core.models import Clinician, Grant, Source, StaffRole
from core.records.guard import Actor
from core.records.service import RecordService
from core.settings import Settings

GRANT_GONE = {
    404: problem_spec(
        "No such grant for you: unknown, expired, revoked, or, for a write, read-only or not naming that section"
    )
}


async def provide_clinician_row(
    request: Request[Any, Any, Any], settings: NamedDependency[Settings], db_session: NamedDependency[AsyncSession]
) -> Clinician:
    principal = await provide_clinician(request, settings, db_session)
    clinician = await db_session.get(Clinician, principal.clinician_id)
    if clinician is None or not clinician.active:
        raise Unauthenticated("clinician not active", code="invalid_token")
    return clinician


def actor_for(clinician: Clinician) -> Actor:
    return Actor(Source.clinician, clinician_id=clinician.id, facility_id=clinician.facility_id)


def _decimals(values: dict[str, Any]) -> dict[str, Any]:
    # NUMERIC columns get the decimal exactly as sent, not a binary float.
    return {k: Decimal(str(v)) if isinstance(v, float) else v for k, v in values.items()}


class RedeemController(Controller):
    path = "/shares"
    tags = ["consent"]  # noqa: RUF012 - Litestar reads the class attribute

    @post(
        "/redeem",
        status_code=201,
        summary="Redeem a citizen's QR: a grant bound to you and your facility",
        responses={
            401: problem_spec("Wrong passcode; remaining_attempts says how many are left"),
            404: problem_spec("Unknown, used or expired share"),
        },
    )
    async def redeem(
        self,
        data: JSONBody[RedeemIn],
        clinician: NamedDependency[Clinician],
        settings: NamedDependency[Settings],
        db_session: NamedDependency[AsyncSession],
    ) -> GrantOut:
        return grant_out(await ShareService(db_session, settings).redeem(data.token, data.passcode, clinician))


class GrantController(Controller):
    path = "/grants"
    tags = ["consent"]  # noqa: RUF012 - Litestar reads the class attribute

    @get("/", summary="My live grants")
    async def mine(
        self, clinician: NamedDependency[Clinician], db_session: NamedDependency[AsyncSession]
    ) -> list[GrantOut]:
        return [grant_out(g) for g in await GrantService(db_session).live_for_clinician(clinician.id)]

    @get(
        "/{grant_id:uuid}/record",
        summary="The granted sections of the record (this read is logged)",
        responses=GRANT_GONE,
    )
    async def record(
        self,
        grant_id: FromPath[uuid.UUID],
        clinician: NamedDependency[Clinician],
        db_session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        grants = GrantService(db_session)
        grant = await grants.authorize(clinician, grant_id, action="read")
        record = await granted_record(db_session, grant)
        await grants.log(grant, clinician, action="read", sections=list(grant.sections))
        return record

    async def _write(self, db_session: AsyncSession, clinician: Clinician, grant_id: uuid.UUID, section: str) -> Grant:
        return await GrantService(db_session).authorize(clinician, grant_id, action="write", section=section)

    async def _logged(self, db_session: AsyncSession, clinician: Clinician, grant: Grant, section: str) -> None:
        await GrantService(db_session).log(grant, clinician, action="write", sections=[section])

    @post(
        "/{grant_id:uuid}/examinations", summary="Record an examination under a read_write grant", responses=GRANT_GONE
    )
    async def add_examination(
        self,
        grant_id: FromPath[uuid.UUID],
        data: JSONBody[ExaminationIn],
        clinician: NamedDependency[Clinician],
        db_session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        grant = await self._write(db_session, clinician, grant_id, "examinations")
        values = _decimals(msgspec.structs.asdict(data))
        diagnoses = [
            msgspec.structs.asdict(d) | {"icd10": d.icd10.upper() if d.icd10 else None} for d in values.pop("diagnoses")
        ]
        exam, rows = await RecordService(db_session).add_examination(
            grant.citizen_id, values, diagnoses, actor=actor_for(clinician), path="POST grants/examinations"
        )
        await self._logged(db_session, clinician, grant, "examinations")
        return item_out(exam) | {"diagnoses": [item_out(r) for r in rows]}

    @post(
        "/{grant_id:uuid}/vaccinations",
        summary="Record a vaccination under a read_write grant",
        responses={**GRANT_GONE, 422: problem_spec("A vaccine code not in the catalogue, or a date in the future")},
    )
    async def add_vaccination(
        self,
        grant_id: FromPath[uuid.UUID],
        data: JSONBody[VaccinationIn],
        clinician: NamedDependency[Clinician],
        db_session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
    ) -> dict[str, Any]:
        grant = await self._write(db_session, clinician, grant_id, "vaccinations")
        row = await RecordService(db_session, programme=Programme.from_settings(settings)).add_item(
            grant.citizen_id,
            "vaccinations",
            msgspec.structs.asdict(data),
            actor=actor_for(clinician),
            path="POST grants/vaccinations",
        )
        await self._logged(db_session, clinician, grant, "vaccinations")
        return item_out(row)

    @post("/{grant_id:uuid}/notes", summary="Write an encounter note under a read_write grant", responses=GRANT_GONE)
    async def add_note(
        self,
        grant_id: FromPath[uuid.UUID],
        data: JSONBody[NoteIn],
        clinician: NamedDependency[Clinician],
        db_session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        grant = await self._write(db_session, clinician, grant_id, "notes")
        service = RecordService(db_session)
        row = await service.add_item(
            grant.citizen_id,
            "notes",
            {"text": data.text, "written_on": data.written_on or service.now.date()},
            actor=actor_for(clinician),
            path="POST grants/notes",
        )
        await self._logged(db_session, clinician, grant, "notes")
        return item_out(row)


class EmergencyController(Controller):
    path = "/emergency-access"
    tags = ["consent"]  # noqa: RUF012 - Litestar reads the class attribute

    @post(
        "/",
        summary="Break-glass: read-only access for 60 minutes, flagged, told to the citizen, reviewed",
        responses={
            404: problem_spec("No person with that identifier"),
            422: problem_spec("Not a CCCD or health insurance number, or a reason too short"),
        },
    )
    async def emergency(
        self,
        data: JSONBody[EmergencyIn],
        clinician: NamedDependency[Clinician],
        db_session: NamedDependency[AsyncSession],
    ) -> GrantOut:
        if clinician.role is not StaffRole.clinician:
            raise Forbidden("break-glass is for clinicians", code="clinician_role_required")
        grant = await GrantService(db_session).emergency(clinician, identifier=data.identifier, reason=data.reason)
        return grant_out(grant)


async def granted_record(db_session: AsyncSession, grant: Grant) -> dict[str, Any]:
    """Only the sections the grant names; the person's name and birth date always, to know whose record it is."""
    sections = frozenset(grant.sections)
    summary = await RecordService(db_session).summary(grant.citizen_id, sections=sections - {"administrative"})
    citizen = summary.citizen
    body: dict[str, Any] = {
        "grant_id": str(grant.id),
        "patient": {"full_name": citizen.full_name, "date_of_birth": citizen.date_of_birth, "sex": citizen.sex.value},
        "sections": {name: item_out(row) if row is not None else None for name, row in summary.singles.items()}
        | {name: [item_out(r) for r in rows] for name, rows in summary.lists.items()},
    }
    if "administrative" in sections:
        body["administrative"] = citizen_out(citizen)
    return body


ROUTES = [RedeemController, GrantController, EmergencyController]
