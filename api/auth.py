"""Who is calling. Today: an account, from a bearer access token (the identity issue adds clinicians and
machine clients). The dependency is the citizen router's guard: no valid token, no route."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Request
from litestar.di import NamedDependency
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Unauthenticated
from core.identity.tokens import verify_access_token
from core.models import Account, AccountStatus
from core.settings import Settings


class AccountPrincipal(msgspec.Struct, frozen=True):
    account_id: uuid.UUID
    session_id: str | None = None


def bearer_token(request: Request[Any, Any, Any]) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("a bearer token is required", code="missing_token")
    return token.strip()


async def provide_account(
    request: Request[Any, Any, Any],
    settings: NamedDependency[Settings],
    db_session: NamedDependency[AsyncSession],
) -> AccountPrincipal:
    claims = verify_access_token(settings.jwt_private_key_pem, bearer_token(request))
    if claims.kind != "account":
        raise Unauthenticated("not an account token", code="invalid_token")
    # A closed or locked account loses access on its very next request, whatever its tokens say.
    status = await db_session.scalar(select(Account.status).where(Account.id == claims.subject))
    if status is not AccountStatus.active:
        raise Unauthenticated("account not active", code="invalid_token")
    return AccountPrincipal(account_id=claims.subject, session_id=claims.session_id)
