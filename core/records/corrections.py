"""Correction requests: a person disputes a clinical item; the station that holds the record decides."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, Invalid, NotFound
from core.models import Citizen, CorrectionRequest, CorrectionStatus
from core.pagination import fetch_page
from core.records.guard import Actor, refuse_excluded
from core.records.sections import SECTIONS

DISPUTABLE = frozenset({*SECTIONS, "administrative"})


class CorrectionService:
    def __init__(self, session: AsyncSession, now: dt.datetime | None = None) -> None:
        self.session = session
        self.now = now or dt.datetime.now(dt.UTC)

    async def request(
        self,
        citizen_id: uuid.UUID,
        *,
        section: str,
        item_id: uuid.UUID | None,
        description: str,
        actor: Actor,
        path: str,
    ) -> CorrectionRequest:
        if section not in DISPUTABLE:
            raise Invalid("unknown record section", code="unknown_section", field="section")
        # What a person writes about their record goes through the same exclusion check as the record itself.
        await refuse_excluded(self.session, {"description": description}, path=path, actor=actor)
        if item_id is not None:
            model: Any = SECTIONS[section].model if section in SECTIONS else Citizen
            owner_column = model.citizen_id if model is not Citizen else model.id
            found = await self.session.scalar(select(model.id).where(model.id == item_id, owner_column == citizen_id))
            if found is None:
                raise NotFound("no such item in this record", code="item_not_found")
        request = CorrectionRequest(
            citizen_id=citizen_id,
            section=section,
            item_id=item_id,
            description=description,
            requested_by=actor.account_id,
        )
        self.session.add(request)
        await self.session.flush()
        return request

    async def for_citizen(
        self, citizen_id: uuid.UUID, *, limit: int = 20, cursor: str | None = None
    ) -> tuple[list[CorrectionRequest], str | None]:
        """Newest first, a page at a time."""
        query = select(CorrectionRequest).where(CorrectionRequest.citizen_id == citizen_id)
        return await fetch_page(
            self.session, query, CorrectionRequest.created_at, CorrectionRequest.id, limit=limit, cursor=cursor
        )

    async def for_station(self, facility_id: uuid.UUID, *, status: CorrectionStatus | None) -> list[CorrectionRequest]:
        query = (
            select(CorrectionRequest)
            .join(Citizen, Citizen.id == CorrectionRequest.citizen_id)
            .where(Citizen.home_facility_id == facility_id)
        )
        if status is not None:
            query = query.where(CorrectionRequest.status == status)
        rows = await self.session.scalars(query.order_by(CorrectionRequest.created_at))
        return list(rows.all())

    async def resolve(
        self,
        request_id: uuid.UUID,
        *,
        facility_id: uuid.UUID,
        accept: bool,
        resolution: str,
        actor: Actor,
        path: str,
    ) -> CorrectionRequest:
        await refuse_excluded(self.session, {"resolution": resolution}, path=path, actor=actor)
        found = (
            await self.session.execute(
                select(CorrectionRequest)
                .join(Citizen, Citizen.id == CorrectionRequest.citizen_id)
                .where(CorrectionRequest.id == request_id, Citizen.home_facility_id == facility_id)
                .with_for_update(of=CorrectionRequest)
            )
        ).scalar_one_or_none()
        if found is None:
            raise NotFound("no such correction request", code="correction_not_found")
        if found.status is not CorrectionStatus.open:
            raise Conflict("already resolved", code="correction_resolved")
        found.status = CorrectionStatus.accepted if accept else CorrectionStatus.rejected
        found.resolution = resolution
        found.resolved_by = actor.clinician_id
        found.resolved_at = self.now
        return found
