"""The log canaries: health data written (and refused) through the API, OTP codes, access, refresh and share tokens
are registered as canaries, and the session-wide scan (tests/conftest.py) would find any of them in a log line."""

from __future__ import annotations

import io
import logging
import secrets
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from core.logging import build_formatter
from core.settings import Settings
from tests.api.test_authorization_matrix import build_world
from tests.conftest import LEAK_CANARIES, find_leaks

pytestmark = pytest.mark.reliability


def test_the_scan_finds_every_kind_of_secret() -> None:
    code, refresh, share = "493817", secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    health, cccd = "canary-dị-ứng-penicillin-7f3a", "051080000123"
    jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl"
    canaries = [code, refresh, share, health, cccd]
    lines = [
        f'{{"event": "sent", "to": "+84905123456", "code": "{code}"}}',
        f'{{"event": "x", "token": "{jwt}"}}',
        f'{{"event": "refresh", "body": "refresh_token={refresh}"}}',
        f'{{"event": "qr", "payload": "PHR1:{share}"}}',
        f'{{"event": "write", "substance": "{health}", "id": "{cccd}"}}',
    ]
    assert len(find_leaks("\n".join(lines), canaries)) == 7  # a phone, a JWT and the five canaries
    for line in lines:
        assert find_leaks(line, canaries), line
    clean = (
        f'{{"event": "GET /v1/citizens/01f2ab3c-4dff-7c1b-8e2a-9d{code}c4f", "phone": "+84******456",'
        f' "at": "2026-11-23T23:09:37.{code}Z", "n": "1{code}"}}'
    )
    assert find_leaks(clean, canaries) == [], "a hex run in a UUID, a masked phone, a fraction, a longer number"
    assert find_leaks(f'{{"event": "sms", "body": "Ma: {code}."}}', canaries), "a code at the end of a sentence"
    lettered = "kQzPwVbRtYuIoLmNaSdFgHjKxCv"  # no digit, so masking digits alone would not hide it
    told = find_leaks(f'{{"event": "GET /v1/shares?t={lettered}", "logger": "httpx"}}', [lettered])
    assert told and lettered not in told[0] and "logger=httpx" in told[0], "a leak is named, never repeated"


@pytest.fixture
def captured_log() -> Iterator[io.StringIO]:
    """This test's log lines, through the production formatter (the session scan sees them too)."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(build_formatter("json"))
    logging.getLogger().addHandler(handler)
    try:
        yield buffer
    finally:
        logging.getLogger().removeHandler(handler)


async def test_health_data_codes_and_tokens_stay_out_of_the_logs(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, captured_log: io.StringIO
) -> None:
    world = await build_world(session, settings)
    await session.flush()
    a, me, doctor = world.ids["A"], world.headers["citizen_a"], world.headers["clinician"]
    canary = {kind: f"canary-{kind}-{secrets.token_hex(4)}" for kind in ("allergy", "correction", "note", "refused")}
    LEAK_CANARIES.update(canary.values())
    record = f"/v1/citizens/{a}/record"

    written = [
        await client.post(f"{record}/allergies", json={"category": "drug", "substance": canary["allergy"]}, headers=me),
        await client.post(
            f"/v1/citizens/{a}/corrections",
            json={"section": "allergies", "description": canary["correction"]},
            headers=me,
        ),
        await client.post(
            f"/v1/clinician/grants/{world.ids['grant_A']}/notes", json={"text": canary["note"]}, headers=doctor
        ),
    ]
    assert [r.status_code for r in written] == [201, 201, 201], [r.text for r in written]
    refused = [
        # Invalid, excluded, someone else's record, unauthenticated: each refusal sees the health text too.
        await client.post(f"{record}/allergies", json={"substance": canary["refused"], "x": 1}, headers=me),
        await client.post(
            f"/v1/citizens/{a}/corrections",
            json={"section": "allergies", "description": f"HIV dương tính {canary['refused']}"},
            headers=me,
        ),
        await client.post(
            f"{record}/allergies",
            json={"category": "drug", "substance": canary["refused"]},
            headers=world.headers["citizen_b"],
        ),
        await client.post(f"{record}/allergies", json={"category": "drug", "substance": canary["refused"]}),
    ]
    assert [r.status_code for r in refused] == [400, 422, 404, 401]

    before = set(LEAK_CANARIES)
    otp = await client.post("/v1/auth/otp", json={"phone": "0905777001"})
    share = await client.post(f"/v1/citizens/{a}/shares", json={"sections": ["allergies"]}, headers=me)
    redeemed = await client.post("/v1/clinician/shares/redeem", json={"token": share.json()["payload"]}, headers=doctor)
    assert (otp.status_code, share.status_code, redeemed.status_code) == (202, 201, 201), redeemed.text
    tapped = LEAK_CANARIES - before
    assert any(c.isdigit() and len(c) == 6 for c in tapped), "the OTP code became a canary"
    assert share.json()["payload"].partition(":")[2] in tapped, "the share token became a canary"
    assert any(t in LEAK_CANARIES for t in me["Authorization"].split()[1:]), "the access token is a canary"

    assert find_leaks(captured_log.getvalue(), LEAK_CANARIES) == []
