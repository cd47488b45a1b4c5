"""Linking a phone to a person, /v1/me, and delegations over HTTP."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import httpx
from litestar import Litestar
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import uuid7
from core.models import Account, AccountCitizen, Citizen, LinkRequest, Sex
from core.settings import Settings
from tests.support import login, serving


async def make_account(session: AsyncSession, phone: str) -> Account:
    account = Account(id=uuid7(), phone=phone)
    session.add(account)
    await session.flush()
    return account


async def make_citizen(
    session: AsyncSession, cccd: str, phone: str | None, dob: dt.date = dt.date(1985, 4, 2)
) -> Citizen:
    citizen = Citizen(id=uuid7(), full_name="Nguyễn Thị Hoa", sex=Sex.female, date_of_birth=dob, cccd=cccd, phone=phone)
    session.add(citizen)
    await session.flush()
    return citizen


async def test_link_with_matching_phone_is_immediate(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    account = await make_account(session, "+84905700001")
    citizen = await make_citizen(session, "051185000001", "+84905700001")
    auth = await login(session, settings, account.id)
    response = await client.post(
        "/v1/auth/link",
        json={"cccd": "051185000001", "full_name": "nguyen thi  hoa", "date_of_birth": "1985-04-02"},
        headers=auth,
    )
    assert response.json() == {"status": "linked", "citizen_id": str(citizen.id)}
    me = (await client.get("/v1/me", headers=auth)).json()
    assert [(c["citizen_id"], c["relation"]) for c in me["citizens"]] == [(str(citizen.id), "self")]


async def test_link_with_another_phone_waits_for_the_station(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    account = await make_account(session, "+84905700002")
    await make_citizen(session, "051185000002", "+84905700099")
    auth = await login(session, settings, account.id)
    body = {"cccd": "051185000002", "full_name": "Nguyễn Thị Hoa", "date_of_birth": "1985-04-02"}
    response = await client.post("/v1/auth/link", json=body, headers=auth)
    assert response.json() == {"status": "pending", "citizen_id": None}
    assert (await client.post("/v1/auth/link", json=body, headers=auth)).status_code == 200, "asking twice is fine"
    assert len((await session.scalars(select(LinkRequest))).all()) == 1
    assert (await client.get("/v1/me", headers=auth)).json()["citizens"] == []


async def test_link_requests_keep_working_once_postgres_plans_the_insert_generically(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    """From the sixth run of a prepared statement PostgreSQL may use a generic plan, where ``status = $1`` no longer
    matches the partial unique index of ON CONFLICT: the fuzzer found a 500 there (the predicate is now literal)."""
    for n in range(8):
        account = await make_account(session, f"+8490571{n:04d}")
        await make_citizen(session, f"05118501{n:04d}", "+84905700099")
        auth = await login(session, settings, account.id)
        body = {"cccd": f"05118501{n:04d}", "full_name": "Nguyễn Thị Hoa", "date_of_birth": "1985-04-02"}
        response = await client.post("/v1/auth/link", json=body, headers=auth)
        assert response.json() == {"status": "pending", "citizen_id": None}, f"request {n + 1}"


async def test_a_wrong_birthday_looks_like_a_pending_match(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    account = await make_account(session, "+84905700003")
    await make_citizen(session, "051185000003", "+84905700003")
    auth = await login(session, settings, account.id)
    response = await client.post(
        "/v1/auth/link",
        json={"cccd": "051185000003", "full_name": "Nguyễn Thị Hoa", "date_of_birth": "1985-04-03"},
        headers=auth,
    )
    assert response.json() == {"status": "pending", "citizen_id": None}, "no oracle for which CCCDs exist"


async def test_no_match_registers_a_new_citizen_when_allowed(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    account = await make_account(session, "+84905700004")
    auth = await login(session, settings, account.id)
    response = await client.post(
        "/v1/auth/link",
        json={"cccd": "051390000004", "full_name": "Lê Văn Mới", "date_of_birth": "1990-02-02"},
        headers=auth,
    )
    assert response.json()["status"] == "created"
    citizen = (await session.scalars(select(Citizen).where(Citizen.cccd == "051390000004"))).one()
    assert (citizen.sex, citizen.phone) == (Sex.female, "+84905700004"), "sex from CCCD digit 4, phone from the login"
    assert (await session.scalars(select(AccountCitizen))).one().citizen_id == citizen.id


async def test_no_match_is_404_when_the_province_forbids_self_registration(
    make_app: Callable[..., Litestar], session: AsyncSession, settings: Settings
) -> None:
    account = await make_account(session, "+84905700005")
    auth = await login(session, settings, account.id)
    async with serving(make_app(self_registration=False)) as client:
        response = await client.post(
            "/v1/auth/link",
            json={"cccd": "051090000005", "full_name": "Ai Đó", "date_of_birth": "1990-02-02"},
            headers=auth,
        )
    assert response.status_code == 404
    assert response.json()["code"] == "no_matching_record"


async def test_bad_link_input_is_422_and_attempts_are_limited(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    account = await make_account(session, "+84905700006")
    auth = await login(session, settings, account.id)
    bad = await client.post(
        "/v1/auth/link", json={"cccd": "05118500000x", "full_name": "A", "date_of_birth": "1985-04-02"}, headers=auth
    )
    assert bad.status_code == 422
    statuses = []
    for i in range(11):
        response = await client.post(
            "/v1/auth/link",
            json={"cccd": f"0511850{i:05d}", "full_name": "Thử", "date_of_birth": "1985-04-02"},
            headers=auth,
        )
        statuses.append(response.status_code)
    assert statuses[-1] == 429


async def test_delegation_invite_accept_and_withdraw(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    grandma_account = await make_account(session, "+84905700007")
    grandma = await make_citizen(session, "051150000007", "+84905700007", dob=dt.date(1950, 1, 1))
    session.add(AccountCitizen(account_id=grandma_account.id, citizen_id=grandma.id))
    son_account = await make_account(session, "+84905700008")
    grandma_auth = await login(session, settings, grandma_account.id)
    son_auth = await login(session, settings, son_account.id)

    invited = await client.post(
        f"/v1/citizens/{grandma.id}/delegations",
        json={"delegate_phone": "0905700008", "days": 30},
        headers=grandma_auth,
    )
    assert invited.status_code == 201
    assert invited.json()["delegate_phone"].endswith("008")
    delegation_id = invited.json()["delegation_id"]
    me = (await client.get("/v1/me", headers=son_auth)).json()
    assert [i["delegation_id"] for i in me["invitations"]] == [delegation_id]
    assert (await client.post(f"/v1/delegations/{delegation_id}/accept", headers=son_auth)).status_code == 200
    me = (await client.get("/v1/me", headers=son_auth)).json()
    assert [(c["citizen_id"], c["relation"]) for c in me["citizens"]] == [(str(grandma.id), "delegate")]

    # A delegate cannot hand the record on, nor see the list of delegations.
    relay = await client.post(
        f"/v1/citizens/{grandma.id}/delegations", json={"delegate_phone": "0905700009"}, headers=son_auth
    )
    assert relay.status_code == 403
    withdrawn = await client.delete(f"/v1/citizens/{grandma.id}/delegations/{delegation_id}", headers=grandma_auth)
    assert withdrawn.status_code == 204
    assert (await client.get("/v1/me", headers=son_auth)).json()["citizens"] == []


async def test_strangers_cannot_touch_someone_elses_delegations(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    owner = await make_citizen(session, "051150000010", "+84905700010", dob=dt.date(1960, 1, 1))
    stranger = await make_account(session, "+84905700011")
    auth = await login(session, settings, stranger.id)
    response = await client.get(f"/v1/citizens/{owner.id}/delegations", headers=auth)
    assert response.status_code == 404
