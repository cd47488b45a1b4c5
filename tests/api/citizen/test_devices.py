from __future__ import annotations

import datetime as dt

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import uuid7
from core.models import Account, AccountStatus, Device
from core.settings import Settings
from tests.support import login

TOKEN = "fcm-token-" + "x" * 140
INSTALLATION = "inst-0001-abcdef"


async def make_account(session: AsyncSession, phone: str, status: AccountStatus = AccountStatus.active) -> Account:
    account = Account(id=uuid7(), phone=phone, status=status)
    session.add(account)
    await session.flush()
    return account


def body(token: str = TOKEN, **extra: object) -> dict[str, object]:
    return {"token": token, "platform": "android", "locale": "vi", "app_version": "1.4.0", **extra}


async def devices(session: AsyncSession) -> list[Device]:
    return list((await session.scalars(select(Device).execution_options(populate_existing=True))).all())


async def test_registration_needs_a_login(client: httpx.AsyncClient) -> None:
    response = await client.put(f"/v1/devices/{INSTALLATION}", json=body())
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer not-a-jwt", "Basic abc", "Bearer ", ""])
async def test_bad_credentials_are_401(client: httpx.AsyncClient, header: str) -> None:
    response = await client.put(f"/v1/devices/{INSTALLATION}", json=body(), headers={"Authorization": header})
    assert response.status_code == 401


async def test_expired_token_is_401(client: httpx.AsyncClient, session: AsyncSession, settings: Settings) -> None:
    account = await make_account(session, "+84905100001")
    old = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=16)
    response = await client.put(
        f"/v1/devices/{INSTALLATION}", json=body(), headers=await login(session, settings, account.id, now=old)
    )
    assert response.status_code == 401


async def test_a_locked_account_loses_access_at_once(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    account = await make_account(session, "+84905100002", AccountStatus.locked)
    response = await client.put(
        f"/v1/devices/{INSTALLATION}", json=body(), headers=await login(session, settings, account.id)
    )
    assert response.status_code == 401


async def test_register_then_refresh(client: httpx.AsyncClient, session: AsyncSession, settings: Settings) -> None:
    account = await make_account(session, "+84905100003")
    auth = await login(session, settings, account.id)
    first = await client.put(f"/v1/devices/{INSTALLATION}", json=body(), headers=auth)
    assert first.status_code == 200
    assert first.json()["platform"] == "android"
    assert "token" not in first.json(), "the token is not echoed back"
    second = await client.put(f"/v1/devices/{INSTALLATION}", json=body(TOKEN + "-new", locale="en"), headers=auth)
    assert second.status_code == 200
    [device] = await devices(session)
    assert (device.account_id, device.token, device.locale) == (account.id, TOKEN + "-new", "en")
    assert second.json()["last_seen_at"] >= first.json()["last_seen_at"]


async def test_an_installation_moves_to_the_account_that_logs_in_on_it(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    mother = await make_account(session, "+84905100004")
    father = await make_account(session, "+84905100005")
    await client.put(f"/v1/devices/{INSTALLATION}", json=body(), headers=await login(session, settings, mother.id))
    await client.put(f"/v1/devices/{INSTALLATION}", json=body(), headers=await login(session, settings, father.id))
    assert [d.account_id for d in await devices(session)] == [father.id]


async def test_a_token_seen_under_a_new_installation_replaces_the_old_row(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    account = await make_account(session, "+84905100006")
    auth = await login(session, settings, account.id)
    await client.put("/v1/devices/inst-old-00001", json=body(), headers=auth)
    await client.put("/v1/devices/inst-new-00001", json=body(), headers=auth)
    assert [d.installation_id for d in await devices(session)] == ["inst-new-00001"]


async def test_delete_own_device_and_not_anothers(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    owner = await make_account(session, "+84905100007")
    stranger = await make_account(session, "+84905100008")
    await client.put(f"/v1/devices/{INSTALLATION}", json=body(), headers=await login(session, settings, owner.id))
    response = await client.delete(f"/v1/devices/{INSTALLATION}", headers=await login(session, settings, stranger.id))
    assert response.status_code == 404, "another account's device does not exist for the caller"
    assert len(await devices(session)) == 1
    response = await client.delete(f"/v1/devices/{INSTALLATION}", headers=await login(session, settings, owner.id))
    assert response.status_code == 204
    assert await devices(session) == []


@pytest.mark.parametrize(
    ("installation", "payload"),
    [
        (INSTALLATION, body(platform="symbian")),
        (INSTALLATION, body(token="short")),
        (INSTALLATION, body(account_id="someone-else")),
        (INSTALLATION, {"platform": "android"}),
        ("bad id with spaces", body()),
        ("short", body()),
    ],
)
async def test_bad_registrations_are_4xx_and_store_nothing(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, installation: str, payload: dict[str, object]
) -> None:
    account = await make_account(session, "+84905100009")
    response = await client.put(
        f"/v1/devices/{installation}", json=payload, headers=await login(session, settings, account.id)
    )
    # Malformed JSON fields are 400 (schema), a malformed installation id in the path 422 (service rule).
    assert response.status_code == (422 if installation != INSTALLATION else 400)
    assert response.headers["content-type"] == "application/problem+json"
    assert await devices(session) == []
