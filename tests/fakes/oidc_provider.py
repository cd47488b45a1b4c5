"""A small but real OpenID Connect provider on 127.0.0.1, standing in for the province's identity provider.

It speaks HTTP/1.1 over asyncio streams, so the service under test takes its true network path (discovery,
key set, token request with client authentication) and the test's "browser" follows real redirects:

* ``GET /.well-known/openid-configuration`` and ``GET /jwks`` (an RSA or EC key made with ``cryptography``);
* ``GET /authorize`` signs ``subject`` in at once and redirects to the redirect URI with ``code`` and ``state``
  (and ``iss``, RFC 9207), remembering the S256 ``code_challenge``;
* ``POST /token`` checks the client's credentials (basic or post), the code (single use), the redirect URI and
  the PKCE verifier against the remembered challenge, then returns an ID token signed with joserfc.

Misbehaviours are switched on per test: ``deny`` (access_denied), ``down`` (503 to everything),
``claim_overrides`` (wrong aud / nonce / iss, expired), ``sign_with_foreign_key`` (bad signature, same kid).
Everything the fake was asked is recorded: ``targets`` (every URL, to prove no secret travelled in one) and
``token_requests``.

    async with FakeOidcProvider(client_id="phr", client_secret="s", redirect_uri=...) as idp:
        idp.subject = "idp|someone"
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal, Self
from urllib.parse import parse_qs, urlencode, urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

Answer = tuple[int, dict[str, str], bytes]


@dataclass
class Grant:
    """What /authorize handed out, as the token endpoint will check it."""

    redirect_uri: str
    challenge: str
    nonce: str | None
    subject: str
    used: bool = False


@dataclass(frozen=True)
class TokenRequest:
    form: dict[str, str]
    auth_method: str  # client_secret_basic, client_secret_post or none
    error: str | None  # what the fake answered: None for success, else the OAuth error code
    reason: str = ""  # why, for the test's eyes: "pkce", "code", "redirect_uri", "client"


def _generate_key(kind: Literal["RSA", "EC"]) -> RSAKey | ECKey:
    private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if kind == "RSA"
        else ec.generate_private_key(ec.SECP256R1())
    )
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key = RSAKey.import_key(pem) if kind == "RSA" else ECKey.import_key(pem)
    key.ensure_kid()
    return key


class FakeOidcProvider:
    def __init__(
        self, *, client_id: str, client_secret: str, redirect_uri: str, key_type: Literal["RSA", "EC"] = "RSA"
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.alg = "RS256" if key_type == "RSA" else "ES256"
        self.key_type = key_type
        self.key = _generate_key(key_type)
        self.subject = "idp|clinician-1"
        self.auth_methods = ["client_secret_basic", "client_secret_post"]
        self.deny = False
        self.down = False
        self.claim_overrides: dict[str, Any] = {}
        self.sign_with_foreign_key = False
        self.targets: list[str] = []
        self.token_requests: list[TokenRequest] = []
        self._grants: dict[str, Grant] = {}
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()
        self.port = 0

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rotate_key(self) -> None:
        """A new signing key with a new kid, as a provider's scheduled rotation would do."""
        self.key = _generate_key(self.key_type)

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for task in list(self._connections):  # keep-alive connections outlive close() on Python 3.11
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- transport ---------------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while line := await reader.readline():
                method, target, *_ = line.decode("latin-1").split()
                headers: dict[str, str] = {}
                while (raw := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = raw.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                body = await reader.readexactly(length) if length else b""
                status, extra, payload = self._answer(method, target, headers, body)
                head = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", f"Content-Length: {len(payload)}"]
                head += [f"{k}: {v}" for k, v in extra.items()]
                writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ValueError, asyncio.CancelledError):
            pass  # client went away, sent garbage, or stop() cancelled us
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    def _answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Answer:
        self.targets.append(target)
        if self.down:
            return _json(503, {"error": "temporarily_unavailable"}, {"Retry-After": "120"})
        url = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if (method, url.path) == ("GET", "/.well-known/openid-configuration"):
            return _json(200, self.discovery())
        if (method, url.path) == ("GET", "/jwks"):
            return _json(200, {"keys": [self.key.as_dict(private=False) | {"use": "sig", "alg": self.alg}]})
        if (method, url.path) == ("GET", "/authorize"):
            return self._authorize(query)
        if (method, url.path) == ("POST", "/token"):
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            return self._token(form, headers.get("authorization", ""))
        return _json(404, {"error": "not_found"})

    # -- the provider ------------------------------------------------------------------------
    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.issuer + "/authorize",
            "token_endpoint": self.issuer + "/token",
            "jwks_uri": self.issuer + "/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [self.alg],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": self.auth_methods,
        }

    def _authorize(self, query: dict[str, str]) -> Answer:
        valid = (
            query.get("client_id") == self.client_id
            and query.get("redirect_uri") == self.redirect_uri
            and query.get("response_type") == "code"
            and query.get("code_challenge_method") == "S256"
            and "openid" in query.get("scope", "").split()
            and query.get("code_challenge")
        )
        if not valid:  # a real provider shows an error page rather than redirecting to an unverified URI
            return _json(400, {"error": "invalid_request"})
        back: dict[str, str] = {"state": query.get("state", ""), "iss": self.issuer}
        if self.deny:
            back["error"] = "access_denied"
        else:
            code = secrets.token_urlsafe(24)
            self._grants[code] = Grant(self.redirect_uri, query["code_challenge"], query.get("nonce"), self.subject)
            back["code"] = code
        return 302, {"Location": f"{self.redirect_uri}?{urlencode(back)}"}, b""

    def _token(self, form: dict[str, str], authorization: str) -> Answer:
        method, client_id, secret = "none", form.get("client_id"), form.get("client_secret")
        if authorization.lower().startswith("basic "):
            method = "client_secret_basic"
            client_id, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
        elif secret is not None:
            method = "client_secret_post"

        def refuse(status: int, error: str, reason: str) -> Answer:
            self.token_requests.append(TokenRequest(form, method, error, reason))
            return _json(status, {"error": error})

        if method not in self.auth_methods or client_id != self.client_id or secret != self.client_secret:
            return refuse(401, "invalid_client", "client")
        grant = self._grants.get(form.get("code", ""))
        if form.get("grant_type") != "authorization_code" or grant is None or grant.used:
            return refuse(400, "invalid_grant", "code")
        grant.used = True  # single use, whatever happens next (RFC 6749 §4.1.2)
        if form.get("redirect_uri") != grant.redirect_uri:
            return refuse(400, "invalid_grant", "redirect_uri")
        if _s256(form.get("code_verifier", "")) != grant.challenge:
            return refuse(400, "invalid_grant", "pkce")
        self.token_requests.append(TokenRequest(form, method, None))
        answer = {"access_token": secrets.token_urlsafe(24), "token_type": "Bearer", "expires_in": 300}
        return _json(200, answer | {"id_token": self._id_token(grant)})

    def _id_token(self, grant: Grant) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": grant.subject,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": grant.nonce,
            **self.claim_overrides,
        }
        key = self.key
        if self.sign_with_foreign_key:  # another key presented under the published kid: a forgery
            key = _generate_key(self.key_type)
        return jwt.encode({"alg": self.alg, "kid": self.key.kid}, claims, key)


def _s256(verifier: str) -> str:
    """RFC 7636 S256, written out here so the fake does not share the client's implementation."""
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _json(status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> Answer:
    body = json.dumps(payload).encode()
    return status, {"Content-Type": "application/json", "Cache-Control": "no-store", **(headers or {})}, body
