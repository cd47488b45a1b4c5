"""The daily reminder sweep: idempotent, to the guardian for a child, one leader among workers."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable

import msgspec
from sqlalchemy import func, select

from core.db import Database
from core.ids import uuid7
from core.immunization.schedule import add_months
from core.models import (
    Account,
    AccountCitizen,
    Citizen,
    Device,
    DoseStatus,
    Examination,
    Guardianship,
    ImmunizationDue,
    Notification,
    Platform,
    ReminderSweep,
    Sex,
    Source,
)
from core.outbox import local_date
from core.records.guard import Actor
from core.records.service import RecordService
from core.settings import Settings
from notifications.fake_fcm import FakeFcm
from notifications.reminders import run_daily, sweep
from notifications.worker import Worker
from tests.notifications.conftest import T0

TODAY = local_date(T0)


class People(msgspec.Struct):
    guardian: uuid.UUID
    adult: uuid.UUID
    guardian_account: uuid.UUID
    guardian_token: str
    adult_account: uuid.UUID
    adult_token: str
    child: uuid.UUID
    examined: uuid.UUID  # an adult seen this year: no check-up reminder
    stranger_child: uuid.UUID  # nobody acts for this child: nobody to remind


async def build(database: Database) -> People:
    async with database.transaction() as session:

        def person(name: str, born: dt.date, sex: Sex = Sex.female) -> Citizen:
            return Citizen(id=uuid7(), full_name=name, sex=sex, date_of_birth=born)

        guardian = person("Mẹ", dt.date(1995, 3, 3))
        adult = person("Người lớn", dt.date(1970, 1, 1), Sex.male)
        examined = person("Đã khám", dt.date(1972, 1, 1), Sex.male)
        child = person("Bé", add_months(TODAY, -5))  # five months old, nothing given: several series overdue
        stranger = person("Bé khác", add_months(TODAY, -5))
        session.add_all([guardian, adult, examined, child, stranger])
        await session.flush()
        accounts = {name: Account(id=uuid7(), phone=f"+8490555000{i}") for i, name in enumerate(("g", "a", "e"))}
        session.add_all(accounts.values())
        await session.flush()
        session.add_all(
            [
                AccountCitizen(account_id=accounts["g"].id, citizen_id=guardian.id),
                AccountCitizen(account_id=accounts["a"].id, citizen_id=adult.id),
                AccountCitizen(account_id=accounts["e"].id, citizen_id=examined.id),
                Guardianship(guardian_citizen_id=guardian.id, citizen_id=child.id, relation="mother", source="station"),
                Examination(citizen_id=examined.id, examined_on=TODAY - dt.timedelta(days=40), source=Source.station),
            ]
        )
        tokens = {}
        for key, account in accounts.items():
            tokens[key] = f"tok-{account.id.hex}"
            session.add(
                Device(
                    account_id=account.id,
                    installation_id=f"inst-{account.id.hex}",
                    token=tokens[key],
                    platform=Platform.android,
                )
            )
    return People(
        guardian=guardian.id,
        adult=adult.id,
        guardian_account=accounts["g"].id,
        guardian_token=tokens["g"],
        adult_account=accounts["a"].id,
        adult_token=tokens["a"],
        child=child.id,
        examined=examined.id,
        stranger_child=stranger.id,
    )


async def outbox(database: Database) -> list[Notification]:
    async with database.transaction() as session:
        return list((await session.scalars(select(Notification).order_by(Notification.dedupe_key))).all())


async def test_the_sweep_twice_sends_nothing_twice_and_a_childs_reminders_reach_the_guardian(
    committed: Database,
    settings: Settings,
    make_worker: Callable[..., Worker],
    fake_fcm: FakeFcm,
) -> None:
    people = await build(committed)
    first = await sweep(committed, settings, now=T0)
    rows = await outbox(committed)
    assert first.vaccination_overdue > 0 and first.vaccination_due >= 0
    # Status rows exist for both children, whether or not anyone can be reminded.
    async with committed.transaction() as session:
        children = set(await session.scalars(select(ImmunizationDue.citizen_id).distinct()))
        overdue = await session.scalar(
            select(func.count()).where(
                ImmunizationDue.citizen_id == people.child, ImmunizationDue.status == DoseStatus.overdue
            )
        )
    assert {people.child, people.stranger_child} <= children
    vaccination = [n for n in rows if n.kind == "vaccination"]
    assert vaccination and all(n.citizen_id == people.child for n in vaccination)
    assert {n.account_id for n in vaccination} == {people.guardian_account}, "a child's reminders go to the guardian"
    assert len([n for n in vaccination if n.template_key == "vaccination_overdue"]) == overdue
    assert all(set(n.params) == {"due_date"} for n in vaccination)
    checkups = {(n.account_id, n.citizen_id) for n in rows if n.kind == "checkup"}
    # Nobody examined in 12 months: the guardian (for herself and for the child) and the adult. Not the person
    # examined 40 days ago, and not the child nobody acts for.
    assert checkups == {
        (people.guardian_account, people.guardian),
        (people.guardian_account, people.child),
        (people.adult_account, people.adult),
    }
    assert first.vaccination_due + first.vaccination_overdue + first.checkup == len(rows)

    second = await sweep(committed, settings, now=T0 + dt.timedelta(hours=3))
    assert (second.vaccination_due, second.vaccination_overdue, second.checkup) == (0, 0, 0)
    assert len(await outbox(committed)) == len(rows)

    worker = make_worker()
    while await worker.run_once():
        pass
    by_token: dict[str, int] = {}
    for message in fake_fcm.messages:
        by_token[message["token"]] = by_token.get(message["token"], 0) + 1
    assert by_token[people.guardian_token] == len([n for n in rows if n.account_id == people.guardian_account])
    assert by_token[people.adult_token] == 1, "one check-up reminder for the adult, nothing else"
    assert not fake_fcm.duplicates()
    for message in fake_fcm.messages:
        assert set(message["data"]) == {"notification_id", "kind"}, "no health detail in a push"


async def test_a_recorded_dose_moves_the_reminders_to_the_next_dose(committed: Database, settings: Settings) -> None:
    people = await build(committed)
    await sweep(committed, settings, now=T0)
    async with committed.transaction() as session:
        await RecordService(session, now=T0).add_item(
            people.child,
            "vaccinations",
            {"vaccine_code": "DPT-VGB-HIB", "dose_number": 1, "given_on": TODAY},
            actor=Actor(Source.station, facility_id=None),
            path="test",
        )
        state = await session.get(ImmunizationDue, (people.child, "DPT-VGB-HIB"))
        assert state is not None and (state.next_dose, state.status) == (2, DoseStatus.upcoming), "refreshed at once"
        assert state.due_on == add_months(TODAY, 1)
    quiet = await sweep(committed, settings, now=T0 + dt.timedelta(days=1))
    assert quiet.vaccination_due == 0 and quiet.vaccination_overdue == 0, "dose 2 is a month away; the rest was sent"
    reminder_day = dt.datetime.combine(
        add_months(TODAY, 1) - dt.timedelta(days=settings.vaccination_reminder_days), dt.time(3, 0), dt.UTC
    )
    ahead = await sweep(committed, settings, now=reminder_day)
    keys = {n.dedupe_key for n in await outbox(committed) if n.template_key == "vaccination_due"}
    expected = f"vax:{people.child}:DPT-VGB-HIB:2:due:{people.guardian_account}"
    assert expected in keys, f"{settings.vaccination_reminder_days} days ahead of dose 2"
    assert ahead.vaccination_due >= 1


async def test_one_worker_runs_the_daily_sweep(committed: Database, settings: Settings) -> None:
    await build(committed)
    reports = await asyncio.gather(*(run_daily(committed, settings, now=T0) for _ in range(4)))
    ran = [r for r in reports if r is not None]
    # Whoever lost the advisory lock, or came after the winner recorded the day, did nothing.
    assert len(ran) == 1
    assert await run_daily(committed, settings, now=T0 + dt.timedelta(hours=1)) is None
    async with committed.transaction() as session:
        recorded = await session.get(ReminderSweep, TODAY)
    assert recorded is not None and recorded.counts == ran[0].counts()
    assert await run_daily(committed, settings, now=T0 + dt.timedelta(days=1)) is not None, "a new day, a new sweep"
