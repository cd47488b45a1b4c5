"""``/v1/station/his-episodes``: hospital episodes waiting for the station to say whose they are (issue 9).

Who the hospital says the patient was, and a suggestion; never the clinical content (``core/interop/pending.py``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import ClinicianPrincipal
from core.interop.episodes import HisImportService
from core.interop.pending import PendingEpisodeService
from core.settings import Settings


class PendingEpisodeOut(msgspec.Struct):
    id: uuid.UUID
    received_at: dt.datetime
    reason: str  # not_found, no_identifier, identifiers_disagree
    source_facility_code: str
    full_name: str | None
    date_of_birth: str | None
    sex: str | None
    admitted_at: str | None
    discharged_at: str | None
    suggested_citizen_id: uuid.UUID | None  # same name, birth date and sex: a hint only


class PendingPageOut(msgspec.Struct):
    items: list[PendingEpisodeOut]
    next_cursor: str | None


class ResolveIn(msgspec.Struct, forbid_unknown_fields=True):
    citizen_id: uuid.UUID


class ResolvedOut(msgspec.Struct):
    encounter_id: uuid.UUID


class PendingEpisodeController(Controller):
    path = "/his-episodes/pending"
    tags = ["station"]  # noqa: RUF012 - Litestar reads the class attribute

    @get("/", summary="Hospital episodes nobody could be matched to, for this station to resolve (oldest first)")
    async def pending(
        self,
        staff: NamedDependency[ClinicianPrincipal],
        db_session: NamedDependency[AsyncSession],
        limit: FromQuery[int] = 50,
        cursor: FromQuery[str | None] = None,
    ) -> PendingPageOut:
        views, next_cursor = await PendingEpisodeService(db_session, staff.facility_id).open(limit=limit, cursor=cursor)
        return PendingPageOut([PendingEpisodeOut(**dataclasses.asdict(v)) for v in views], next_cursor)

    @post("/{pending_id:uuid}/resolve", status_code=200, summary="Attach the episode to one of this station's people")
    async def resolve(
        self,
        pending_id: FromPath[uuid.UUID],
        data: JSONBody[ResolveIn],
        staff: NamedDependency[ClinicianPrincipal],
        db_session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
    ) -> ResolvedOut:
        await PendingEpisodeService(db_session, staff.facility_id).check_own_person(data.citizen_id)
        encounter_id = await HisImportService(db_session, settings).resolve_pending(
            pending_id, data.citizen_id, facility_id=staff.facility_id, clinician_id=staff.clinician_id
        )
        return ResolvedOut(encounter_id)

    @post("/{pending_id:uuid}/dismiss", status_code=204, summary="Not one of this station's people: drop the copy")
    async def dismiss(
        self,
        pending_id: FromPath[uuid.UUID],
        staff: NamedDependency[ClinicianPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> None:
        await PendingEpisodeService(db_session, staff.facility_id).dismiss(pending_id, staff.clinician_id)


ROUTES = [PendingEpisodeController]
