"""Who is calling: the guards of the audience routers.

Each ``provide_*`` dependency verifies the bearer access token, checks that its session is still live (so logout
and revocation bite on the very next request) and that the subject is the right kind for the router. Another
kind of token on a router is a 401, exactly like no token: nobody learns which routes exist for whom.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Request
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Forbidden, Unauthenticated
from core.identity.sessions import Principal, SessionService
from core.models import StaffRole, SubjectKind
from core.settings import Settings


class AccountPrincipal(msgspec.Struct, frozen=True):
    account_id: uuid.UUID
    session_id: uuid.UUID | None = None


class ClinicianPrincipal(msgspec.Struct, frozen=True):
    clinician_id: uuid.UUID
    role: StaffRole
    facility_id: uuid.UUID
    session_id: uuid.UUID | None = None


class MachinePrincipal(msgspec.Struct, frozen=True):
    machine_id: uuid.UUID
    scopes: frozenset[str]
    facility_id: uuid.UUID | None = None

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise Forbidden(f"scope {scope} required", code="insufficient_scope")


def bearer_token(request: Request[Any, Any, Any]) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("a bearer token is required", code="missing_token")
    return token.strip()


async def authenticate(request: Request[Any, Any, Any], settings: Settings, db_session: AsyncSession) -> Principal:
    return await SessionService(db_session, settings).authenticate(bearer_token(request))


async def provide_account(
    request: Request[Any, Any, Any],
    settings: NamedDependency[Settings],
    db_session: NamedDependency[AsyncSession],
) -> AccountPrincipal:
    principal = await authenticate(request, settings, db_session)
    if principal.kind is not SubjectKind.account:
        raise Unauthenticated("not a citizen token", code="invalid_token")
    return AccountPrincipal(account_id=principal.subject_id, session_id=principal.session_id)


async def provide_clinician(
    request: Request[Any, Any, Any],
    settings: NamedDependency[Settings],
    db_session: NamedDependency[AsyncSession],
) -> ClinicianPrincipal:
    principal = await authenticate(request, settings, db_session)
    if principal.kind is not SubjectKind.clinician:
        raise Unauthenticated("not a clinician token", code="invalid_token")
    try:
        role = StaffRole(principal.claims["role"])
        facility = uuid.UUID(principal.claims["fac"])
    except (KeyError, ValueError) as exc:
        raise Unauthenticated("clinician token without role", code="invalid_token") from exc
    return ClinicianPrincipal(
        clinician_id=principal.subject_id, role=role, facility_id=facility, session_id=principal.session_id
    )


async def provide_machine(
    request: Request[Any, Any, Any],
    settings: NamedDependency[Settings],
    db_session: NamedDependency[AsyncSession],
) -> MachinePrincipal:
    principal = await authenticate(request, settings, db_session)
    if principal.kind is not SubjectKind.machine:
        raise Unauthenticated("not a machine token", code="invalid_token")
    scopes = frozenset(str(principal.claims.get("scope", "")).split())
    facility = principal.claims.get("fac")
    return MachinePrincipal(
        machine_id=principal.subject_id, scopes=scopes, facility_id=uuid.UUID(facility) if facility else None
    )
