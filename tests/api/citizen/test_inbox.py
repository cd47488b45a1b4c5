from __future__ import annotations

import datetime as dt

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import uuid7
from core.models import Account, DeliveryStatus, Notification
from core.outbox import Draft, notify, notify_many
from core.settings import Settings
from tests.support import login

DAYTIME = dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC)  # 10:00 in Quảng Ngãi, already past


async def make_account(session: AsyncSession, phone: str) -> Account:
    account = Account(id=uuid7(), phone=phone)
    session.add(account)
    await session.flush()
    return account


async def fill(session: AsyncSession, account: Account, count: int, prefix: str = "n") -> list[str]:
    drafts = [
        Draft(template="checkup_due", dedupe_key=f"{prefix}:{account.id}:{i}", account_id=account.id)
        for i in range(count)
    ]
    ids: list[str] = []
    for draft in drafts:  # one at a time so created_at (transaction time) ties are broken by the id
        nid = await notify(session, draft, now=DAYTIME)
        ids.append(str(nid))
    return ids


async def test_the_inbox_pages_newest_first_without_gaps(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    account = await make_account(session, "+84905200001")
    ids = await fill(session, account, 45)
    auth = await login(session, settings, account.id)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 20} | ({"cursor": cursor} if cursor else {})
        response = await client.get("/v1/notifications", params=params, headers=auth)
        assert response.status_code == 200
        page = response.json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page.get("next_cursor")
        if not cursor:
            break
    assert pages == 3
    assert seen == list(reversed(ids)), "newest first, every item exactly once"
    assert response.headers["cache-control"] == "no-store"


async def test_inbox_items_are_localised_and_show_only_what_is_due_and_mine(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    me = await make_account(session, "+84905200002")
    other = await make_account(session, "+84905200003")
    await notify_many(
        session,
        [
            Draft(
                template="appointment_reminder",
                dedupe_key="due",
                account_id=me.id,
                params={"starts_at": "08:30 25/11", "facility": "TYT Nghĩa Kỳ"},
            ),
            Draft(
                template="checkup_due",
                dedupe_key="later",
                account_id=me.id,
                not_before=DAYTIME + dt.timedelta(days=3650),
            ),
            Draft(template="checkup_due", dedupe_key="gone", account_id=me.id),
            Draft(template="checkup_due", dedupe_key="theirs", account_id=other.id),
        ],
        now=DAYTIME,
    )
    await session.execute(
        update(Notification).where(Notification.dedupe_key == "gone").values(status=DeliveryStatus.cancelled)
    )
    response = await client.get(
        "/v1/notifications", headers=await login(session, settings, me.id) | {"Accept-Language": "en"}
    )
    [item] = response.json()["items"]
    assert item["title"] == "Appointment reminder"
    assert item["body"] == "Appointment at 08:30 25/11, TYT Nghĩa Kỳ."
    assert item["read_at"] is None


async def test_mark_read_is_idempotent_and_private(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    me = await make_account(session, "+84905200004")
    other = await make_account(session, "+84905200005")
    [nid] = await fill(session, me, 1)
    assert (
        await client.post(f"/v1/notifications/{nid}/read", headers=await login(session, settings, other.id))
    ).status_code == 404
    first = await client.post(f"/v1/notifications/{nid}/read", headers=await login(session, settings, me.id))
    assert first.status_code == 200
    assert first.json()["read_at"] is not None
    again = await client.post(f"/v1/notifications/{nid}/read", headers=await login(session, settings, me.id))
    assert again.json()["read_at"] == first.json()["read_at"], "the first read time is kept"
    missing = await client.post(f"/v1/notifications/{uuid7()}/read", headers=await login(session, settings, me.id))
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("params", "status"),
    [({"limit": 0}, 422), ({"limit": 101}, 422), ({"cursor": "%%%"}, 422), ({"cursor": "bm90LWEtY3Vyc29y"}, 422)],
)
async def test_bad_paging_is_a_4xx_problem(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, params: dict[str, object], status: int
) -> None:
    me = await make_account(session, "+84905200006")
    response = await client.get("/v1/notifications", params=params, headers=await login(session, settings, me.id))
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"


async def test_the_inbox_needs_a_login(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/notifications")).status_code == 401
