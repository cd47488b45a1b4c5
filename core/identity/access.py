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

from sqlalchemy import Date, DateTime, Select, Uuid, bindparam, literal, select, text, union_all
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


# Built once: aliasing ``citizens`` copies its ~40 columns, and building this UNION per request cost more CPU
# than everything else an authenticated request does (profiled for issue 10). The per-account statements below
# are module constants with bind parameters, so a request only binds values to an already compiled statement.
_CHILD = Citizen.__table__.alias("child")


def _relations(today: Any, now: Any, account_id: Any = None):  # type: ignore[no-untyped-def]
    """One UNION ALL over the three ways in; each branch yields (account id, citizen id, relation).

    With ``account_id`` it answers "whom may this account act for"; without, it is every live relation, which
    the reminder sweep and campaigns join to the citizens they target to find who should hear about them.
    The arguments are values or bind parameters.
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
    guarded = (
        select(
            AccountCitizen.account_id.label("account_id"),
            Guardianship.citizen_id.label("citizen_id"),
            literal(Relation.guardian.value).label("relation"),
        )
        .join(AccountCitizen, AccountCitizen.citizen_id == Guardianship.guardian_citizen_id)
        .join(_CHILD, _CHILD.c.id == Guardianship.citizen_id)
        .where(Guardianship.revoked_at.is_(None), _CHILD.c.date_of_birth + _years(MAJORITY_AGE) > today)
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


_OF_ACCOUNT = _relations(
    bindparam("today", type_=Date()),
    bindparam("now", type_=DateTime(timezone=True)),
    bindparam("account_id", type_=Uuid()),
)
_CITIZENS_FOR_ACCOUNT = (
    select(Citizen.id, Citizen.full_name, Citizen.date_of_birth, _OF_ACCOUNT.c.relation)
    .join(_OF_ACCOUNT, _OF_ACCOUNT.c.citizen_id == Citizen.id)
    .order_by(Citizen.date_of_birth)
)
_RELATIONS_TO = select(_OF_ACCOUNT.c.relation).where(_OF_ACCOUNT.c.citizen_id == bindparam("citizen_id", type_=Uuid()))


def _bind(account_id: uuid.UUID, now: dt.datetime) -> dict[str, Any]:
    return {"account_id": account_id, "today": local_date(now), "now": now}


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
    rows = await session.execute(_CITIZENS_FOR_ACCOUNT, _bind(account_id, now or dt.datetime.now(dt.UTC)))
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
    params = _bind(account_id, now or dt.datetime.now(dt.UTC)) | {"citizen_id": citizen_id}
    found = (await session.scalars(_RELATIONS_TO, params)).all()
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
