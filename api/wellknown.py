"""``/.well-known/jwks.json``: the public keys that verify our access tokens (current and retired)."""

from __future__ import annotations

from typing import Any

from litestar import get
from litestar.di import NamedDependency

from core.identity.tokens import key_ring
from core.settings import Settings


@get(
    "/.well-known/jwks.json",
    tags=["auth"],
    summary="Public keys for access-token verification",
    operation_id="jwks",
    cache_control=None,
)
async def jwks(settings: NamedDependency[Settings]) -> dict[str, Any]:
    return key_ring(settings.jwt_private_key_pem, settings.jwt_previous_public_keys).jwks()
