"""The station's side of HIS episodes nobody could be matched to: list, attach to one of its people, or dismiss.

An episode whose person was not found by CCCD or BHXH number waits for the health station of the person's commune
(``core/interop/episodes.py``). The station sees who the hospital says it was (name, date of birth, sex, the
hospital and the dates) and a suggestion, never the clinical content: deciding *whose* episode it is needs no
diagnosis. A station attaches an episode only to one of its own people (``home_facility_id``): the same scope as
every other station action, so a mistaken id cannot write into another station's records.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFound
from core.models import Citizen, HisImport, HisImportStatus, PendingEpisode, PendingStatus
from core.pagination import fetch_page


@dataclass(frozen=True, slots=True)
class PendingView:
    id: uuid.UUID
    received_at: dt.datetime
    reason: str
    source_facility_code: str
    full_name: str | None
    date_of_birth: str | None
    sex: str | None
    admitted_at: str | None
    discharged_at: str | None
    suggested_citizen_id: uuid.UUID | None


def _view(row: PendingEpisode) -> PendingView:
    summary: dict[str, Any] = row.episode.get("summary", {})
    patient: dict[str, Any] = summary.get("patient", {})
    return PendingView(
        id=row.id,
        received_at=row.created_at,
        reason=row.reason,
        source_facility_code=row.source_facility_code,
        full_name=patient.get("full_name"),
        date_of_birth=patient.get("date_of_birth"),
        sex=patient.get("sex"),
        admitted_at=summary.get("admitted_at"),
        discharged_at=summary.get("discharged_at"),
        suggested_citizen_id=row.suggested_citizen_id,
    )


class PendingEpisodeService:
    def __init__(self, session: AsyncSession, facility_id: uuid.UUID, now: dt.datetime | None = None) -> None:
        self.session = session
        self.facility_id = facility_id
        self.now = now or dt.datetime.now(dt.UTC)

    async def open(self, *, limit: int, cursor: str | None) -> tuple[list[PendingView], str | None]:
        """Oldest first: an episode waiting longest is the one a citizen is missing longest."""
        query = select(PendingEpisode).where(
            PendingEpisode.facility_id == self.facility_id, PendingEpisode.status == PendingStatus.open
        )
        rows, next_cursor = await fetch_page(
            self.session,
            query,
            PendingEpisode.created_at,
            PendingEpisode.id,
            limit=limit,
            cursor=cursor,
            newest_first=False,
        )
        return [_view(r) for r in rows], next_cursor

    async def check_own_person(self, citizen_id: uuid.UUID) -> None:
        owner = await self.session.scalar(select(Citizen.home_facility_id).where(Citizen.id == citizen_id))
        if owner != self.facility_id:
            raise NotFound("no such citizen", code="citizen_not_found")

    async def dismiss(self, pending_id: uuid.UUID, clinician_id: uuid.UUID) -> None:
        """Not one of ours (moved away, a hospital's mistake): the held copy is wiped, the ledger says so."""
        pending = await self.session.scalar(
            select(PendingEpisode)
            .where(
                PendingEpisode.id == pending_id,
                PendingEpisode.facility_id == self.facility_id,
                PendingEpisode.status == PendingStatus.open,
            )
            .with_for_update()
        )
        if pending is None:
            raise NotFound("no such pending episode", code="pending_episode_not_found")
        pending.status, pending.resolved_by, pending.resolved_at, pending.episode = (
            PendingStatus.dismissed,
            clinician_id,
            self.now,
            {},
        )
        ledger = await self.session.scalar(select(HisImport).where(HisImport.pending_id == pending_id))
        if ledger is not None:
            ledger.status = HisImportStatus.dismissed
        await self.session.flush()
