"""Guardianship of children (created by a station, or from birth data) and adult-to-adult delegations."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.identifiers import InvalidIdentifier, normalize_vn_mobile
from core.identity.access import MAJORITY_AGE
from core.models import Account, Citizen, Delegation, DelegationStatus, Guardianship
from core.outbox import Draft, local_date, notify

RELATIONS = ("mother", "father", "legal_guardian")
MAX_DELEGATION = dt.timedelta(days=365)


def age_on(date_of_birth: dt.date, day: dt.date) -> int:
    return day.year - date_of_birth.year - ((day.month, day.day) < (date_of_birth.month, date_of_birth.day))


class GuardianshipService:
    def __init__(self, session: AsyncSession, now: dt.datetime | None = None) -> None:
        self.session = session
        self.now = now or dt.datetime.now(dt.UTC)

    async def create(
        self,
        guardian_id: uuid.UUID,
        child_id: uuid.UUID,
        *,
        relation: str,
        source: str,
        created_by: uuid.UUID | None = None,
        station_facility_id: uuid.UUID | None = None,
    ) -> Guardianship:
        if relation not in RELATIONS:
            raise Invalid("relation must be mother, father or legal_guardian", code="bad_relation", field="relation")
        guardian = await self.session.get(Citizen, guardian_id)
        child = await self.session.get(Citizen, child_id)
        if guardian is None or child is None:
            raise NotFound("no such citizen", code="citizen_not_found")
        if station_facility_id is not None and child.home_facility_id != station_facility_id:
            # A station manages the children registered with it; another station's child "does not exist".
            raise NotFound("no such citizen", code="citizen_not_found")
        today = local_date(self.now)
        if age_on(child.date_of_birth, today) >= MAJORITY_AGE:
            raise Invalid("guardianship is for children under 18", code="not_a_minor", field="child_citizen_id")
        if age_on(guardian.date_of_birth, today) < MAJORITY_AGE:
            raise Invalid("a guardian must be an adult", code="guardian_minor", field="guardian_citizen_id")
        if guardian.id == child.id:
            raise Invalid("a person cannot be their own guardian", code="self_guardian")
        existing = await self.session.scalar(
            select(Guardianship).where(
                Guardianship.guardian_citizen_id == guardian.id,
                Guardianship.citizen_id == child.id,
                Guardianship.revoked_at.is_(None),
            )
        )
        if existing is not None:
            return existing
        link = Guardianship(
            guardian_citizen_id=guardian.id,
            citizen_id=child.id,
            relation=relation,
            source=source,
            created_by=created_by,
        )
        self.session.add(link)
        await self.session.flush()
        return link

    async def revoke(self, guardianship_id: uuid.UUID, *, station_facility_id: uuid.UUID) -> None:
        link = await self.session.get(Guardianship, guardianship_id)
        child = await self.session.get(Citizen, link.citizen_id) if link else None
        if link is None or child is None or child.home_facility_id != station_facility_id or link.revoked_at:
            raise NotFound("no such guardianship", code="guardianship_not_found")
        link.revoked_at = self.now


class DelegationService:
    def __init__(self, session: AsyncSession, now: dt.datetime | None = None) -> None:
        self.session = session
        self.now = now or dt.datetime.now(dt.UTC)

    async def invite(
        self, citizen_id: uuid.UUID, inviter_account_id: uuid.UUID, *, delegate_phone: str, days: int
    ) -> Delegation:
        citizen = await self.session.get(Citizen, citizen_id)
        inviter = await self.session.get(Account, inviter_account_id)
        if citizen is None or inviter is None:
            raise NotFound("no such citizen", code="citizen_not_found")
        if age_on(citizen.date_of_birth, local_date(self.now)) < MAJORITY_AGE:
            raise Forbidden("a child's record is managed by guardians", code="delegation_needs_adult")
        try:
            phone = normalize_vn_mobile(delegate_phone)
        except InvalidIdentifier as exc:
            raise Invalid("a Vietnamese mobile number is required", code=exc.code, field="delegate_phone") from exc
        if phone == inviter.phone:
            raise Invalid("you cannot delegate to your own phone", code="self_delegation", field="delegate_phone")
        if not 1 <= days <= MAX_DELEGATION.days:
            raise Invalid("a delegation lasts 1 to 365 days", code="bad_duration", field="days")
        open_invite = await self.session.scalar(
            select(Delegation.id).where(
                Delegation.citizen_id == citizen_id,
                Delegation.delegate_phone == phone,
                Delegation.status.in_([DelegationStatus.invited, DelegationStatus.active]),
                Delegation.expires_at > self.now,
            )
        )
        if open_invite is not None:
            raise Conflict("this phone already has an open delegation", code="delegation_exists")
        delegation = Delegation(
            citizen_id=citizen_id,
            invited_by=inviter.id,
            delegate_phone=phone,
            expires_at=self.now + dt.timedelta(days=days),
        )
        self.session.add(delegation)
        await self.session.flush()
        delegate = await self.session.scalar(select(Account.id).where(Account.phone == phone))
        if delegate is not None:
            await notify(
                self.session,
                Draft(template="delegation_invite", dedupe_key=f"delegation:{delegation.id}", account_id=delegate),
                now=self.now,
            )
        return delegation

    async def list_for_citizen(self, citizen_id: uuid.UUID) -> list[Delegation]:
        rows = await self.session.scalars(
            select(Delegation).where(Delegation.citizen_id == citizen_id).order_by(Delegation.created_at.desc())
        )
        return list(rows.all())

    async def revoke(self, citizen_id: uuid.UUID, delegation_id: uuid.UUID) -> Delegation:
        delegation = await self.session.scalar(
            select(Delegation).where(Delegation.id == delegation_id, Delegation.citizen_id == citizen_id)
        )
        if delegation is None:
            raise NotFound("no such delegation", code="delegation_not_found")
        if delegation.status in (DelegationStatus.invited, DelegationStatus.active):
            delegation.status = DelegationStatus.revoked
            delegation.revoked_at = self.now
        return delegation

    async def invitations_for(self, account: Account) -> list[Delegation]:
        rows = await self.session.scalars(
            select(Delegation).where(
                or_(Delegation.delegate_phone == account.phone, Delegation.delegate_account_id == account.id),
                Delegation.status == DelegationStatus.invited,
                Delegation.expires_at > self.now,
            )
        )
        return list(rows.all())

    async def answer(self, account_id: uuid.UUID, delegation_id: uuid.UUID, *, accept: bool) -> Delegation:
        account = await self.session.get(Account, account_id)
        delegation = await self.session.scalar(
            select(Delegation).where(Delegation.id == delegation_id).with_for_update()
        )
        if account is None or delegation is None or delegation.delegate_phone != account.phone:
            raise NotFound("no such invitation", code="delegation_not_found")
        if delegation.status is not DelegationStatus.invited or delegation.expires_at <= self.now:
            raise Conflict("the invitation is no longer open", code="delegation_closed")
        delegation.status = DelegationStatus.active if accept else DelegationStatus.declined
        delegation.delegate_account_id = account.id
        delegation.accepted_at = self.now if accept else None
        return delegation

    async def leave(self, account_id: uuid.UUID, delegation_id: uuid.UUID) -> None:
        """A delegate may step down at any time."""
        result = await self.session.execute(
            update(Delegation)
            .where(
                Delegation.id == delegation_id,
                Delegation.delegate_account_id == account_id,
                Delegation.status == DelegationStatus.active,
            )
            .values(status=DelegationStatus.revoked, revoked_at=self.now)
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound("no such delegation", code="delegation_not_found")
