"""Access tokens: short-lived JWTs signed with the service's EC P-256 key (ES256, joserfc).

This is the verification seam every authenticated route already uses. The identity issue adds what issues
tokens to people (OTP login, device keys, refresh rotation, revocation); until then tests and tools mint them
with ``mint_access_token``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from functools import lru_cache

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from core.errors import Unauthenticated

ISSUER = "phr"
AUDIENCE = "phr-api"
ALGORITHMS = ["ES256"]  # the allow-list: no "none", no HMAC confusion
ACCESS_TTL = dt.timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class AccessClaims:
    subject: uuid.UUID  # the account id
    kind: str  # "account" today; clinicians and machine clients come with the identity issue
    session_id: str | None
    expires_at: dt.datetime


@lru_cache(maxsize=4)
def signing_key(pem: str) -> ECKey:
    return ECKey.import_key(pem)


def mint_access_token(
    pem: str,
    subject: uuid.UUID,
    *,
    kind: str = "account",
    session_id: str | None = None,
    now: dt.datetime | None = None,
) -> str:
    now = now or dt.datetime.now(dt.UTC)
    key = signing_key(pem)
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(subject),
        "knd": kind,
        "sid": session_id,
        "iat": int(now.timestamp()),
        "exp": int((now + ACCESS_TTL).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode({"alg": "ES256", "kid": key.thumbprint()}, claims, key)


def verify_access_token(pem: str, token: str, *, now: dt.datetime | None = None) -> AccessClaims:
    """Signature, algorithm, issuer, audience and expiry, or ``Unauthenticated`` with no detail to leak."""
    now = now or dt.datetime.now(dt.UTC)
    try:
        decoded = jwt.decode(token, signing_key(pem), algorithms=ALGORITHMS)
        registry = jwt.JWTClaimsRegistry(
            now=int(now.timestamp()),
            iss={"essential": True, "value": ISSUER},
            aud={"essential": True, "value": AUDIENCE},
            sub={"essential": True},
            exp={"essential": True},
        )
        registry.validate(decoded.claims)
        subject = uuid.UUID(decoded.claims["sub"])
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise Unauthenticated("invalid access token", code="invalid_token") from exc
    return AccessClaims(
        subject=subject,
        kind=str(decoded.claims.get("knd", "account")),
        session_id=decoded.claims.get("sid"),
        expires_at=dt.datetime.fromtimestamp(decoded.claims["exp"], dt.UTC),
    )
