"""Sessions and their tokens: a short access JWT plus an opaque refresh token that rotates on every use.

A session is one login. Every refresh token it ever had belongs to it (one family); presenting one that was
already used means a copy exists somewhere, so the whole session is revoked (RFC 9700 §4.14). Logout, phone
change and account closure revoke sessions, and the access-token guard checks the session on every request, so
revocation takes effect on the very next call rather than when the JWT expires.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Uuid, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.crypto import keyed_hash
from core.errors import NotFound, Unauthenticated
from core.identity.tokens import ACCESS_TTL, AccessClaims, mint_access_token, verify_access_token
from core.models import Account, AccountStatus, AuthSession, Clinician, RefreshToken, SubjectKind
from core.settings import Settings

REFRESH_PURPOSE = "refresh-token"
# How long a login lasts without being used, and at most, per kind of subject. Citizens stay logged in on their
# phone (device keys re-authenticate them); clinicians sign in for a working day.
IDLE = {SubjectKind.account: dt.timedelta(days=30), SubjectKind.clinician: dt.timedelta(hours=12)}
ABSOLUTE = {SubjectKind.account: dt.timedelta(days=180), SubjectKind.clinician: dt.timedelta(hours=12)}


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str | None
    expires_in: int
    session_id: uuid.UUID
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret


@dataclass(frozen=True, slots=True)
class Principal:
    """The verified caller of a request."""

    kind: SubjectKind
    subject_id: uuid.UUID
    session_id: uuid.UUID | None
    claims: dict[str, Any]


# Every authenticated request runs this: one statement, built once (the session and, for a citizen, whether the
# account is still active), instead of an ORM load of the session plus a second query.
_SESSION_CHECK = (
    select(
        AuthSession.account_id,
        AuthSession.clinician_id,
        AuthSession.revoked_at,
        AuthSession.expires_at,
        Account.status.label("account_status"),
    )
    .outerjoin(Account, Account.id == AuthSession.account_id)
    .where(AuthSession.id == bindparam("session_id", type_=Uuid()))
)


class SessionService:
    def __init__(self, session: AsyncSession, settings: Settings, now: dt.datetime | None = None) -> None:
        self.session = session
        self.settings = settings
        self._now = now

    @property
    def now(self) -> dt.datetime:
        return self._now or dt.datetime.now(dt.UTC)

    def _hash(self, token: str) -> bytes:
        return keyed_hash(self.settings.secret_key, REFRESH_PURPOSE, token)

    async def start(
        self,
        kind: SubjectKind,
        subject_id: uuid.UUID,
        *,
        method: str,
        client_label: str | None = None,
        device_key_id: uuid.UUID | None = None,
        claims: dict[str, Any] | None = None,
    ) -> TokenPair:
        now = self.now
        auth = AuthSession(
            kind=kind,
            account_id=subject_id if kind is SubjectKind.account else None,
            clinician_id=subject_id if kind is SubjectKind.clinician else None,
            method=method,
            client_label=client_label,
            device_key_id=device_key_id,
            last_used_at=now,
            expires_at=now + ABSOLUTE[kind],
        )
        self.session.add(auth)
        await self.session.flush()
        return await self._issue(auth, claims or {})

    async def _issue(self, auth: AuthSession, claims: dict[str, Any]) -> TokenPair:
        now = self.now
        refresh = secrets.token_urlsafe(32)  # 256 bits
        self.session.add(
            RefreshToken(
                session_id=auth.id,
                token_hash=self._hash(refresh),
                expires_at=min(now + IDLE[auth.kind], auth.expires_at),
            )
        )
        subject = auth.account_id or auth.clinician_id
        assert subject is not None
        access = mint_access_token(
            self.settings.jwt_private_key_pem,
            subject,
            kind=auth.kind.value,
            session_id=str(auth.id),
            now=now,
            extra=claims,
        )
        return TokenPair(access, refresh, int(ACCESS_TTL.total_seconds()), auth.id)

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate: the presented token is spent, a new one is issued. A spent token revokes the session."""
        now = self.now
        found = (
            await self.session.execute(
                select(RefreshToken, AuthSession)
                .join(AuthSession, AuthSession.id == RefreshToken.session_id)
                .where(RefreshToken.token_hash == self._hash(refresh_token))
                .with_for_update(of=RefreshToken)
            )
        ).one_or_none()
        if found is None:
            raise Unauthenticated("unknown refresh token", code="invalid_refresh_token")
        token, auth = found
        if token.used_at is not None:
            await self.revoke(auth.id, reason="refresh_reuse")
            raise Unauthenticated("refresh token reused", code="refresh_token_reused", keep_changes=True)
        if auth.revoked_at is not None or auth.expires_at <= now or token.expires_at <= now:
            raise Unauthenticated("session ended", code="session_ended")
        token.used_at = now
        auth.last_used_at = now
        claims = await self._current_claims(auth)
        return await self._issue(auth, claims)

    async def _current_claims(self, auth: AuthSession) -> dict[str, Any]:
        """Claims re-derived at refresh time, so a role or facility change shows up in the next access token."""
        if auth.kind is SubjectKind.clinician and auth.clinician_id is not None:
            clinician = await self.session.get(Clinician, auth.clinician_id)
            if clinician is None or not clinician.active:
                raise Unauthenticated("clinician not active", code="session_ended")
            return {"role": clinician.role.value, "fac": str(clinician.facility_id)}
        if auth.account_id is not None:
            status = await self.session.scalar(select(Account.status).where(Account.id == auth.account_id))
            if status is not AccountStatus.active:
                raise Unauthenticated("account not active", code="session_ended")
        return {}

    async def revoke(self, session_id: uuid.UUID, *, reason: str) -> None:
        await self.session.execute(
            update(AuthSession)
            .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=self.now, revoke_reason=reason)
        )

    async def revoke_all_for_account(self, account_id: uuid.UUID, *, reason: str) -> None:
        """Phone change and account closure: every old token dies at once."""
        await self.session.execute(
            update(AuthSession)
            .where(AuthSession.account_id == account_id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=self.now, revoke_reason=reason)
        )

    async def list_for_account(self, account_id: uuid.UUID) -> list[AuthSession]:
        rows = await self.session.scalars(
            select(AuthSession)
            .where(
                AuthSession.account_id == account_id,
                AuthSession.revoked_at.is_(None),
                AuthSession.expires_at > self.now,
            )
            .order_by(AuthSession.last_used_at.desc())
        )
        return list(rows.all())

    async def end_for_account(self, account_id: uuid.UUID, session_id: uuid.UUID) -> None:
        result = await self.session.execute(
            update(AuthSession)
            .where(AuthSession.id == session_id, AuthSession.account_id == account_id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=self.now, revoke_reason="ended_by_user")
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound("no such session", code="session_not_found")

    async def authenticate(self, token: str) -> Principal:
        """Verify an access token and that its session is still live (revocation is immediate)."""
        claims: AccessClaims = verify_access_token(
            self.settings.jwt_private_key_pem, token, previous=self.settings.jwt_previous_public_keys, now=self.now
        )
        try:
            kind = SubjectKind(claims.kind)
        except ValueError as exc:
            raise Unauthenticated("unknown subject kind", code="invalid_token") from exc
        if kind is SubjectKind.machine:  # machine tokens have no session; they live 15 minutes at most
            return Principal(kind, claims.subject, None, claims.extra)
        if claims.session_id is None:
            raise Unauthenticated("token without session", code="invalid_token")
        session_id = uuid.UUID(claims.session_id)
        live = (await self.session.execute(_SESSION_CHECK, {"session_id": session_id})).first()
        if (
            live is None
            or live.revoked_at is not None
            or live.expires_at <= self.now
            or (live.account_id or live.clinician_id) != claims.subject
        ):
            raise Unauthenticated("session ended", code="session_ended")
        if kind is SubjectKind.account and live.account_status is not AccountStatus.active:
            raise Unauthenticated("account not active", code="invalid_token")
        return Principal(kind, claims.subject, session_id, claims.extra)
