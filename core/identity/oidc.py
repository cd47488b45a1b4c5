"""Clinician single sign-on with the province's OpenID Connect provider: authorization code flow with PKCE.

Only provisioned clinicians get in: the province creates the account and records the provider's ``sub`` in
``clinicians.oidc_subject``; an unknown subject is refused, never created. The flow state (state, nonce, PKCE
verifier) travels in a sealed cookie instead of a table, so the login is bound to the browser that started it
and an abandoned login leaves nothing behind.

The OAuth 2 mechanics (authorization URL, S256 challenge, token request, client authentication) are authlib's
protocol client. authlib's httpx integration (``AsyncOAuth2Client``) is not used: since authlib 1.8 it wants
``httpx2`` and raises a deprecation warning on import when it falls back to httpx, so ``_ProtocolClient`` drives
the same transport-free protocol code over our own ``httpx.AsyncClient``. ID tokens are verified with joserfc.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import secrets
import ssl
import time
from dataclasses import dataclass
from typing import Any, cast

import anyio
import httpx
import msgspec
from authlib.oauth2.base import OAuth2Error
from authlib.oauth2.client import OAuth2Client
from cryptography.exceptions import InvalidTag
from joserfc import jwt
from joserfc.errors import ClaimError, ExpiredTokenError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.crypto import seal, unseal
from core.errors import Forbidden, NotFound, Unauthenticated, Unavailable
from core.identity.sessions import SessionService, TokenPair
from core.logging import get_logger
from core.models import Clinician, SubjectKind
from core.settings import Settings

log = get_logger("phr.oidc")

FLOW_PURPOSE = "oidc-flow"
FLOW_TTL = dt.timedelta(minutes=10)
CALLBACK_PATH = "/v1/clinician/oidc/callback"
ID_TOKEN_ALGORITHMS = ["RS256", "ES256"]  # the allow-list: no "none", no HMAC keyed with a public value
CLOCK_SKEW_SECONDS = 60
DISCOVERY_TTL_SECONDS = 3600.0
JWKS_TTL_SECONDS = 3600.0
JWKS_REFETCH_SECONDS = 60.0  # an unknown kid (the provider rotated keys) refetches at most this often
RETRY_AFTER_SECONDS = 30
HTTP_TIMEOUT = httpx.Timeout(5.0, connect=3.0)


class FlowState(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    state: str
    nonce: str
    verifier: str  # PKCE code_verifier: only ever in the sealed cookie and the token request body
    expires_at: int  # Unix seconds


class ProviderMetadata(msgspec.Struct, frozen=True):
    """The part of the discovery document we use; other fields are ignored."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    # OIDC Discovery: absent means client_secret_basic.
    token_endpoint_auth_methods_supported: list[str] = msgspec.field(default_factory=lambda: ["client_secret_basic"])


@dataclass(frozen=True, slots=True)
class LoginStart:
    authorization_url: str
    cookie_value: str
    max_age: int
    secure: bool  # send the cookie over HTTPS only (the callback URL is https)


def seal_flow(secret: str, flow: FlowState) -> str:
    blob = seal(secret, FLOW_PURPOSE, msgspec.json.encode(flow))
    return base64.urlsafe_b64encode(blob).rstrip(b"=").decode()


def open_flow(secret: str, cookie: str | None, now: dt.datetime) -> FlowState:
    if not cookie:
        raise Unauthenticated("no sign-in in progress in this browser", code="oidc_flow_missing")
    try:
        blob = base64.urlsafe_b64decode(cookie + "=" * (-len(cookie) % 4))
        flow = msgspec.json.decode(unseal(secret, FLOW_PURPOSE, blob), type=FlowState)
    except (ValueError, InvalidTag, msgspec.DecodeError) as exc:
        raise Unauthenticated("sign-in state unreadable", code="oidc_flow_invalid") from exc
    if flow.expires_at <= now.timestamp():
        raise Unauthenticated("sign-in took too long", code="oidc_flow_expired")
    return flow


class ProviderCache:
    """Discovery documents and key sets, per process: both change rarely, and a login should not pay for them."""

    def __init__(self) -> None:
        self.metadata: dict[str, tuple[float, ProviderMetadata]] = {}  # issuer -> (expires, document)
        self.jwks: dict[str, tuple[float, KeySet]] = {}  # jwks_uri -> (fetched, keys)
        self.ssl_context: ssl.SSLContext | None = None

    def clear(self) -> None:
        self.metadata.clear()
        self.jwks.clear()


CACHE = ProviderCache()


def _unavailable(detail: str, code: str = "oidc_provider_unavailable") -> Unavailable:
    return Unavailable(detail, retry_after=RETRY_AFTER_SECONDS, code=code)


class _ProtocolClient(OAuth2Client):  # type: ignore[misc]  # authlib ships no type information
    """authlib's OAuth 2 client with its token request sent over our httpx client (see the module docstring)."""

    async def _fetch_token(
        self, url: str, body: str = "", headers: dict[str, str] | None = None, auth: Any = None, **_: Any
    ) -> dict[str, Any]:
        # Copy the headers: authlib's default dict is module-global and client_secret_basic writes into it.
        url, headers, body = auth.prepare("POST", url, dict(headers or {}), body)
        response = await self.session.post(url, content=body, headers=headers)
        return cast(dict[str, Any], self.parse_response_token(response))


class OidcClient:
    """The provider as this service sees it: discovery, authorization URL, code exchange, ID token checks."""

    def __init__(self, settings: Settings, now: dt.datetime | None = None) -> None:
        if not settings.oidc_issuer:
            raise NotFound("single sign-on is not configured", code="oidc_disabled")
        self.settings = settings
        self.issuer = settings.oidc_issuer
        self.redirect_uri = settings.oidc_redirect_uri or settings.public_base_url.rstrip("/") + CALLBACK_PATH
        self._now = now

    @property
    def now(self) -> dt.datetime:
        return self._now or dt.datetime.now(dt.UTC)

    async def http(self) -> httpx.AsyncClient:
        if CACHE.ssl_context is None:
            # Loading the CA bundle takes tens of milliseconds: once per process, off the event loop.
            CACHE.ssl_context = await anyio.to_thread.run_sync(httpx.create_ssl_context)
        return httpx.AsyncClient(timeout=HTTP_TIMEOUT, verify=CACHE.ssl_context, follow_redirects=False)

    async def begin(self) -> LoginStart:
        flow = FlowState(
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            verifier=secrets.token_urlsafe(48),  # 64 characters, within RFC 7636's 43..128
            expires_at=int((self.now + FLOW_TTL).timestamp()),
        )
        async with await self.http() as http:
            metadata = await self.metadata(http)
            # Only the S256 challenge goes into the URL; the verifier stays in the sealed cookie.
            url, _ = self._protocol(http, metadata).create_authorization_url(
                metadata.authorization_endpoint, state=flow.state, code_verifier=flow.verifier, nonce=flow.nonce
            )
        return LoginStart(
            authorization_url=url,
            cookie_value=seal_flow(self.settings.secret_key, flow),
            max_age=int(FLOW_TTL.total_seconds()),
            secure=self.redirect_uri.startswith("https://"),
        )

    async def authenticate(self, flow: FlowState, code: str) -> str:
        """Exchange the code (with the PKCE verifier) and return the verified ID token's subject."""
        async with await self.http() as http:
            metadata = await self.metadata(http)
            id_token = await self._exchange(http, metadata, flow, code)
            claims = await self._verify(http, metadata, id_token)
        if not hmac.compare_digest(str(claims.get("nonce", "")).encode(), flow.nonce.encode()):
            raise Unauthenticated("ID token nonce does not match", code="oidc_nonce_mismatch")
        return str(claims["sub"])

    def _protocol(self, http: httpx.AsyncClient, metadata: ProviderMetadata) -> _ProtocolClient:
        supported = metadata.token_endpoint_auth_methods_supported
        method = "client_secret_basic" if "client_secret_basic" in supported else "client_secret_post"
        return _ProtocolClient(
            http,
            client_id=self.settings.oidc_client_id,
            client_secret=self.settings.oidc_client_secret,
            token_endpoint_auth_method=method,
            scope=self.settings.oidc_scopes,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
        )

    async def metadata(self, http: httpx.AsyncClient) -> ProviderMetadata:
        cached = CACHE.metadata.get(self.issuer)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        raw = await _get(http, self.issuer.rstrip("/") + "/.well-known/openid-configuration")
        try:
            metadata = msgspec.json.decode(raw, type=ProviderMetadata)
        except msgspec.DecodeError as exc:
            raise _unavailable("malformed discovery document", "oidc_provider_invalid") from exc
        endpoints = (metadata.authorization_endpoint, metadata.token_endpoint, metadata.jwks_uri)
        # OIDC Discovery §4.3: the document must name the issuer we asked (a mix-up defence); an https issuer
        # must not send codes or secrets to plain-http endpoints.
        if metadata.issuer != self.issuer or (
            self.issuer.startswith("https://") and not all(e.startswith("https://") for e in endpoints)
        ):
            raise _unavailable("discovery document does not match the issuer", "oidc_provider_invalid")
        CACHE.metadata[self.issuer] = (time.monotonic() + DISCOVERY_TTL_SECONDS, metadata)
        return metadata

    async def _exchange(self, http: httpx.AsyncClient, metadata: ProviderMetadata, flow: FlowState, code: str) -> str:
        client = self._protocol(http, metadata)
        try:
            token = await client.fetch_token(
                metadata.token_endpoint, grant_type="authorization_code", code=code, code_verifier=flow.verifier
            )
        except httpx.TransportError as exc:
            raise _unavailable("provider unreachable") from exc
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code >= 500:
                raise _unavailable("provider failed") from exc
            raise Unauthenticated("provider refused the code", code="oidc_code_rejected") from exc
        except OAuth2Error as exc:
            if exc.error == "invalid_client":  # our credentials: nothing the clinician can fix
                log.error("oidc provider rejected the client credentials")
                raise _unavailable("provider rejected this service", "oidc_client_rejected") from exc
            raise Unauthenticated("provider refused the code", code="oidc_code_rejected") from exc
        except ValueError as exc:  # a non-JSON answer, or an error description authlib refuses to carry
            raise _unavailable("malformed token response", "oidc_provider_invalid") from exc
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise _unavailable("token response without an ID token", "oidc_provider_invalid")
        return id_token

    async def _verify(self, http: httpx.AsyncClient, metadata: ProviderMetadata, id_token: str) -> dict[str, Any]:
        try:
            try:
                decoded = jwt.decode(id_token, await self._keys(http, metadata.jwks_uri), ID_TOKEN_ALGORITHMS)
            except InvalidKeyIdError:  # maybe rotated since we fetched the set: look once more
                keys = await self._keys(http, metadata.jwks_uri, refresh=True)
                decoded = jwt.decode(id_token, keys, ID_TOKEN_ALGORITHMS)
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise Unauthenticated("ID token signature invalid", code="oidc_id_token_invalid") from exc
        claims = decoded.claims
        registry = jwt.JWTClaimsRegistry(
            now=int(self.now.timestamp()),
            leeway=CLOCK_SKEW_SECONDS,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.settings.oidc_client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError as exc:
            raise Unauthenticated("ID token expired", code="oidc_id_token_expired") from exc
        except ClaimError as exc:
            reason = {"aud": "oidc_wrong_audience", "iss": "oidc_wrong_issuer"}.get(exc.claim, "oidc_id_token_invalid")
            raise Unauthenticated(f"ID token claim {exc.claim} invalid", code=reason) from exc
        # OIDC Core §3.1.3.7: with several audiences, azp must name us.
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        azp = claims.get("azp")
        if (len(audiences) > 1 and azp is None) or (azp is not None and azp != self.settings.oidc_client_id):
            raise Unauthenticated("ID token authorised party is not this service", code="oidc_wrong_audience")
        return claims

    async def _keys(self, http: httpx.AsyncClient, uri: str, *, refresh: bool = False) -> KeySet:
        cached = CACHE.jwks.get(uri)
        if cached and time.monotonic() - cached[0] < (JWKS_REFETCH_SECONDS if refresh else JWKS_TTL_SECONDS):
            return cached[1]
        raw = await _get(http, uri)
        try:
            keys = KeySet.import_key_set(msgspec.json.decode(raw))
        except (JoseError, msgspec.DecodeError, ValueError, TypeError, KeyError) as exc:
            raise _unavailable("malformed key set", "oidc_provider_invalid") from exc
        CACHE.jwks[uri] = (time.monotonic(), keys)
        return keys


async def _get(http: httpx.AsyncClient, url: str) -> bytes:
    try:
        response = await http.get(url, headers={"Accept": "application/json"})
    except httpx.TransportError as exc:
        raise _unavailable("provider unreachable") from exc
    if response.status_code != 200:
        raise _unavailable("provider answered with an error")
    return response.content


class OidcLoginService:
    """Finishes a sign-in: the provider's answer, checked, becomes a clinician session."""

    def __init__(self, session: AsyncSession, settings: Settings, now: dt.datetime | None = None) -> None:
        self.session = session
        self.settings = settings
        self.client = OidcClient(settings, now)

    async def complete(
        self, *, cookie: str | None, state: str | None, code: str | None, error: str | None, issuer: str | None
    ) -> TokenPair:
        if error:
            # The clinician cancelled, or the provider refused: report it, but never echo the provider's text.
            reason = "oidc_access_denied" if error == "access_denied" else "oidc_provider_error"
            raise Unauthenticated("the provider did not sign the clinician in", code=reason)
        flow = open_flow(self.settings.secret_key, cookie, self.client.now)
        if not state or not hmac.compare_digest(state.encode(), flow.state.encode()):
            raise Unauthenticated("state does not match this browser's sign-in", code="oidc_state_mismatch")
        if issuer is not None and issuer != self.client.issuer:  # RFC 9207 mix-up defence, when sent
            raise Unauthenticated("answer from another issuer", code="oidc_wrong_issuer")
        if not code:
            raise Unauthenticated("the provider sent no code", code="oidc_code_missing")
        subject = await self.client.authenticate(flow, code)
        clinician = await self.session.scalar(select(Clinician).where(Clinician.oidc_subject == subject))
        if clinician is None:
            raise Forbidden("no clinician is provisioned for this identity", code="oidc_unknown_clinician")
        if not clinician.active:
            raise Forbidden("clinician account disabled", code="oidc_clinician_inactive")
        log.info("clinician signed in with oidc", clinician_id=str(clinician.id))
        return await SessionService(self.session, self.settings, self.client.now).start(
            SubjectKind.clinician,
            clinician.id,
            method="oidc",
            claims={"role": clinician.role.value, "fac": str(clinician.facility_id)},
        )
