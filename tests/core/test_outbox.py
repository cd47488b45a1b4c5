from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Uuid, cast, func, null, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Invalid
from core.ids import uuid7
from core.models import Account, Channel, DeliveryStatus, Notification
from core.outbox import Draft, after_quiet_hours, notify, notify_from_select, notify_many

UTC = dt.UTC


def local(hour: int, minute: int = 0, day: int = 23) -> dt.datetime:
    """A time in Quảng Ngãi (UTC+7) on 2026-11-<day>, as UTC."""
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=dt.timezone(dt.timedelta(hours=7))).astimezone(UTC)


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (local(10), local(10)),
        (local(20, 59), local(20, 59)),
        (local(21), local(7, day=24)),
        (local(22), local(7, day=24)),
        (local(23, 59), local(7, day=24)),
        (local(0, 30), local(7)),
        (local(6, 59), local(7)),
        (local(7), local(7)),
    ],
)
def test_quiet_hours_are_21_to_7_local(when: dt.datetime, expected: dt.datetime) -> None:
    assert after_quiet_hours(when) == expected


async def account(session: AsyncSession, phone: str = "+84905000111") -> Account:
    acc = Account(id=uuid7(), phone=phone)
    session.add(acc)
    await session.flush()
    return acc


async def test_notify_writes_one_row_and_dedupes(session: AsyncSession) -> None:
    acc = await account(session)
    draft = Draft(template="checkup_due", dedupe_key="checkup:2026:x", account_id=acc.id)
    first = await notify(session, draft, now=local(10))
    again = await notify(session, draft, now=local(10))
    assert first is not None
    assert again is None
    row = (await session.scalars(select(Notification).where(Notification.id == first))).one()
    assert (row.status, row.channel, row.kind, row.attempts) == (DeliveryStatus.pending, Channel.push, "checkup", 0)
    assert row.not_before == row.next_attempt_at == local(10)
    assert row.expires_at == local(10) + dt.timedelta(days=14)


async def test_a_reminder_queued_at_night_waits_until_seven(session: AsyncSession) -> None:
    acc = await account(session)
    nid = await notify(session, Draft(template="checkup_due", dedupe_key="k", account_id=acc.id), now=local(22))
    row = (await session.scalars(select(Notification).where(Notification.id == nid))).one()
    assert row.not_before == local(7, day=24)


async def test_notify_commits_a_wake_up_for_workers(session: AsyncSession) -> None:
    acc = await account(session)
    await notify(session, Draft(template="checkup_due", dedupe_key="k", account_id=acc.id), now=local(10))
    pending = await session.scalar(text("SELECT count(*) FROM pg_listening_channels()"))
    assert pending == 0  # this session listens to nothing; the NOTIFY itself is checked end to end in the worker tests


@pytest.mark.parametrize(
    ("draft", "code"),
    [
        (Draft(template="checkup_due", dedupe_key="a", params={"diagnosis": "x"}), "template_params"),
        (Draft(template="vaccination_due", dedupe_key="a", params={"due_date": "x" * 201}), "template_params"),
        (Draft(template="vaccination_due", dedupe_key="a", params={"due_date": ["list"]}), "template_params"),
        (Draft(template="otp_sms", dedupe_key="a", phone="+84905000111"), "template_params"),
        (Draft(template="checkup_due", dedupe_key="a"), "push_needs_account"),
        (Draft(template="checkup_due", dedupe_key="a", phone="+84905000111"), "push_needs_account"),
    ],
)
async def test_bad_drafts_are_refused_before_anything_is_written(
    session: AsyncSession, draft: Draft, code: str
) -> None:
    with pytest.raises(Invalid) as refused:
        await notify(session, draft, secret="s", now=local(10))
    assert refused.value.code == code
    assert await session.scalar(select(func.count()).select_from(Notification)) == 0


async def test_unknown_templates_are_a_programming_error(session: AsyncSession) -> None:
    with pytest.raises(KeyError):
        await notify(session, Draft(template="free_text", dedupe_key="a", account_id=uuid7()), now=local(10))


async def test_an_evening_reminder_that_would_expire_overnight_is_refused(session: AsyncSession) -> None:
    acc = await account(session)
    draft = Draft(template="checkup_due", dedupe_key="a", account_id=acc.id, expires_at=local(23))
    with pytest.raises(Invalid):
        await notify(session, draft, now=local(22))


async def test_notify_many_chunks_large_lists(session: AsyncSession) -> None:
    acc = await account(session)
    drafts = [Draft(template="checkup_due", dedupe_key=f"bulk:{i}", account_id=acc.id) for i in range(2500)]
    ids = await notify_many(session, drafts, now=local(10))
    assert len(ids) == len(set(ids)) == 2500


async def test_notify_from_select_materialises_a_cohort_in_one_statement(session: AsyncSession) -> None:
    accounts = [await account(session, f"+8490500{i:04d}") for i in range(30)]
    campaign = uuid7()
    recipients = select(
        Account.id.label("account_id"),
        cast(null(), Uuid).label("citizen_id"),
        func.concat("campaign:", str(campaign), ":", Account.id).label("dedupe_key"),
    ).where(Account.phone.like("+8490500%"))
    params = {"facility": "TYT Nghĩa Kỳ", "topic": "tiêm chủng"}
    count = await notify_from_select(
        session, template="station_message", recipients=recipients, params=params, campaign_id=campaign, now=local(10)
    )
    assert count == 30
    again = await notify_from_select(
        session, template="station_message", recipients=recipients, params=params, campaign_id=campaign, now=local(10)
    )
    assert again == 0, "a relaunch does not duplicate"
    rows = (await session.scalars(select(Notification).where(Notification.campaign_id == campaign))).all()
    assert {r.account_id for r in rows} == {a.id for a in accounts}
    assert all(r.id.version == 7 for r in rows), "keys made inside SQL are UUIDv7 too"
    assert all(r.params == params and r.kind == "campaign" for r in rows)
