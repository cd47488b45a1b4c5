"""Station admins review emergency (break-glass) accesses."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import ClinicianPrincipal
from core.consent.grants import GrantService
from core.errors import Forbidden
from core.models import StaffRole


class EmergencyReviewController(Controller):
    path = "/emergency-accesses"
    tags = ["consent"]  # noqa: RUF012 - Litestar reads the class attribute

    @get("/", summary="Break-glass accesses by this station's clinicians or on its citizens, for review")
    async def list_emergencies(
        self, staff: NamedDependency[ClinicianPrincipal], db_session: NamedDependency[AsyncSession]
    ) -> list[dict[str, Any]]:
        if staff.role is not StaffRole.station_admin:
            raise Forbidden("station admins review emergency access", code="station_admin_required")
        rows = await GrantService(db_session).emergencies_for_station(staff.facility_id)
        return [
            {
                "grant_id": str(g.id),
                "citizen_id": str(g.citizen_id),
                "clinician_id": str(g.clinician_id),
                "reason": g.emergency_reason,
                "starts_at": g.starts_at.isoformat(),
                "expires_at": g.expires_at.isoformat(),
                "first_used_at": g.first_used_at.isoformat() if g.first_used_at else None,
            }
            for g in rows
        ]


ROUTES = [EmergencyReviewController]
