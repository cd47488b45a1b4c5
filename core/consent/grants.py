"""Grants in use: a clinician's scoped access, the access log it writes, the citizen's control, break-glass.

An expired or revoked grant is "not found" on the very next request: every use looks the grant up again with
its clinician, expiry and revocation in the WHERE clause. Every use writes an access event in the same
transaction, and tells the citizen by push: on the first use and every write, and for reads at most once per
grant per hour (the hour is part of the notification's dedupe key), while every read is logged.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Uuid, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Invalid, NotFound
from core.identifiers import InvalidIdentifier, bhxh_number_from, parse_cccd
from core.identity.access import recipients_for
from core.models import AccessEvent, AccountCitizen, Citizen, Clinician, Facility, Grant, Source
from core.outbox import Draft, notify
from core.pagination import fetch_page
from core.records.guard import Actor, refuse_excluded

EMERGENCY_TTL = dt.timedelta(minutes=60)
MIN_REASON = 20


class GrantService:
    def __init__(self, session: AsyncSession, now: dt.datetime | None = None) -> None:
        self.session = session
        self.now = now or dt.datetime.now(dt.UTC)

    # -- the clinician side --------------------------------------------------------------------------------------
    def _live(self) -> list[Any]:
        return [Grant.revoked_at.is_(None), Grant.starts_at <= self.now, Grant.expires_at > self.now]

    async def live_for_clinician(self, clinician_id: uuid.UUID) -> list[Grant]:
        rows = await self.session.scalars(
            select(Grant).where(Grant.clinician_id == clinician_id, *self._live()).order_by(Grant.expires_at)
        )
        return list(rows.all())

    async def authorize(
        self, clinician: Clinician, grant_id: uuid.UUID, *, action: str, section: str | None = None
    ) -> Grant:
        """The grant, if it is this clinician's and live (and read_write for a write, naming the section written);
        otherwise "not found".

        Callers log the access with ``log`` once the read or write has succeeded, in the same transaction, so a
        refused request (an excluded write, say) leaves no event behind.
        """
        grant = await self.session.scalar(
            select(Grant).where(Grant.id == grant_id, Grant.clinician_id == clinician.id, *self._live())
        )
        if grant is None:
            raise NotFound("no such grant", code="grant_not_found")
        if action == "write" and grant.access != "read_write":
            raise NotFound("no such grant", code="grant_not_found")  # a read grant has no write side to find
        if action == "write" and section not in grant.sections:
            # The person shared these sections read+write, not the whole record: nothing else to write into.
            raise NotFound("no such grant", code="grant_not_found")
        return grant

    async def log(self, grant: Grant, clinician: Clinician, *, action: str, sections: list[str]) -> AccessEvent:
        facility = await self.session.get(Facility, clinician.facility_id)
        event = AccessEvent(
            citizen_id=grant.citizen_id,
            grant_id=grant.id,
            actor_kind="clinician",
            actor_clinician_id=clinician.id,
            actor_name=clinician.full_name,
            actor_licence=clinician.licence_number,
            facility_name=facility.name if facility else None,
            sections=sections,
            action=action,
            at=self.now,
        )
        self.session.add(event)
        first_use = grant.first_used_at is None
        if first_use:
            grant.first_used_at = self.now
        await self.session.flush()
        # Reads coalesce by the hour: the dedupe key is the same for every read of this grant in this hour.
        key = f"access:{grant.id}:{event.id}" if action != "read" else f"access:{grant.id}:{self.now:%Y%m%d%H}"
        await self._tell_citizen(grant.citizen_id, key, clinician.full_name, facility.name if facility else "")
        return event

    async def _tell_citizen(self, citizen_id: uuid.UUID, key: str, actor: str, facility: str) -> None:
        # Those who act for the person now: the person from 14, a child's guardians, delegates. Not every phone
        # linked to the person: a child under 14 cannot open the record the push is about.
        person = select(literal(citizen_id, Uuid()).label("citizen_id")).subquery()
        accounts = (await self.session.execute(recipients_for(person, now=self.now))).scalars().all()
        for account_id in accounts:
            await notify(
                self.session,
                Draft(
                    template="record_accessed",
                    dedupe_key=f"{key}:{account_id}",
                    account_id=account_id,
                    citizen_id=citizen_id,
                    params={"actor": actor[:120], "facility": facility[:120]},
                ),
                now=self.now,
            )

    # -- the citizen side ----------------------------------------------------------------------------------------
    async def for_citizen(
        self, citizen_id: uuid.UUID, *, limit: int = 20, cursor: str | None = None
    ) -> tuple[list[Grant], str | None]:
        """Everyone who has or had access, newest grant first, a page at a time."""
        query = select(Grant).where(Grant.citizen_id == citizen_id)
        return await fetch_page(self.session, query, Grant.created_at, Grant.id, limit=limit, cursor=cursor)

    async def _own(self, citizen_id: uuid.UUID, grant_id: uuid.UUID) -> Grant:
        grant = await self.session.scalar(
            select(Grant).where(Grant.id == grant_id, Grant.citizen_id == citizen_id).with_for_update()
        )
        if grant is None:
            raise NotFound("no such grant", code="grant_not_found")
        return grant

    async def shorten(self, citizen_id: uuid.UUID, grant_id: uuid.UUID, expires_at: dt.datetime) -> Grant:
        grant = await self._own(citizen_id, grant_id)
        if expires_at > grant.expires_at:
            raise Invalid("a grant can be shortened, not extended", code="grant_extend", field="expires_at")
        grant.expires_at = max(expires_at, self.now)
        return grant

    async def revoke(self, citizen_id: uuid.UUID, grant_id: uuid.UUID) -> Grant:
        grant = await self._own(citizen_id, grant_id)
        if grant.revoked_at is None:
            grant.revoked_at = self.now
        return grant

    async def receipt(self, citizen_id: uuid.UUID, grant_id: uuid.UUID) -> dict[str, Any]:
        """Proof of a consent and its end: what was granted, to whom, for what, when, and when it stopped."""
        grant = await self._own(citizen_id, grant_id)
        clinician = await self.session.get(Clinician, grant.clinician_id)
        facility = await self.session.get(Facility, grant.facility_id)
        return {
            "grant_id": str(grant.id),
            "origin": grant.origin,
            "purpose": grant.purpose,
            "sections": grant.sections,
            "access": grant.access,
            "recipient": {
                "name": clinician.full_name if clinician else None,
                "licence": clinician.licence_number if clinician else None,
                "facility": facility.name if facility else None,
                "facility_code": facility.code if facility else None,
            },
            "granted_at": grant.starts_at.isoformat(),
            "expires_at": grant.expires_at.isoformat(),
            "revoked_at": grant.revoked_at.isoformat() if grant.revoked_at else None,
            "consent_text_version": "consent-2026.11",
            "channel": "qr" if grant.origin == "qr" else grant.origin,
        }

    async def access_log(
        self, citizen_id: uuid.UUID, *, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[AccessEvent], str | None]:
        """Newest first, every event reachable page by page: the whole history is the citizen's to see."""
        query = select(AccessEvent).where(AccessEvent.citizen_id == citizen_id)
        return await fetch_page(self.session, query, AccessEvent.at, AccessEvent.id, limit=limit, cursor=cursor)

    # -- break-glass ---------------------------------------------------------------------------------------------
    async def emergency(self, clinician: Clinician, *, identifier: str, reason: str) -> Grant:
        """Emergency access without a QR (Law 91 Art. 19): read-only, ≤ 60 minutes, flagged, told, reviewed."""
        if len(reason.strip()) < MIN_REASON:
            raise Invalid(
                f"state the reason in at least {MIN_REASON} characters", code="reason_too_short", field="reason"
            )
        await refuse_excluded(
            self.session,
            {"reason": reason},
            path="POST emergency-access",
            actor=Actor(Source.clinician, clinician_id=clinician.id),
        )
        citizen = await self._find(identifier)
        grant = Grant(
            citizen_id=citizen.id,
            clinician_id=clinician.id,
            facility_id=clinician.facility_id,
            sections=["administrative", "allergies", "conditions", "vaccinations", "diagnoses", "examinations"],
            access="read",
            purpose="BTG",
            origin="emergency",
            emergency_reason=reason.strip(),
            starts_at=self.now,
            expires_at=self.now + EMERGENCY_TTL,
        )
        self.session.add(grant)
        await self.session.flush()
        await self.log(grant, clinician, action="emergency_read", sections=grant.sections)
        return grant

    async def _find(self, identifier: str) -> Citizen:
        value = identifier.strip().upper()
        try:
            if len(value) == 12:
                citizen = await self.session.scalar(select(Citizen).where(Citizen.cccd == parse_cccd(value).value))
            else:
                bhxh = bhxh_number_from(value)
                citizen = await self.session.scalar(select(Citizen).where(or_(Citizen.bhxh_number == bhxh)))
        except InvalidIdentifier as exc:
            raise Invalid("a CCCD or a BHYT card number is required", code=exc.code, field="identifier") from exc
        if citizen is None:
            raise NotFound("no such citizen", code="citizen_not_found")
        return citizen

    async def emergencies_for_station(self, facility_id: uuid.UUID) -> list[Grant]:
        """Break-glass grants of the station's clinicians or on its citizens, newest first, for review."""
        rows = await self.session.scalars(
            select(Grant)
            .join(Citizen, Citizen.id == Grant.citizen_id)
            .where(
                Grant.origin == "emergency",
                or_(Grant.facility_id == facility_id, Citizen.home_facility_id == facility_id),
            )
            .order_by(Grant.created_at.desc())
        )
        return list(rows.all())


async def log_proxy_read(
    session: AsyncSession, citizen_id: uuid.UUID, account_id: uuid.UUID, relation: str, sections: list[str]
) -> None:
    """A guardian or delegate opened the record: logged like any other access by someone else."""
    name = await session.scalar(
        select(Citizen.full_name)
        .join(AccountCitizen, AccountCitizen.citizen_id == Citizen.id)
        .where(AccountCitizen.account_id == account_id)
        .limit(1)
    )
    session.add(
        AccessEvent(
            citizen_id=citizen_id,
            actor_kind=relation,
            actor_account_id=account_id,
            actor_name=name or "",
            sections=sections,
            action="read",
        )
    )
