"""Shares: the citizen's QR. A random token (256 bits; only its keyed hash is stored), redeemable for a few
minutes, once, by a logged-in clinician; re-issued while the QR is on screen so an old screenshot is useless.

The QR holds ``PHR1:<base64url token>`` and nothing personal (consent.md, "The QR itself"). An optional passcode
has a lifetime cap on wrong attempts, counted under a row lock so parallel guesses cannot exceed it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.crypto import keyed_hash
from core.errors import Invalid, NotFound, Unauthenticated
from core.models import Clinician, Grant, Share
from core.records.sections import SECTIONS
from core.settings import Settings

PAYLOAD_PREFIX = "PHR1:"
REDEEM_WINDOW = dt.timedelta(minutes=5)
MAX_PASSCODE_FAILURES = 5
MAX_DURATION = dt.timedelta(days=30)
SHAREABLE = frozenset({"administrative", *SECTIONS})
PURPOSES = frozenset({"CAREMGT", "PUBHLTH", "PATRQT"})  # care, public health, self-requested (ABDM purpose codes)
TOKEN_PURPOSE = "share-token"  # noqa: S105 - a key-derivation label, not a secret
PASSCODE_PURPOSE = "share-passcode"


def encode_payload(token: bytes) -> str:
    return PAYLOAD_PREFIX + base64.urlsafe_b64encode(token).decode().rstrip("=")


def decode_payload(payload: str) -> bytes:
    """The token inside a scanned QR (or a typed payload); anything malformed is simply not a share."""
    raw = payload.strip()
    if not raw.startswith(PAYLOAD_PREFIX):
        raise NotFound("no such share", code="share_not_found")
    encoded = raw[len(PAYLOAD_PREFIX) :]
    try:
        token = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError) as exc:
        raise NotFound("no such share", code="share_not_found") from exc
    if len(token) != 32:
        raise NotFound("no such share", code="share_not_found")
    return token


@dataclass(frozen=True, slots=True)
class IssuedShare:
    share: Share
    payload: str  # shown as the QR; never stored


class ShareService:
    def __init__(self, session: AsyncSession, settings: Settings, now: dt.datetime | None = None) -> None:
        self.session = session
        self.settings = settings
        self.now = now or dt.datetime.now(dt.UTC)

    def _hash(self, token: bytes) -> bytes:
        return keyed_hash(self.settings.secret_key, TOKEN_PURPOSE, token.hex())

    def _passcode_hash(self, share_id: uuid.UUID, passcode: str) -> bytes:
        return keyed_hash(self.settings.secret_key, PASSCODE_PURPOSE, f"{share_id}:{passcode}")

    async def create(
        self,
        citizen_id: uuid.UUID,
        account_id: uuid.UUID,
        *,
        sections: list[str],
        access: str,
        duration: dt.timedelta,
        purpose: str,
        passcode: str | None,
    ) -> IssuedShare:
        unknown = set(sections) - SHAREABLE
        if not sections or unknown:
            raise Invalid("choose sections of the record to share", code="bad_sections", field="sections")
        if access not in ("read", "read_write"):
            raise Invalid("access is read or read_write", code="bad_access", field="access")
        if purpose not in PURPOSES:
            raise Invalid("unknown purpose", code="bad_purpose", field="purpose")
        if not dt.timedelta(minutes=5) <= duration <= MAX_DURATION:
            raise Invalid("a grant lasts from 5 minutes to 30 days", code="bad_duration", field="duration_minutes")
        token = secrets.token_bytes(32)
        share = Share(
            id=uuid.uuid4(),
            citizen_id=citizen_id,
            created_by=account_id,
            token_hash=self._hash(token),
            sections=sorted(set(sections)),
            access=access,
            duration_minutes=int(duration.total_seconds() // 60),
            purpose=purpose,
            redeem_before=self.now + REDEEM_WINDOW,
        )
        if passcode:
            share.passcode_hash = self._passcode_hash(share.id, passcode)
        self.session.add(share)
        await self.session.flush()
        return IssuedShare(share, encode_payload(token))

    async def rotate(self, citizen_id: uuid.UUID, share_id: uuid.UUID) -> IssuedShare:
        """A fresh token for the QR still on screen; the previous one stops working at once."""
        share = await self.session.scalar(
            select(Share).where(Share.id == share_id, Share.citizen_id == citizen_id).with_for_update()
        )
        if share is None or share.redeemed_at is not None or share.revoked_at is not None:
            raise NotFound("no such share", code="share_not_found")
        token = secrets.token_bytes(32)
        share.token_hash = self._hash(token)
        share.redeem_before = self.now + REDEEM_WINDOW
        return IssuedShare(share, encode_payload(token))

    async def redeem(self, payload: str, passcode: str | None, clinician: Clinician) -> Grant:
        """Single use, atomically: the row lock makes concurrent redemptions of one share produce one grant."""
        token = decode_payload(payload)
        share = await self.session.scalar(select(Share).where(Share.token_hash == self._hash(token)).with_for_update())
        if (
            share is None
            or share.redeemed_at is not None
            or share.revoked_at is not None
            or share.redeem_before <= self.now
            or share.passcode_failures >= MAX_PASSCODE_FAILURES
        ):
            raise NotFound("no such share", code="share_not_found")
        if share.passcode_hash is not None:
            given = self._passcode_hash(share.id, passcode or "")
            if not hmac.compare_digest(given, share.passcode_hash):
                share.passcode_failures += 1
                raise Unauthenticated(
                    "wrong passcode",
                    code="wrong_passcode",
                    extra={"remaining_attempts": MAX_PASSCODE_FAILURES - share.passcode_failures},
                    keep_changes=True,  # the wrong guess counts, even though the answer is an error
                )
        share.redeemed_at = self.now
        grant = Grant(
            citizen_id=share.citizen_id,
            share_id=share.id,
            clinician_id=clinician.id,
            facility_id=clinician.facility_id,
            sections=share.sections,
            access=share.access,
            purpose=share.purpose,
            origin="qr",
            starts_at=self.now,
            expires_at=self.now + dt.timedelta(minutes=share.duration_minutes),
        )
        self.session.add(grant)
        await self.session.flush()
        return grant
