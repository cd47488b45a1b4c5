"""Who may act for whom: the one check behind every ``/v1/citizens/{citizen_id}/…`` route.

An account acts for a citizen when
- **self**: the account's phone is linked to the citizen (account_citizens) and the citizen is at least 14 —
  younger children are acted for by a guardian;
- **guardian**: the account is linked to a guardian of the citizen and the citizen is not yet 18 — the link ends
  by itself on the 18th birthday, nothing needs to run for it;
- **delegate**: the citizen invited this account, it accepted, and the delegation has not expired or been revoked.
Anything else is "not found": another person's record does not exist for the caller.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, literal, select, text, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFound
from core.models import Account, AccountCitizen, AccountStatus, Citizen, Delegation, DelegationStatus, Guardianship
from core.outbox import local_date

SELF_ACCESS_AGE = 14
MAJORITY_AGE = 18


class Relation(enum.StrEnum):
    self = "self"
    guardian = "guardian"
    delegate = "delegate"


@dataclass(frozen=True, slots=True)
class ActingFor:
    citizen_id: uuid.UUID
    full_name: str
    date_of_birth: dt.date
    relation: Relation


def _years(years: int) -> object:
    return text(f"interval '{years} years'")


def _relations(today: dt.date, now: dt.datetime, account_id: uuid.UUID | None = None):  # type: ignore[no-untyped-def]
    """One UNION ALL over the three ways in; each branch yields (account id, citizen id, relation).

    With ``account_id`` it answers "whom may this account act for"; without, it is every live relation, which
    the reminder sweep and campaigns join to the citizens they target to find who should hear about them.
    """
    own = (
        select(
            AccountCitizen.account_id.label("account_id"),
            AccountCitizen.citizen_id.label("citizen_id"),
            literal(Relation.self.value).label("relation"),
        )
        .join(Citizen, Citizen.id == AccountCitizen.citizen_id)
        .where(Citizen.date_of_birth + _years(SELF_ACCESS_AGE) <= today)
    )
    child = Citizen.__table__.alias("child")
    guarded = (
        select(
            AccountCitizen.account_id.label("account_id"),
            Guardianship.citizen_id.label("citizen_id"),
            literal(Relation.guardian.value).label("relation"),
        )
        .join(AccountCitizen, AccountCitizen.citizen_id == Guardianship.guardian_citizen_id)
        .join(child, child.c.id == Guardianship.citizen_id)
        .where(Guardianship.revoked_at.is_(None), child.c.date_of_birth + _years(MAJORITY_AGE) > today)
    )
    delegated = select(
        Delegation.delegate_account_id.label("account_id"),
        Delegation.citizen_id.label("citizen_id"),
        literal(Relation.delegate.value).label("relation"),
    ).where(
        Delegation.status == DelegationStatus.active,
        Delegation.revoked_at.is_(None),
        Delegation.expires_at > now,
    )
    if account_id is not None:
        own = own.where(AccountCitizen.account_id == account_id)
        guarded = guarded.where(AccountCitizen.account_id == account_id)
        delegated = delegated.where(Delegation.delegate_account_id == account_id)
    return union_all(own, guarded, delegated).subquery()


def _relations_query(account_id: uuid.UUID, today: dt.date, now: dt.datetime):  # type: ignore[no-untyped-def]
    return _relations(today, now, account_id)


def recipients_for(citizen_ids: Any, *, now: dt.datetime) -> Select[tuple[uuid.UUID, uuid.UUID]]:
    """(account_id, citizen_id) for every active account that acts for one of ``citizen_ids`` (a subquery or
    CTE with a ``citizen_id`` column): the citizen themself from 14, a child's guardians, delegates.

    Distinct pairs: a parent who is also a delegate hears once. Reminders and campaigns go to these accounts.
    """
    rel = _relations(local_date(now), now)
    return (
        select(rel.c.account_id, rel.c.citizen_id)
        .distinct()
        .join(citizen_ids, citizen_ids.c.citizen_id == rel.c.citizen_id)
        .join(Account, Account.id == rel.c.account_id)
        .where(Account.status == AccountStatus.active)
    )


async def citizens_for_account(
    session: AsyncSession, account_id: uuid.UUID, *, now: dt.datetime | None = None
) -> list[ActingFor]:
    now = now or dt.datetime.now(dt.UTC)
    today = local_date(now)
    rel = _relations_query(account_id, today, now)
    rows = await session.execute(
        select(Citizen.id, Citizen.full_name, Citizen.date_of_birth, rel.c.relation)
        .join(rel, rel.c.citizen_id == Citizen.id)
        .order_by(Citizen.date_of_birth)
    )
    best: dict[uuid.UUID, ActingFor] = {}
    order = [Relation.self, Relation.guardian, Relation.delegate]
    for row in rows:
        relation = Relation(row.relation)
        current = best.get(row.id)
        if current is None or order.index(relation) < order.index(current.relation):
            best[row.id] = ActingFor(row.id, row.full_name, row.date_of_birth, relation)
    return list(best.values())


async def relation_to(
    session: AsyncSession, account_id: uuid.UUID, citizen_id: uuid.UUID, *, now: dt.datetime | None = None
) -> Relation | None:
    now = now or dt.datetime.now(dt.UTC)
    rel = _relations_query(account_id, local_date(now), now)
    found = (await session.scalars(select(rel.c.relation).where(rel.c.citizen_id == citizen_id))).all()
    for relation in (Relation.self, Relation.guardian, Relation.delegate):
        if relation.value in found:
            return relation
    return None


async def require_access(
    session: AsyncSession, account_id: uuid.UUID, citizen_id: uuid.UUID, *, now: dt.datetime | None = None
) -> Relation:
    relation = await relation_to(session, account_id, citizen_id, now=now)
    if relation is None:
        raise NotFound("no such citizen", code="citizen_not_found")
    return relation


__all__ = ["ActingFor", "Relation", "citizens_for_account", "recipients_for", "relation_to", "require_access"]
