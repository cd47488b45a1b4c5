"""The token response every sign-in route returns (citizen, clinician, single sign-on), and the session label."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Request

from core.identity.sessions import TokenPair


class TokensOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    access_token: str
    refresh_token: str | None
    token_type: str
    expires_in: int
    session_id: uuid.UUID | None = None


def tokens_out(pair: TokenPair) -> TokensOut:
    return TokensOut(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        token_type=pair.token_type,
        expires_in=pair.expires_in,
        session_id=pair.session_id,
    )


def client_label(request: Request[Any, Any, Any]) -> str | None:
    """What the session list shows for a login: the client's User-Agent, cut short."""
    agent = request.headers.get("user-agent")
    return agent[:120] if agent else None
