"""Machine clients (hospital HIS, immunization system): OAuth 2.0 client credentials (RFC 6749 §4.4).

A client proves itself with its id and secret (argon2id hash only) and gets a short access token naming its
scopes and, when it belongs to one, its facility. The token has no session and no refresh token: a client simply
asks again, and a leaked token dies within minutes. It is never a citizen's or a clinician's token, and the
audience guards refuse it everywhere except on integration routes.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote_plus

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, DomainError, Invalid, NotFound, Unauthenticated
from core.identity.passwords import PASSWORDS, hash_secret, verify_secret
from core.identity.tokens import mint_access_token
from core.logging import get_logger
from core.models import Facility, MachineClient, SubjectKind
from core.settings import Settings

log = get_logger("phr.identity.machines")

SCOPE_HIS_EPISODES = "his:episodes:write"
SCOPE_IMMUNIZATION = "immunization:write"
SCOPE_POPULATION = "population:write"
KNOWN_SCOPES = frozenset({SCOPE_HIS_EPISODES, SCOPE_IMMUNIZATION, SCOPE_POPULATION})
GRANT_TYPE = "client_credentials"
# Shorter than a person's access token: there is no session to revoke, so expiry is the only way a token ends.
MACHINE_TOKEN_TTL = dt.timedelta(minutes=10)
CLIENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{2,79}$")


class OAuthError(DomainError):
    """A token-endpoint error answered with 400 (RFC 6749 §5.2); ``code`` is the OAuth error name."""

    family = "bad-request"


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    client_id: str
    client_secret: str


@dataclass(frozen=True, slots=True)
class MachineToken:
    access_token: str
    expires_in: int
    scope: str
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret


@dataclass(frozen=True, slots=True)
class NewMachineClient:
    client: MachineClient
    secret: str  # shown once to whoever created the client, never stored


def client_credentials(
    authorization: str | None, client_id: str | None, client_secret: str | None
) -> ClientCredentials:
    """The client's credentials from HTTP Basic (RFC 6749 §2.3.1) or the form body, but not from both."""
    scheme, _, encoded = (authorization or "").strip().partition(" ")
    if scheme.lower() != "basic":
        if not client_id or not client_secret:
            raise Unauthenticated("client authentication required", code="invalid_client")
        return ClientCredentials(client_id, client_secret)
    if client_secret is not None:
        raise OAuthError("more than one client authentication method", code="invalid_request")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except ValueError as exc:  # bad base64 (binascii.Error), non-ASCII header, bytes that are not UTF-8
        raise Unauthenticated("malformed Basic credentials", code="invalid_client") from exc
    raw_id, colon, raw_secret = decoded.partition(":")
    # Both halves are form-urlencoded before base64 (§2.3.1), so a secret may contain ':' or '%'.
    basic_id, basic_secret = unquote_plus(raw_id), unquote_plus(raw_secret)
    if not colon or not basic_id or not basic_secret:
        raise Unauthenticated("malformed Basic credentials", code="invalid_client")
    if client_id is not None and client_id != basic_id:
        raise OAuthError("client_id differs from the authenticated client", code="invalid_request")
    return ClientCredentials(basic_id, basic_secret)


def granted_scopes(allowed: Iterable[str], requested: str | None) -> list[str]:
    """What the token may do: the requested scopes the client is allowed, or all it is allowed if none asked.

    Asking for a scope that does not exist, or for nothing the client may have, is ``invalid_scope``. Asking for
    more than allowed among known scopes yields the intersection; the response's ``scope`` says what was granted
    (RFC 6749 §3.3).
    """
    permitted = set(allowed) & KNOWN_SCOPES  # a scope retired from the code is no longer granted
    asked = set((requested or "").split())
    if asked - KNOWN_SCOPES:
        raise OAuthError("unknown scope", code="invalid_scope")
    granted = (asked & permitted) if asked else permitted
    if not granted:
        raise OAuthError("no requested scope is allowed for this client", code="invalid_scope")
    return sorted(granted)


class MachineClientService:
    def __init__(self, session: AsyncSession, settings: Settings, now: dt.datetime | None = None) -> None:
        self.session = session
        self.settings = settings
        self.now = now or dt.datetime.now(dt.UTC)

    async def issue_token(self, grant_type: str, credentials: ClientCredentials, scope: str | None) -> MachineToken:
        if grant_type != GRANT_TYPE:
            raise OAuthError("only client_credentials is supported", code="unsupported_grant_type")
        client = None
        if CLIENT_ID.fullmatch(credentials.client_id):  # no lookup for ids no client can have (a NUL is a 500)
            client = await self.session.scalar(
                select(MachineClient).where(MachineClient.client_id == credentials.client_id)
            )
        # An unknown id is checked against a dummy hash (inside verify_secret): same work, same answer.
        ok = await verify_secret(client.secret_hash if client else None, credentials.client_secret)
        if client is None or not client.active or not ok:
            log.info("machine token refused", known_client=client is not None)
            raise Unauthenticated("unknown client or wrong secret", code="invalid_client")
        if PASSWORDS.check_needs_rehash(client.secret_hash):
            client.secret_hash = await hash_secret(credentials.client_secret)
        scopes = " ".join(granted_scopes(client.scopes, scope))
        extra = {"scope": scopes} | ({"fac": str(client.facility_id)} if client.facility_id else {})
        token = mint_access_token(
            self.settings.jwt_private_key_pem,
            client.id,
            kind=SubjectKind.machine.value,
            now=self.now,
            ttl=MACHINE_TOKEN_TTL,
            extra=extra,
        )
        log.info("machine token issued", machine_id=str(client.id), scope=scopes)
        return MachineToken(access_token=token, expires_in=int(MACHINE_TOKEN_TTL.total_seconds()), scope=scopes)

    async def create(
        self, *, name: str, client_id: str, scopes: Iterable[str], facility_code: str | None = None
    ) -> NewMachineClient:
        """Register a client with a fresh random secret (256 bits); only its argon2 hash is kept."""
        if not CLIENT_ID.fullmatch(client_id):
            raise Invalid("3–80 of A–Z a–z 0–9 . _ -", code="invalid_client_id", field="client_id")
        wanted = sorted(set(scopes))
        if not wanted or set(wanted) - KNOWN_SCOPES:
            raise Invalid(f"scopes must be among {sorted(KNOWN_SCOPES)}", code="invalid_scopes", field="scopes")
        if not name.strip():
            raise Invalid("a name is required", code="name_required", field="name")
        facility_id: uuid.UUID | None = None
        if facility_code is not None:
            facility_id = await self.session.scalar(select(Facility.id).where(Facility.code == facility_code))
            if facility_id is None:
                raise NotFound("no facility with that code", code="facility_not_found")
        taken = await self.session.scalar(select(MachineClient.id).where(MachineClient.client_id == client_id))
        if taken is not None:
            raise Conflict("client id already registered", code="client_id_taken")
        secret = secrets.token_urlsafe(32)
        client = MachineClient(
            client_id=client_id,
            secret_hash=await hash_secret(secret),
            name=name.strip(),
            facility_id=facility_id,
            scopes=wanted,
        )
        self.session.add(client)
        await self.session.flush()
        return NewMachineClient(client=client, secret=secret)
