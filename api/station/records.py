"""Station staff resolve correction requests for the citizens registered with them."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import ClinicianPrincipal
from api.citizen.record_schemas import CorrectionOut
from api.citizen.records import correction_out
from api.errors import problem_spec
from core.models import CorrectionStatus, Source
from core.records.corrections import CorrectionService
from core.records.guard import Actor


class ResolutionIn(msgspec.Struct, forbid_unknown_fields=True):
    decision: Literal["accept", "reject"]
    resolution: Annotated[str, msgspec.Meta(min_length=2, max_length=2000)]


class StationCorrectionController(Controller):
    path = "/corrections"
    tags = ["station"]  # noqa: RUF012 - Litestar reads the class attribute

    @get("/", summary="Correction requests for citizens registered at this station")
    async def list_corrections(
        self,
        staff: NamedDependency[ClinicianPrincipal],
        db_session: NamedDependency[AsyncSession],
        status: FromQuery[Literal["open", "accepted", "rejected"] | None] = "open",
    ) -> list[CorrectionOut]:
        rows = await CorrectionService(db_session).for_station(
            staff.facility_id, status=CorrectionStatus(status) if status else None
        )
        return [correction_out(r) for r in rows]

    @post(
        "/{correction_id:uuid}/resolve",
        status_code=200,
        summary="Accept or reject a correction request",
        responses={409: problem_spec("The correction was already resolved")},
    )
    async def resolve(
        self,
        correction_id: FromPath[uuid.UUID],
        data: JSONBody[ResolutionIn],
        staff: NamedDependency[ClinicianPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> CorrectionOut:
        actor = Actor(Source.station, clinician_id=staff.clinician_id, facility_id=staff.facility_id)
        request = await CorrectionService(db_session).resolve(
            correction_id,
            facility_id=staff.facility_id,
            accept=data.decision == "accept",
            resolution=data.resolution,
            actor=actor,
            path="POST station/corrections",
        )
        return correction_out(request)


ROUTES = [StationCorrectionController]
