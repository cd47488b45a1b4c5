"""Station staff confirm phone links in person and record guardians of the children registered with them."""

from __future__ import annotations

import uuid

from litestar import Controller, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import ClinicianPrincipal
from api.errors import problem_spec
from api.station.schemas import GuardianshipIn, GuardianshipOut, LinkRequestOut, LinkRequestPageOut
from core.identity.guardianship import GuardianshipService
from core.identity.link import LinkRequestService
from core.models import Citizen, LinkRequest


def _out(request: LinkRequest, citizen: Citizen) -> LinkRequestOut:
    return LinkRequestOut(
        request_id=request.id,
        citizen_id=citizen.id,
        full_name=citizen.full_name,
        date_of_birth=citizen.date_of_birth,
        created_at=request.created_at,
        status=request.status.value,
    )


class LinkRequestController(Controller):
    path = "/link-requests"
    tags = ["station"]  # noqa: RUF012 - Litestar reads the class attribute

    @get("/", summary="Phone links waiting for an in-person check at this station, oldest first (cursor pages)")
    async def pending(
        self,
        staff: NamedDependency[ClinicianPrincipal],
        db_session: NamedDependency[AsyncSession],
        limit: FromQuery[int] = 50,
        cursor: FromQuery[str | None] = None,
    ) -> LinkRequestPageOut:
        rows, next_cursor = await LinkRequestService(db_session, staff.facility_id).pending(limit=limit, cursor=cursor)
        return LinkRequestPageOut(items=[_out(r, c) for r, c in rows], next_cursor=next_cursor)

    @post(
        "/{request_id:uuid}/approve",
        status_code=200,
        summary="Confirm: the person showed their papers",
        responses={409: problem_spec("The request was already resolved")},
    )
    async def approve(
        self,
        request_id: FromPath[uuid.UUID],
        staff: NamedDependency[ClinicianPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> LinkRequestOut:
        request, citizen = await LinkRequestService(db_session, staff.facility_id).resolve(
            request_id, approve=True, clinician_id=staff.clinician_id
        )
        return _out(request, citizen)

    @post(
        "/{request_id:uuid}/reject",
        status_code=200,
        summary="Reject the link request",
        responses={409: problem_spec("The request was already resolved")},
    )
    async def reject(
        self,
        request_id: FromPath[uuid.UUID],
        staff: NamedDependency[ClinicianPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> LinkRequestOut:
        request, citizen = await LinkRequestService(db_session, staff.facility_id).resolve(
            request_id, approve=False, clinician_id=staff.clinician_id
        )
        return _out(request, citizen)


class GuardianshipController(Controller):
    path = "/guardianships"
    tags = ["station"]  # noqa: RUF012 - Litestar reads the class attribute

    @post(
        "/",
        status_code=201,
        summary="Record a parent or legal guardian of a child registered here",
        responses={
            404: problem_spec("No such person registered at this station"),
            409: problem_spec("That guardianship already exists"),
            422: problem_spec("A guardian who may not be one (a minor, the child themselves)"),
        },
    )
    async def create(
        self,
        data: JSONBody[GuardianshipIn],
        staff: NamedDependency[ClinicianPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> GuardianshipOut:
        link = await GuardianshipService(db_session).create(
            data.guardian_citizen_id,
            data.citizen_id,
            relation=data.relation,
            source="station",
            created_by=staff.clinician_id,
            station_facility_id=staff.facility_id,
        )
        return GuardianshipOut(
            guardianship_id=link.id,
            guardian_citizen_id=link.guardian_citizen_id,
            citizen_id=link.citizen_id,
            relation=link.relation,
            created_at=link.created_at,
        )

    @delete("/{guardianship_id:uuid}", status_code=204, summary="End a guardianship (court decision, error)")
    async def revoke(
        self,
        guardianship_id: FromPath[uuid.UUID],
        staff: NamedDependency[ClinicianPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> None:
        await GuardianshipService(db_session).revoke(guardianship_id, station_facility_id=staff.facility_id)


ROUTES = [LinkRequestController, GuardianshipController]
