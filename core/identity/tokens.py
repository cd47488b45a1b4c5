"""Access tokens: short-lived JWTs signed with the service's EC P-256 key (ES256, joserfc).

Rotation: the current private key signs; retired keys stay listed (public part only) in
``PHR_JWT_PREVIOUS_PUBLIC_KEYS`` until the last token they signed has expired (15 minutes). Verification picks the
key by ``kid``, and ``/.well-known/jwks.json`` publishes them all.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet

from core.errors import Unauthenticated

ISSUER = "phr"
AUDIENCE = "phr-api"
ALGORITHMS = ["ES256"]  # the allow-list: no "none", no HMAC confusion
ACCESS_TTL = dt.timedelta(minutes=15)
_PEM_BLOCK = re.compile(r"-----BEGIN [A-Z ]+-----.+?-----END [A-Z ]+-----", re.S)


@dataclass(frozen=True, slots=True)
class AccessClaims:
    subject: uuid.UUID
    kind: str  # account, clinician, machine
    session_id: str | None
    expires_at: dt.datetime
    extra: dict[str, Any] = field(default_factory=dict)  # role, facility, scope


@dataclass(frozen=True)
class KeyRing:
    signing: ECKey
    verifying: dict[str, ECKey]  # kid -> key (current and retired)

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid, key in self.verifying.items():
            public = key.as_dict(private=False)
            keys.append(public | {"kid": kid, "use": "sig", "alg": "ES256"})
        return {"keys": keys}


@lru_cache(maxsize=8)
def key_ring(private_pem: str, previous_public_pems: str = "") -> KeyRing:
    signing = ECKey.import_key(private_pem)
    verifying = {signing.thumbprint(): signing}
    for block in _PEM_BLOCK.findall(previous_public_pems or ""):
        key = ECKey.import_key(block)
        verifying.setdefault(key.thumbprint(), key)
    return KeyRing(signing=signing, verifying=verifying)


def mint_access_token(
    pem: str,
    subject: uuid.UUID,
    *,
    kind: str = "account",
    session_id: str | None = None,
    now: dt.datetime | None = None,
    ttl: dt.timedelta = ACCESS_TTL,
    extra: dict[str, Any] | None = None,
) -> str:
    now = now or dt.datetime.now(dt.UTC)
    ring = key_ring(pem)
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(subject),
        "knd": kind,
        "sid": session_id,
        "iat": int(now.timestamp()),
        "exp": int((now + min(ttl, ACCESS_TTL)).timestamp()),
        "jti": uuid.uuid4().hex,
        **(extra or {}),
    }
    return jwt.encode({"alg": "ES256", "kid": ring.signing.thumbprint(), "typ": "at+jwt"}, claims, ring.signing)


def verify_access_token(pem: str, token: str, *, previous: str = "", now: dt.datetime | None = None) -> AccessClaims:
    """Signature (by kid), algorithm, issuer, audience and expiry, or ``Unauthenticated`` with nothing to leak."""
    now = now or dt.datetime.now(dt.UTC)
    ring = key_ring(pem, previous)
    try:
        keys = KeySet(list(ring.verifying.values()))
        decoded = jwt.decode(token, keys, algorithms=ALGORITHMS)
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
    standard = {"iss", "aud", "sub", "knd", "sid", "iat", "exp", "jti"}
    return AccessClaims(
        subject=subject,
        kind=str(decoded.claims.get("knd", "account")),
        session_id=decoded.claims.get("sid"),
        expires_at=dt.datetime.fromtimestamp(decoded.claims["exp"], dt.UTC),
        extra={k: v for k, v in decoded.claims.items() if k not in standard},
    )
