"""Health-station routes under ``/v1/station``: station staff and admins of a facility, scoped to it."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router
from litestar.di import NamedDependency, Provide
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import ClinicianPrincipal, provide_clinician
from api.consent import STATION_ROUTES as STATION_CONSENT_ROUTES
from api.station import campaigns, coverage, his_episodes, identity, records, schedules
from core.errors import Forbidden
from core.models import StaffRole
from core.settings import Settings

STATION_ROLES = {StaffRole.station_staff, StaffRole.station_admin}


async def provide_station_staff(
    request: Request[Any, Any, Any],
    settings: NamedDependency[Settings],
    db_session: NamedDependency[AsyncSession],
) -> ClinicianPrincipal:
    principal = await provide_clinician(request, settings, db_session)
    if principal.role not in STATION_ROLES:
        raise Forbidden("station staff only", code="station_role_required")
    return principal


station_router = Router(
    path="/v1/station",
    route_handlers=[
        *identity.ROUTES,
        *records.ROUTES,
        *schedules.ROUTES,
        *coverage.ROUTES,
        *campaigns.ROUTES,
        *his_episodes.ROUTES,
        *STATION_CONSENT_ROUTES,
    ],
    dependencies={"staff": Provide(provide_station_staff)},
    security=[{"bearer": []}],
)
