"""Device keys: after an SMS login the app registers a public key from the phone's keystore (unlocked by the
person's biometrics or PIN); later sessions come from signing a fresh server challenge with it: two factors,
no SMS. The app signs with JOSE (a compact JWS whose payload is the challenge nonce), ES256 or Ed25519 (RFC 9864's
fully specified name; the older "EdDSA" is deprecated)."""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Forbidden, Invalid, NotFound, Unauthenticated
from core.identity.sessions import SessionService, TokenPair
from core.ids import uuid7
from core.models import Account, AccountStatus, AuthSession, DeviceChallenge, DeviceKey, SubjectKind
from core.settings import Settings

CHALLENGE_TTL = dt.timedelta(minutes=2)
MAX_KEYS_PER_ACCOUNT = 10
# A key may be added only by a session that was itself opened with an SMS code, and only soon after: a stolen
# access token alone must not be able to plant a permanent login key.
ENROL_WITHIN = dt.timedelta(minutes=15)
ALLOWED = {"ES256": ("EC", "P-256"), "Ed25519": ("OKP", "Ed25519")}


@dataclass(frozen=True, slots=True)
class IssuedChallenge:
    challenge_id: uuid.UUID
    nonce: str
    expires_in: int


def _public_key(algorithm: str, jwk: dict[str, Any]) -> ECKey | OKPKey:
    if algorithm not in ALLOWED:
        raise Invalid("algorithm must be ES256 or Ed25519", code="bad_key_algorithm", field="algorithm")
    kty, crv = ALLOWED[algorithm]
    if jwk.get("kty") != kty or jwk.get("crv") != crv:
        raise Invalid(f"{algorithm} needs a {kty} {crv} key", code="bad_public_key", field="public_key")
    if "d" in jwk:
        raise Invalid("send the public key only", code="private_key_sent", field="public_key")
    try:
        key = ECKey.import_key(jwk) if kty == "EC" else OKPKey.import_key(jwk)
    except (JoseError, ValueError, TypeError) as exc:
        raise Invalid("the public key cannot be read", code="bad_public_key", field="public_key") from exc
    return key


class DeviceKeyService:
    def __init__(self, session: AsyncSession, settings: Settings, now: dt.datetime | None = None) -> None:
        self.session = session
        self.settings = settings
        self.now = now or dt.datetime.now(dt.UTC)

    async def register(
        self,
        account_id: uuid.UUID,
        session_id: uuid.UUID | None,
        *,
        algorithm: str,
        public_jwk: dict[str, Any],
        label: str | None,
    ) -> DeviceKey:
        login = await self.session.get(AuthSession, session_id) if session_id else None
        if login is None or login.method != "otp" or self.now - login.created_at > ENROL_WITHIN:
            raise Forbidden("register a device key right after an SMS login", code="fresh_sms_login_required")
        key = _public_key(algorithm, public_jwk)
        count = await self.session.scalar(
            select(func.count())
            .select_from(DeviceKey)
            .where(DeviceKey.account_id == account_id, DeviceKey.revoked_at.is_(None))
        )
        if (count or 0) >= MAX_KEYS_PER_ACCOUNT:
            raise Invalid("too many device keys; remove an old phone first", code="too_many_keys")
        public = {k: v for k, v in key.as_dict(private=False).items() if k in ("kty", "crv", "x", "y")}
        device_key = DeviceKey(account_id=account_id, algorithm=algorithm, public_jwk=public, label=label)
        self.session.add(device_key)
        await self.session.flush()
        return device_key

    async def list_for_account(self, account_id: uuid.UUID) -> list[DeviceKey]:
        rows = await self.session.scalars(
            select(DeviceKey)
            .where(DeviceKey.account_id == account_id, DeviceKey.revoked_at.is_(None))
            .order_by(DeviceKey.created_at)
        )
        return list(rows.all())

    async def revoke(self, account_id: uuid.UUID, key_id: uuid.UUID) -> None:
        result = await self.session.execute(
            update(DeviceKey)
            .where(DeviceKey.id == key_id, DeviceKey.account_id == account_id, DeviceKey.revoked_at.is_(None))
            .values(revoked_at=self.now)
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound("no such device key", code="device_key_not_found")
        # Sessions opened with that key end too: a lost phone is a lost login.
        await self.session.execute(
            update(AuthSession)
            .where(AuthSession.device_key_id == key_id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=self.now, revoke_reason="device_key_revoked")
        )

    async def challenge(self, key_id: uuid.UUID) -> IssuedChallenge:
        """A nonce to sign. Unknown keys get one too (not stored), so key ids cannot be probed."""
        nonce = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
        challenge_id = uuid7()
        key = await self.session.get(DeviceKey, key_id)
        if key is not None and key.revoked_at is None:
            self.session.add(
                DeviceChallenge(
                    id=challenge_id, device_key_id=key_id, nonce=nonce.encode(), expires_at=self.now + CHALLENGE_TTL
                )
            )
        return IssuedChallenge(challenge_id, nonce, int(CHALLENGE_TTL.total_seconds()))

    async def open_session(
        self, challenge_id: uuid.UUID, signature: str, *, client_label: str | None = None
    ) -> TokenPair:
        refused = Unauthenticated("device key login refused", code="device_login_refused")
        challenge = await self.session.scalar(
            select(DeviceChallenge).where(DeviceChallenge.id == challenge_id).with_for_update()
        )
        if challenge is None or challenge.consumed_at is not None or challenge.expires_at <= self.now:
            raise refused
        challenge.consumed_at = self.now  # single use, whatever the outcome
        key = await self.session.get(DeviceKey, challenge.device_key_id)
        if key is None or key.revoked_at is not None:
            raise Unauthenticated("device key login refused", code="device_login_refused", keep_changes=True)
        try:
            verified = jws.deserialize_compact(
                signature, _public_key(key.algorithm, dict(key.public_jwk)), algorithms=[key.algorithm]
            )
        except (JoseError, ValueError, Invalid) as exc:
            raise Unauthenticated("device key login refused", code="device_login_refused", keep_changes=True) from exc
        if not secrets.compare_digest(verified.payload, challenge.nonce):
            raise Unauthenticated("device key login refused", code="device_login_refused", keep_changes=True)
        account = await self.session.get(Account, key.account_id)
        if account is None or account.status is not AccountStatus.active:
            raise Unauthenticated("device key login refused", code="device_login_refused", keep_changes=True)
        key.last_used_at = self.now
        return await SessionService(self.session, self.settings, self.now).start(
            SubjectKind.account, account.id, method="device_key", device_key_id=key.id, client_label=client_label
        )
