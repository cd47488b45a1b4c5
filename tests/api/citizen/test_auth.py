"""SMS-code login, refresh rotation, logout and device keys, over HTTP against real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid

import httpx
import pytest
from joserfc import jws
from joserfc.jwk import ECKey, OKPKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.crypto import unseal
from core.models import Account, AuthSession, Notification, OtpChallenge
from core.outbox import SEAL_PURPOSE
from core.settings import Settings
from tests.conftest import LEAK_CANARIES


async def sent_code(session: AsyncSession, settings: Settings, challenge_id: str) -> str:
    """Read the code the way the worker would: from the sealed outbox row (the API never returns it)."""
    row = (await session.scalars(select(Notification).where(Notification.dedupe_key == f"otp:{challenge_id}"))).one()
    assert row.sealed is not None
    code: str = json.loads(unseal(settings.secret_key, SEAL_PURPOSE, row.sealed))["code"]
    LEAK_CANARIES.add(code)
    return code


async def sms_login(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, phone: str
) -> dict[str, object]:
    challenge = (await client.post("/v1/auth/otp", json={"phone": phone})).json()
    code = await sent_code(session, settings, challenge["challenge_id"])
    response = await client.post("/v1/auth/otp/verify", json={"challenge_id": challenge["challenge_id"], "code": code})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    LEAK_CANARIES.update({str(body["access_token"]), str(body["refresh_token"])})
    return body


async def test_an_sms_code_logs_in_and_creates_the_account(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    response = await client.post("/v1/auth/otp", json={"phone": "0905 123 456"})
    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"challenge_id", "expires_in", "resend_after"}
    assert (body["expires_in"], body["resend_after"]) == (300, 60)
    assert "code" not in response.text
    challenge = (await session.scalars(select(OtpChallenge))).one()
    assert challenge.phone == "+84905123456"
    code = await sent_code(session, settings, body["challenge_id"])
    assert re.fullmatch(r"[0-9]{6}", code)
    assert code.encode() not in challenge.code_hash, "only a keyed hash is stored"

    login = await client.post("/v1/auth/otp/verify", json={"challenge_id": body["challenge_id"], "code": code})
    assert login.status_code == 200
    tokens = login.json()
    assert tokens["needs_link"] is True
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 900
    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200
    assert me.json()["phone"].endswith("456")
    assert "905123456" not in me.text, "the phone is masked"
    again = await client.post("/v1/auth/otp/verify", json={"challenge_id": body["challenge_id"], "code": code})
    assert again.status_code == 401, "a code works once"
    assert (await session.scalar(select(Account.phone))) == "+84905123456"


async def test_known_and_unknown_numbers_get_the_same_answer(client: httpx.AsyncClient, session: AsyncSession) -> None:
    session.add(Account(phone="+84905000777"))
    await session.flush()
    known = await client.post("/v1/auth/otp", json={"phone": "0905000777"})
    unknown = await client.post("/v1/auth/otp", json={"phone": "0905000778"})
    assert known.status_code == unknown.status_code == 202
    assert len(known.content) == len(unknown.content)
    mask = re.compile(rb'"challenge_id":"[0-9a-f-]{36}"')
    assert mask.sub(b"ID", known.content) == mask.sub(b"ID", unknown.content)
    ignored = {"date", "content-length"}
    assert {k: v for k, v in known.headers.items() if k not in ignored} == {
        k: v for k, v in unknown.headers.items() if k not in ignored
    }


@pytest.mark.parametrize("phone", ["+12025550123", "02435551234", "0905", "abc", "+86 138 0013 8000"])
async def test_only_vietnamese_mobiles_get_codes(client: httpx.AsyncClient, session: AsyncSession, phone: str) -> None:
    response = await client.post("/v1/auth/otp", json={"phone": phone})
    assert response.status_code in (400, 422)
    assert response.headers["content-type"] == "application/problem+json"
    assert await session.scalar(select(Notification.id)) is None, "no SMS is queued"


async def test_resend_has_a_cool_down(client: httpx.AsyncClient) -> None:
    first = await client.post("/v1/auth/otp", json={"phone": "0905000101"})
    second = await client.post("/v1/auth/otp", json={"phone": "0905000101"})
    assert first.status_code == 202
    assert second.status_code == 429
    assert 55 <= int(second.headers["retry-after"]) <= 61
    assert second.json()["code"] == "otp_cooldown"


async def test_wrong_codes_count_down_and_are_kept(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    challenge = (await client.post("/v1/auth/otp", json={"phone": "0905000102"})).json()
    code = await sent_code(session, settings, challenge["challenge_id"])
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    remaining = []
    for _ in range(6):
        response = await client.post(
            "/v1/auth/otp/verify", json={"challenge_id": challenge["challenge_id"], "code": wrong}
        )
        assert response.status_code == 401
        remaining.append(response.json().get("remaining_attempts"))
    assert remaining == [4, 3, 2, 1, 0, 0]
    right = await client.post("/v1/auth/otp/verify", json={"challenge_id": challenge["challenge_id"], "code": code})
    assert right.status_code == 401, "after five wrong codes even the right one is refused"


async def test_refresh_rotates_and_a_reused_token_ends_the_session(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    tokens = await sms_login(client, session, settings, "0905000103")
    first = await client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert first.status_code == 200
    rotated = first.json()
    assert rotated["refresh_token"] != tokens["refresh_token"]
    reuse = await client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert reuse.status_code == 401
    assert reuse.json()["code"] == "refresh_token_reused"
    # The whole family is gone: the newest refresh token and the access tokens die too.
    assert (await client.post("/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]})).status_code == 401
    auth = {"Authorization": f"Bearer {rotated['access_token']}"}
    assert (await client.get("/v1/me", headers=auth)).status_code == 401
    revoked = (await session.scalars(select(AuthSession).execution_options(populate_existing=True))).one()
    assert revoked.revoke_reason == "refresh_reuse"


async def test_logout_kills_the_access_token_on_its_next_use(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    tokens = await sms_login(client, session, settings, "0905000104")
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await client.get("/v1/me", headers=auth)).status_code == 200
    assert (await client.post("/v1/auth/logout", headers=auth)).status_code == 204
    assert (await client.get("/v1/me", headers=auth)).status_code == 401
    assert (await client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})).status_code == 401


async def test_sessions_are_listed_and_can_be_ended(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    phone_a = await sms_login(client, session, settings, "0905000105")
    await session.execute(OtpChallenge.__table__.update().values(expires_at=dt.datetime.now(dt.UTC)))
    # A second login from another phone of the same person (the cool-down is per phone number: skip it).
    await session.execute(select(1))
    auth_a = {"Authorization": f"Bearer {phone_a['access_token']}"}
    listed = (await client.get("/v1/auth/sessions", headers=auth_a)).json()
    assert [s["current"] for s in listed] == [True]
    other = uuid.uuid4()
    assert (await client.delete(f"/v1/auth/sessions/{other}", headers=auth_a)).status_code == 404
    assert (await client.delete(f"/v1/auth/sessions/{listed[0]['session_id']}", headers=auth_a)).status_code == 204
    assert (await client.get("/v1/auth/sessions", headers=auth_a)).status_code == 401


@pytest.mark.parametrize("algorithm", ["ES256", "Ed25519"])
async def test_a_device_key_opens_sessions_without_sms(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, algorithm: str
) -> None:
    tokens = await sms_login(client, session, settings, "0905000106")
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    private = ECKey.generate_key("P-256") if algorithm == "ES256" else OKPKey.generate_key("Ed25519")
    public = private.as_dict(private=False)
    registered = await client.post(
        "/v1/auth/device/keys", json={"algorithm": algorithm, "public_key": public, "label": "Pixel"}, headers=auth
    )
    assert registered.status_code == 201, registered.text
    key_id = registered.json()["key_id"]

    challenge = (await client.post("/v1/auth/device/challenge", json={"key_id": key_id})).json()
    signature = jws.serialize_compact({"alg": algorithm}, challenge["nonce"], private, algorithms=[algorithm])
    opened = await client.post(
        "/v1/auth/device/session", json={"challenge_id": challenge["challenge_id"], "signature": signature}
    )
    assert opened.status_code == 200, opened.text
    assert (
        await client.get("/v1/me", headers={"Authorization": f"Bearer {opened.json()['access_token']}"})
    ).status_code == 200
    replay = await client.post(
        "/v1/auth/device/session", json={"challenge_id": challenge["challenge_id"], "signature": signature}
    )
    assert replay.status_code == 401, "a challenge is single use"


async def test_a_wrong_key_or_a_foreign_challenge_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    tokens = await sms_login(client, session, settings, "0905000107")
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    private = ECKey.generate_key("P-256")
    key_id = (
        await client.post(
            "/v1/auth/device/keys",
            json={"algorithm": "ES256", "public_key": private.as_dict(private=False)},
            headers=auth,
        )
    ).json()["key_id"]
    challenge = (await client.post("/v1/auth/device/challenge", json={"key_id": key_id})).json()
    thief = ECKey.generate_key("P-256")
    forged = jws.serialize_compact({"alg": "ES256"}, challenge["nonce"], thief, algorithms=["ES256"])
    response = await client.post(
        "/v1/auth/device/session", json={"challenge_id": challenge["challenge_id"], "signature": forged}
    )
    assert response.status_code == 401
    unknown = (await client.post("/v1/auth/device/challenge", json={"key_id": str(uuid.uuid4())})).json()
    assert set(unknown) == {"challenge_id", "nonce", "expires_in"}, "unknown keys look the same from outside"
    signed = jws.serialize_compact({"alg": "ES256"}, unknown["nonce"], private, algorithms=["ES256"])
    refused = await client.post(
        "/v1/auth/device/session", json={"challenge_id": unknown["challenge_id"], "signature": signed}
    )
    assert refused.status_code == 401


async def test_private_keys_and_wrong_curves_are_rejected(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    tokens = await sms_login(client, session, settings, "0905000108")
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    private = ECKey.generate_key("P-256")
    with_private = await client.post(
        "/v1/auth/device/keys", json={"algorithm": "ES256", "public_key": private.as_dict(private=True)}, headers=auth
    )
    assert with_private.status_code == 422
    wrong_curve = await client.post(
        "/v1/auth/device/keys",
        json={"algorithm": "Ed25519", "public_key": private.as_dict(private=False)},
        headers=auth,
    )
    assert wrong_curve.status_code == 422


async def test_jwks_publishes_the_verification_key(client: httpx.AsyncClient) -> None:
    keys = (await client.get("/.well-known/jwks.json")).json()["keys"]
    assert len(keys) == 1
    assert keys[0]["kty"] == "EC"
    assert keys[0]["alg"] == "ES256"
    assert "d" not in keys[0]
