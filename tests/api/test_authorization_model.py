"""A model of who may see what, checked against the real API after every step of a hypothesis state machine.

The machine creates people, accounts and staff, links guardians and delegates, has citizens share QR grants
with clinicians, revokes and expires them, books appointments, files corrections and writes notes — all
through the real routes, against a database of its own (commits are real; every example makes fresh people, so
examples never see each other's data). A plain Python model keeps who may act for whom, which grants are live
and what each person owns. After every step every principal reads everything it can list or open, and each
answer is compared with the model: nothing of a person the caller may not see right now (a revoked or expired
grant bites on the very next request), and — where it is cheap — everything the caller should see is there.

Every person's name and self-entered data carry a marker (``mẫu-<n>``): a response holding the marker of
someone the caller may not see is a leak whatever field it sits in.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from itertools import count
from typing import Any, ClassVar, TypeVar

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from api.app import create_app
from core.db import Database
from core.identity.guardianship import age_on
from core.identity.sessions import SessionService
from core.ids import uuid7
from core.models import (
    Account,
    AccountCitizen,
    Citizen,
    Clinician,
    Delegation,
    Facility,
    FacilityKind,
    FacilityService,
    Grant,
    Sex,
    Slot,
    StaffRole,
    SubjectKind,
)
from core.outbox import VN_TZ, local_date
from core.settings import Settings
from tests.conftest import PgCluster
from tests.scale import scaled
from tests.support import serving

pytestmark = pytest.mark.reliability

T = TypeVar("T")
MARKER = re.compile(r"mẫu-\d+")
SHAREABLE = ("administrative", "allergies", "conditions", "notes", "vaccinations")
EMERGENCY_SECTIONS = ("administrative", "allergies", "conditions", "vaccinations", "diagnoses", "examinations")
AGES = (40, 30, 15, 8)  # two adults, a teenager who sees their own record (≥ 14), a child who does not
BOOKING_DAYS = (3, 4)  # days ahead: reminders are not due yet, so the inbox holds only what happened
REASON = "Bệnh nhân bất tỉnh, cần biết tiền sử dị ứng thuốc"
SERIAL = count(1)  # unique phones, codes and usernames across examples that share one database


class Harness:
    """The app and a database of its own, driven from synchronous code through an event loop this test owns."""

    def __init__(self, loop: asyncio.AbstractEventLoop, http: httpx.AsyncClient, database: Database, cfg: Settings):
        self.loop, self.http, self.database, self.settings = loop, http, database, cfg
        self.requests = 0

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def call(self, method: str, path: str, headers: dict[str, str], **kwargs: Any) -> httpx.Response:
        self.requests += 1
        response = self.run(self.http.request(method, path, headers=headers, **kwargs))
        assert response.status_code < 500, f"{method} {path}: {response.status_code} {response.text[:300]}"
        return response

    def db(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async def go() -> T:
            async with self.database.transaction() as session:
                return await work(session)

        return self.run(go())


@pytest.fixture(scope="module")
def harness(pg_cluster: PgCluster, settings: Settings) -> Iterator[Harness]:
    loop = asyncio.new_event_loop()  # not set as the current loop: pytest-asyncio keeps its own
    name, url = loop.run_until_complete(pg_cluster.migrated_database("phr_authz"))
    database = Database.from_url(url, pool_size=5, max_overflow=5)
    stack = AsyncExitStack()
    http = loop.run_until_complete(stack.enter_async_context(serving(create_app(settings, database))))
    try:
        yield Harness(loop, http, database, settings)
    finally:
        loop.run_until_complete(stack.aclose())
        loop.run_until_complete(database.dispose())
        loop.run_until_complete(pg_cluster.drop_database(name))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


# -- the model -----------------------------------------------------------------------------------------------
@dataclass
class Person:
    key: str
    id: uuid.UUID
    marker: str
    age: int
    home: str  # "S1" or "S2"
    cccd: str
    account: str | None = None  # the account whose phone is linked to this person


@dataclass
class Acct:
    key: str
    id: uuid.UUID
    phone: str
    headers: dict[str, str]


@dataclass
class Staff:
    key: str
    id: uuid.UUID
    station: str
    role: StaffRole
    headers: dict[str, str]


@dataclass
class GrantM:
    id: uuid.UUID
    citizen: str
    clinician: str
    sections: frozenset[str]
    access: str
    origin: str
    dead: bool = False  # revoked, shortened to now, or expired


@dataclass
class DelegationM:
    id: uuid.UUID
    citizen: str
    delegate: str  # account key
    status: str = "invited"  # invited, active, declined, revoked
    expired: bool = False


@dataclass
class GuardianshipM:
    id: uuid.UUID
    guardian: str
    child: str
    revoked: bool = False


@dataclass
class AppointmentM:
    id: uuid.UUID
    citizen: str
    station: str
    day: dt.date
    status: str = "booked"


@dataclass
class World:
    stations: dict[str, uuid.UUID] = field(default_factory=dict)
    slots: dict[tuple[str, int], uuid.UUID] = field(default_factory=dict)  # (station, days ahead) → slot
    persons: dict[str, Person] = field(default_factory=dict)
    accounts: dict[str, Acct] = field(default_factory=dict)
    staff: dict[str, Staff] = field(default_factory=dict)
    grants: dict[uuid.UUID, GrantM] = field(default_factory=dict)
    delegations: list[DelegationM] = field(default_factory=list)
    guardianships: list[GuardianshipM] = field(default_factory=list)
    appointments: dict[uuid.UUID, AppointmentM] = field(default_factory=dict)
    corrections: dict[uuid.UUID, tuple[str, bool]] = field(default_factory=dict)  # id → (citizen, open)
    ever: dict[str, set[str]] = field(default_factory=dict)  # account → everyone it has acted for so far

    def relation(self, account: str, citizen: str) -> str | None:
        """core/identity/access.py in plain Python: self from 14, guardians until 18, live delegates."""
        person = self.persons[citizen]
        if person.account == account and person.age >= 14:
            return "self"
        if person.age < 18 and any(
            g.child == citizen and not g.revoked and self.persons[g.guardian].account == account
            for g in self.guardianships
        ):
            return "guardian"
        if any(
            d.citizen == citizen and d.delegate == account and d.status == "active" and not d.expired
            for d in self.delegations
        ):
            return "delegate"
        return None

    def visible(self, account: str) -> set[str]:
        return {p for p in self.persons if self.relation(account, p) is not None}

    def markers(self, citizens: set[str]) -> set[str]:
        return {self.persons[c].marker for c in citizens}

    def live_grants(self, clinician: str) -> set[uuid.UUID]:
        return {g.id for g in self.grants.values() if g.clinician == clinician and not g.dead}


def pick(items: list[T], index: int) -> T:
    return items[index % len(items)]


def items_of(harness: Harness, path: str, headers: dict[str, str], **params: Any) -> list[Any]:
    """Every item of a list route, whether it answers a bare list or cursor pages of ``{items, next_cursor}``."""
    response = harness.call("GET", path, headers, params=params or None)
    assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text[:200]}"
    body = response.json()
    if isinstance(body, list):
        return body
    found = list(body["items"])
    while body.get("next_cursor"):
        response = harness.call("GET", path, headers, params={**params, "cursor": body["next_cursor"]})
        body = response.json()
        found += body["items"]
    return found


def leaked(text: str, allowed: set[str]) -> set[str]:
    return set(MARKER.findall(text)) - allowed


class AuthorizationModel(RuleBasedStateMachine):
    harness: ClassVar[Harness]

    def __init__(self) -> None:
        super().__init__()
        self.h = self.harness
        self.w = World()
        self.step = 0

    # -- helpers -------------------------------------------------------------------------------------------
    def _caller(self, index: int, citizen: str) -> Acct:
        """Half the time someone who may act for ``citizen`` (when anyone may), else any account at all."""
        acting = [a for a in self.w.accounts.values() if self.w.relation(a.key, citizen) is not None]
        return pick(acting if acting and index % 2 == 0 else list(self.w.accounts.values()), index // 2)

    def _account_or(self, index: int, key: str) -> Acct:
        """Half the time the account ``key``, else any account."""
        return self.w.accounts[key] if index % 2 == 0 else pick(list(self.w.accounts.values()), index // 2)

    @initialize()
    def stations_and_staff(self) -> None:
        n = next(SERIAL)

        async def build(session: AsyncSession) -> None:
            for station in ("S1", "S2"):
                facility = Facility(
                    id=uuid7(),
                    code=f"{station[1]}Z{n % 1000:03d}",
                    name=f"TYT {station}",
                    kind=FacilityKind.health_station,
                )
                session.add(facility)
                await session.flush()
                self.w.stations[station] = facility.id
                service = FacilityService(id=uuid7(), facility_id=facility.id, kind="consultation", name="Khám bệnh")
                session.add(service)
                await session.flush()
                today = local_date(dt.datetime.now(dt.UTC))
                for ahead in BOOKING_DAYS:
                    starts = dt.datetime.combine(today + dt.timedelta(days=ahead), dt.time(9), VN_TZ)
                    slot = Slot(
                        id=uuid7(),
                        facility_id=facility.id,
                        service_id=service.id,
                        starts_at=starts,
                        ends_at=starts + dt.timedelta(minutes=30),
                        capacity=50,
                    )
                    session.add(slot)
                    self.w.slots[(station, ahead)] = slot.id
                for role, suffix in ((StaffRole.clinician, "C"), (StaffRole.station_admin, "T")):
                    member = Clinician(
                        id=uuid7(),
                        facility_id=facility.id,
                        full_name=f"{suffix}{station}",
                        role=role,
                        username=f"authz-{n}-{suffix}{station}",
                        licence_number=f"{n}/{suffix}{station}",
                    )
                    session.add(member)
                    await session.flush()
                    pair = await SessionService(session, self.h.settings).start(
                        SubjectKind.clinician,
                        member.id,
                        method="test",
                        claims={"role": role.value, "fac": str(facility.id)},
                    )
                    key = f"{suffix}{station[1]}"  # C1, T1, C2, T2
                    self.w.staff[key] = Staff(
                        key, member.id, station, role, {"Authorization": f"Bearer {pair.access_token}"}
                    )
            await session.flush()

        self.h.db(build)
        # A family to start from, so that every step can act: an adult with a phone and their child (the station
        # records the guardianship), an adult of the other station, and a phone that is nobody's own.
        self.add_person(age=40, home="S1", with_account=True)
        self.add_person(age=8, home="S1", with_account=False)
        self.add_person(age=30, home="S2", with_account=True)
        self.add_bare_account()
        self.add_guardianship(staff="T1", guardian=0, child=1)

    # -- people --------------------------------------------------------------------------------------------
    @precondition(lambda self: len(self.w.persons) < 5)
    @rule(age=st.sampled_from(AGES), home=st.sampled_from(("S1", "S2")), with_account=st.booleans())
    def add_person(self, age: int, home: str, with_account: bool) -> None:
        """A citizen of a station, with or without their own phone account (a child under 14 may have one)."""
        n = next(SERIAL)
        key = f"P{len(self.w.persons)}"
        today = local_date(dt.datetime.now(dt.UTC))
        dob = today.replace(day=1) - dt.timedelta(days=int(age * 365.25) + 40)
        real_age = age_on(dob, today)
        cccd = f"051{0 if dob.year < 2000 else 2}{dob.year % 100:02d}{n % 1000000:06d}"
        phone = f"+84906{n % 1000000:06d}"
        marker = f"mẫu-{n}"

        async def build(session: AsyncSession) -> tuple[uuid.UUID, Acct | None]:
            citizen = Citizen(
                id=uuid7(),
                full_name=f"Người {marker}",
                sex=Sex.male,
                date_of_birth=dob,
                cccd=cccd,
                home_facility_id=self.w.stations[home],
                phone=phone if with_account else None,
            )
            session.add(citizen)
            await session.flush()
            account = None
            if with_account:
                account = await self._new_account(session, phone, f"A{len(self.w.accounts)}")
                session.add(AccountCitizen(account_id=account.id, citizen_id=citizen.id))
                await session.flush()
            return citizen.id, account

        citizen_id, account = self.h.db(build)
        self.w.persons[key] = Person(key, citizen_id, marker, real_age, home, cccd)
        if account is not None:
            self.w.accounts[account.key] = account
            self.w.persons[key].account = account.key

    async def _new_account(self, session: AsyncSession, phone: str, key: str) -> Acct:
        account = Account(id=uuid7(), phone=phone)
        session.add(account)
        await session.flush()
        pair = await SessionService(session, self.h.settings).start(SubjectKind.account, account.id, method="test")
        return Acct(key, account.id, phone, {"Authorization": f"Bearer {pair.access_token}"})

    @precondition(lambda self: len(self.w.accounts) < 4)
    @rule()
    def add_bare_account(self) -> None:
        """A phone that is nobody's own yet: it can only ever act as someone's delegate."""
        phone = f"+84907{next(SERIAL) % 1000000:06d}"
        account = self.h.db(lambda s: self._new_account(s, phone, f"A{len(self.w.accounts)}"))
        self.w.accounts[account.key] = account

    # -- guardianship (station staff) ----------------------------------------------------------------------
    @precondition(lambda self: len(self.w.persons) >= 2)
    @rule(staff=st.sampled_from(("T1", "T2")), guardian=st.integers(0, 9), child=st.integers(0, 9))
    def add_guardianship(self, staff: str, guardian: int, child: int) -> None:
        people = list(self.w.persons.values())
        g, c = pick(people, guardian), pick(people, child)
        member = self.w.staff[staff]
        response = self.h.call(
            "POST",
            "/v1/station/guardianships",
            member.headers,
            json={"guardian_citizen_id": str(g.id), "citizen_id": str(c.id), "relation": "legal_guardian"},
        )
        if c.home != member.station:
            assert response.status_code == 404, "another station's child does not exist for this station"
            return
        if g.key == c.key or c.age >= 18 or g.age < 18:
            assert 400 <= response.status_code < 500 and response.status_code not in (401, 403), response.text
            return
        assert response.status_code == 201, response.text
        link = uuid.UUID(response.json()["guardianship_id"])
        if not any(x.id == link for x in self.w.guardianships):
            self.w.guardianships.append(GuardianshipM(link, g.key, c.key))

    @precondition(lambda self: bool(self.w.guardianships))
    @rule(staff=st.sampled_from(("T1", "T2")), which=st.integers(0, 9))
    def end_guardianship(self, staff: str, which: int) -> None:
        link = pick(self.w.guardianships, which)
        member = self.w.staff[staff]
        response = self.h.call("DELETE", f"/v1/station/guardianships/{link.id}", member.headers)
        if self.w.persons[link.child].home == member.station and not link.revoked:
            assert response.status_code == 204, response.text
            link.revoked = True
        else:
            assert response.status_code == 404

    # -- delegation (the person, then the delegate) --------------------------------------------------------
    @precondition(lambda self: bool(self.w.accounts) and bool(self.w.persons))
    @rule(caller=st.integers(0, 9), citizen=st.integers(0, 9), delegate=st.integers(0, 9))
    def invite_delegate(self, caller: int, citizen: int, delegate: int) -> None:
        accounts = list(self.w.accounts.values())
        person = pick(list(self.w.persons.values()), citizen)
        who, to = self._caller(caller, person.key), pick(accounts, delegate)
        response = self.h.call(
            "POST",
            f"/v1/citizens/{person.id}/delegations",
            who.headers,
            json={"delegate_phone": "0" + to.phone[3:], "days": 30},
        )
        relation = self.w.relation(who.key, person.key)
        if relation is None:
            assert response.status_code == 404, response.text
        elif relation != "self":
            assert response.status_code == 403, "only the person hands out delegations"
        elif person.age < 18:
            assert response.status_code == 403, "a child's record is managed by guardians"
        elif to.key == who.key or any(
            d.citizen == person.key and d.delegate == to.key and d.status in ("invited", "active") and not d.expired
            for d in self.w.delegations
        ):
            assert response.status_code in (400, 409, 422), response.text
        else:
            assert response.status_code == 201, response.text
            self.w.delegations.append(DelegationM(uuid.UUID(response.json()["delegation_id"]), person.key, to.key))

    @precondition(lambda self: bool(self.w.delegations))
    @rule(which=st.integers(0, 9), caller=st.integers(0, 9), accept=st.booleans())
    def answer_invitation(self, which: int, caller: int, accept: bool) -> None:
        delegation = pick(self.w.delegations, which)
        who = self._account_or(caller, delegation.delegate)
        verb = "accept" if accept else "decline"
        response = self.h.call("POST", f"/v1/delegations/{delegation.id}/{verb}", who.headers)
        if who.key != delegation.delegate:
            assert response.status_code == 404, "an invitation to another phone does not exist for this one"
        elif delegation.status != "invited" or delegation.expired:
            assert response.status_code == 409, response.text
        else:
            assert response.status_code == 200, response.text
            delegation.status = "active" if accept else "declined"

    @precondition(lambda self: bool(self.w.delegations))
    @rule(which=st.integers(0, 9), caller=st.integers(0, 9))
    def withdraw_delegation(self, which: int, caller: int) -> None:
        """The person withdraws it (or someone else tries to, on the person's path)."""
        delegation = pick(self.w.delegations, which)
        who = self._caller(caller, delegation.citizen)
        person = self.w.persons[delegation.citizen]
        response = self.h.call("DELETE", f"/v1/citizens/{person.id}/delegations/{delegation.id}", who.headers)
        relation = self.w.relation(who.key, person.key)
        if relation is None:
            assert response.status_code == 404
        elif relation != "self":
            assert response.status_code == 403
        else:
            assert response.status_code == 204, response.text
            if delegation.status in ("invited", "active"):
                delegation.status = "revoked"

    @precondition(lambda self: bool(self.w.delegations))
    @rule(which=st.integers(0, 9), caller=st.integers(0, 9))
    def delegate_steps_down(self, which: int, caller: int) -> None:
        delegation = pick(self.w.delegations, which)
        who = self._account_or(caller, delegation.delegate)
        response = self.h.call("DELETE", f"/v1/delegations/{delegation.id}", who.headers)
        if who.key == delegation.delegate and delegation.status == "active":
            assert response.status_code == 204, response.text
            delegation.status = "revoked"
        else:
            assert response.status_code == 404

    @precondition(lambda self: any(not d.expired for d in self.w.delegations))
    @rule(which=st.integers(0, 9))
    def delegation_expires(self, which: int) -> None:
        delegation = pick([d for d in self.w.delegations if not d.expired], which)
        past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        self.h.db(lambda s: s.execute(update(Delegation).where(Delegation.id == delegation.id).values(expires_at=past)))
        delegation.expired = True

    # -- consent: shares, grants, break-glass --------------------------------------------------------------
    @precondition(lambda self: bool(self.w.accounts) and bool(self.w.persons) and len(self.w.grants) < 6)
    @rule(
        caller=st.integers(0, 9),
        citizen=st.integers(0, 9),
        clinician=st.sampled_from(("C1", "C2", "T1")),
        sections=st.sets(st.sampled_from(SHAREABLE), min_size=1, max_size=3),
        write=st.booleans(),
    )
    def share_and_redeem(self, caller: int, citizen: int, clinician: str, sections: set[str], write: bool) -> None:
        """Whoever acts for the person shows a QR; a clinician (or station staff) redeems it into a grant."""
        person = pick(list(self.w.persons.values()), citizen)
        who = self._caller(caller, person.key)
        access = "read_write" if write else "read"
        response = self.h.call(
            "POST",
            f"/v1/citizens/{person.id}/shares",
            who.headers,
            json={"sections": sorted(sections), "access": access, "duration_minutes": 60},
        )
        if self.w.relation(who.key, person.key) is None:
            assert response.status_code == 404, "a stranger cannot share someone else's record"
            return
        assert response.status_code == 201, response.text
        redeemed = self.h.call(
            "POST",
            "/v1/clinician/shares/redeem",
            self.w.staff[clinician].headers,
            json={"token": response.json()["payload"]},
        )
        assert redeemed.status_code == 201, redeemed.text
        body = redeemed.json()
        assert body["citizen_id"] == str(person.id)
        grant = GrantM(uuid.UUID(body["grant_id"]), person.key, clinician, frozenset(sections), access, "qr")
        self.w.grants[grant.id] = grant

    @precondition(lambda self: bool(self.w.persons) and len(self.w.grants) < 6)
    @rule(clinician=st.sampled_from(("C1", "C2")), citizen=st.integers(0, 9))
    def break_glass(self, clinician: str, citizen: int) -> None:
        person = pick(list(self.w.persons.values()), citizen)
        response = self.h.call(
            "POST",
            "/v1/clinician/emergency-access",
            self.w.staff[clinician].headers,
            json={"identifier": person.cccd, "reason": REASON},
        )
        assert response.status_code == 201, response.text
        grant_id = uuid.UUID(response.json()["grant_id"])
        self.w.grants[grant_id] = GrantM(
            grant_id, person.key, clinician, frozenset(EMERGENCY_SECTIONS), "read", "emergency"
        )

    def _grant_path_and_caller(self, grant: GrantM, caller: int, via: int) -> tuple[Acct, Person, bool]:
        """A caller, and the person whose path the request names: the grant's own, or (BOLA) another's."""
        own = via % 3 != 0
        person = self.w.persons[grant.citizen] if own else pick(list(self.w.persons.values()), via)
        who = self._caller(caller, person.key)
        return who, person, person.key == grant.citizen

    @precondition(lambda self: bool(self.w.grants) and bool(self.w.accounts))
    @rule(which=st.integers(0, 9), caller=st.integers(0, 9), via=st.integers(0, 9))
    def revoke_grant(self, which: int, caller: int, via: int) -> None:
        grant = pick(list(self.w.grants.values()), which)
        who, person, own = self._grant_path_and_caller(grant, caller, via)
        response = self.h.call("DELETE", f"/v1/citizens/{person.id}/grants/{grant.id}", who.headers)
        if self.w.relation(who.key, person.key) is not None and own:
            assert response.status_code == 204, response.text
            grant.dead = True
            self._grant_is_gone(grant)
        else:
            assert response.status_code == 404, "another person's grant cannot be revoked"

    @precondition(lambda self: bool(self.w.grants) and bool(self.w.accounts))
    @rule(which=st.integers(0, 9), caller=st.integers(0, 9), via=st.integers(0, 9))
    def shorten_grant_to_now(self, which: int, caller: int, via: int) -> None:
        grant = pick(list(self.w.grants.values()), which)
        who, person, own = self._grant_path_and_caller(grant, caller, via)
        past = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat()
        response = self.h.call(
            "PATCH", f"/v1/citizens/{person.id}/grants/{grant.id}", who.headers, json={"expires_at": past}
        )
        if self.w.relation(who.key, person.key) is not None and own:
            assert response.status_code == 200, response.text
            grant.dead = True
            self._grant_is_gone(grant)
        else:
            assert response.status_code == 404

    @precondition(lambda self: any(not g.dead for g in self.w.grants.values()))
    @rule(which=st.integers(0, 9))
    def grant_expires(self, which: int) -> None:
        grant = pick([g for g in self.w.grants.values() if not g.dead], which)
        past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        self.h.db(lambda s: s.execute(update(Grant).where(Grant.id == grant.id).values(expires_at=past)))
        grant.dead = True
        self._grant_is_gone(grant)

    def _grant_is_gone(self, grant: GrantM) -> None:
        """Revocation and expiry take effect on the very next request."""
        headers = self.w.staff[grant.clinician].headers
        assert self.h.call("GET", f"/v1/clinician/grants/{grant.id}/record", headers).status_code == 404

    @precondition(lambda self: bool(self.w.grants))
    @rule(which=st.integers(0, 9), as_holder=st.booleans(), section=st.sampled_from(("notes", "vaccinations")))
    def clinician_writes(self, which: int, as_holder: bool, section: str) -> None:
        """A write under a grant: only its holder, only while live, only read_write, only a granted section."""
        grant = pick(list(self.w.grants.values()), which)
        clinician = grant.clinician if as_holder else ("C2" if grant.clinician == "C1" else "C1")
        person = self.w.persons[grant.citizen]
        body: dict[str, Any] = (
            {"text": f"khám định kỳ {person.marker}"}
            if section == "notes"
            else {"vaccine_code": "FLU", "given_on": local_date(dt.datetime.now(dt.UTC)).isoformat()}
        )
        response = self.h.call(
            "POST", f"/v1/clinician/grants/{grant.id}/{section}", self.w.staff[clinician].headers, json=body
        )
        allowed = (
            clinician == grant.clinician
            and not grant.dead
            and grant.access == "read_write"
            and section in grant.sections
        )
        if allowed:
            assert response.status_code == 201, response.text
        else:
            assert response.status_code == 404, (
                f"a write to {section} under a grant that does not allow it: {response.status_code} "
                f"(holder={clinician == grant.clinician}, dead={grant.dead}, access={grant.access}, "
                f"sections={sorted(grant.sections)})"
            )

    # -- the citizen's own writes ----------------------------------------------------------------------------
    @precondition(lambda self: bool(self.w.accounts) and bool(self.w.persons))
    @rule(caller=st.integers(0, 9), citizen=st.integers(0, 9))
    def add_allergy(self, caller: int, citizen: int) -> None:
        person = pick(list(self.w.persons.values()), citizen)
        who = self._caller(caller, person.key)
        response = self.h.call(
            "POST",
            f"/v1/citizens/{person.id}/record/allergies",
            who.headers,
            json={"category": "food", "substance": f"tôm {person.marker}"},
        )
        expected = 201 if self.w.relation(who.key, person.key) else 404
        assert response.status_code == expected, response.text

    @precondition(lambda self: bool(self.w.accounts) and bool(self.w.persons))
    @rule(caller=st.integers(0, 9), citizen=st.integers(0, 9))
    def ask_for_a_correction(self, caller: int, citizen: int) -> None:
        person = pick(list(self.w.persons.values()), citizen)
        who = self._caller(caller, person.key)
        response = self.h.call(
            "POST",
            f"/v1/citizens/{person.id}/corrections",
            who.headers,
            json={"section": "conditions", "description": f"chẩn đoán sai {person.marker}"},
        )
        if self.w.relation(who.key, person.key) is None:
            assert response.status_code == 404
            return
        assert response.status_code == 201, response.text
        self.w.corrections[uuid.UUID(response.json()["correction_id"])] = (person.key, True)

    @precondition(lambda self: bool(self.w.corrections))
    @rule(staff=st.sampled_from(("T1", "T2")), which=st.integers(0, 9))
    def station_resolves_a_correction(self, staff: str, which: int) -> None:
        correction_id = pick(list(self.w.corrections), which)
        citizen, is_open = self.w.corrections[correction_id]
        member = self.w.staff[staff]
        response = self.h.call(
            "POST",
            f"/v1/station/corrections/{correction_id}/resolve",
            member.headers,
            json={"decision": "reject", "resolution": "đã kiểm tra"},
        )
        if self.w.persons[citizen].home != member.station:
            assert response.status_code == 404, "another station's correction does not exist for this one"
        elif not is_open:
            assert response.status_code == 409
        else:
            assert response.status_code == 200, response.text
            self.w.corrections[correction_id] = (citizen, False)

    # -- appointments --------------------------------------------------------------------------------------
    @precondition(lambda self: bool(self.w.accounts) and bool(self.w.persons))
    @rule(
        caller=st.integers(0, 9),
        citizen=st.integers(0, 9),
        station=st.sampled_from(("S1", "S2")),
        ahead=st.sampled_from(BOOKING_DAYS),
    )
    def book(self, caller: int, citizen: int, station: str, ahead: int) -> None:
        person = pick(list(self.w.persons.values()), citizen)
        who = self._caller(caller, person.key)
        response = self.h.call(
            "POST",
            f"/v1/citizens/{person.id}/appointments",
            who.headers | {"Idempotency-Key": str(uuid.uuid4())},
            json={"slot_id": str(self.w.slots[(station, ahead)])},
        )
        if self.w.relation(who.key, person.key) is None:
            assert response.status_code == 404
            return
        day = local_date(dt.datetime.now(dt.UTC)) + dt.timedelta(days=ahead)
        taken = any(
            a.citizen == person.key and a.station == station and a.day == day and a.status in ("booked", "checked_in")
            for a in self.w.appointments.values()
        )
        if taken:
            assert response.status_code == 409, response.text
            return
        assert response.status_code == 201, response.text
        body = response.json()
        appointment = AppointmentM(
            uuid.UUID(body["appointment_id"]), person.key, station, dt.date.fromisoformat(body["day"])
        )
        self.w.appointments[appointment.id] = appointment

    @precondition(lambda self: bool(self.w.appointments) and bool(self.w.accounts))
    @rule(which=st.integers(0, 9), caller=st.integers(0, 9), via=st.integers(0, 9))
    def cancel(self, which: int, caller: int, via: int) -> None:
        appointment = pick(list(self.w.appointments.values()), which)
        person = self.w.persons[appointment.citizen] if via % 3 else pick(list(self.w.persons.values()), via)
        who = self._caller(caller, person.key)
        response = self.h.call("DELETE", f"/v1/citizens/{person.id}/appointments/{appointment.id}", who.headers)
        if self.w.relation(who.key, person.key) is None or person.key != appointment.citizen:
            assert response.status_code == 404, "another person's appointment cannot be cancelled"
        elif appointment.status != "booked":
            assert response.status_code == 409
        else:
            assert response.status_code == 204, response.text
            appointment.status = "cancelled"

    @precondition(lambda self: bool(self.w.appointments))
    @rule(which=st.integers(0, 9), staff=st.sampled_from(("T1", "T2")))
    def station_checks_in(self, which: int, staff: str) -> None:
        appointment = pick(list(self.w.appointments.values()), which)
        member = self.w.staff[staff]
        response = self.h.call("POST", f"/v1/station/appointments/{appointment.id}/check-in", member.headers)
        if appointment.station != member.station:
            assert response.status_code == 404
        elif appointment.status != "booked":
            assert response.status_code == 409
        else:
            assert response.status_code == 200, response.text
            appointment.status = "checked_in"

    # -- reading: what every principal sees right now -------------------------------------------------------
    @invariant()
    def accounts_see_exactly_whom_they_act_for(self) -> None:
        self.step += 1
        for account in self.w.accounts.values():
            visible = self.w.visible(account.key)
            me = self.h.call("GET", "/v1/me", account.headers)
            assert me.status_code == 200
            body = me.json()
            got = {(c["citizen_id"], c["relation"]) for c in body["citizens"]}
            want = {(str(self.w.persons[p].id), self.w.relation(account.key, p)) for p in visible}
            assert got == want, f"/v1/me of {account.key}"
            invitations = {i["delegation_id"] for i in body["invitations"]}
            open_invitations = {
                str(d.id)
                for d in self.w.delegations
                if d.delegate == account.key and d.status == "invited" and not d.expired
            }
            assert invitations == open_invitations, f"invitations of {account.key}"
            assert not leaked(me.text, self.w.markers(visible))
            # The inbox keeps what the account was told while it acted for someone; never anything about a person
            # it has not acted for (a child's own phone before 14, a stranger).
            self.w.ever.setdefault(account.key, set()).update(visible)
            inbox = items_of(self.h, "/v1/notifications", account.headers, limit=100)
            about = {n["citizen_id"] for n in inbox if n["citizen_id"] is not None}
            assert about <= {str(self.w.persons[p].id) for p in self.w.ever[account.key]}, (
                f"{account.key}'s inbox tells about someone it never acted for"
            )

    @invariant()
    def each_record_route_answers_only_those_who_may_act(self) -> None:
        """Every account × every person, on one of the person's routes (which one rotates with the step)."""
        routes = ("record", "record/sections/allergies", "grants", "access-log", "appointments", "corrections")
        for a, account in enumerate(self.w.accounts.values()):
            for p, person in enumerate(self.w.persons.values()):
                route = routes[(self.step + a + p) % len(routes)]
                self._read_person(account, person, route)

    def _read_person(self, account: Acct, person: Person, route: str) -> None:
        path = f"/v1/citizens/{person.id}/{route}"
        may = self.w.relation(account.key, person.key) is not None
        response = self.h.call("GET", path, account.headers)
        if not may:
            assert response.status_code == 404, f"{account.key} read {route} of {person.key}: {response.status_code}"
            return
        assert response.status_code == 200, f"{account.key} could not read {route} of {person.key}: {response.text}"
        body = response.json()
        if route == "access-log":  # who opened the record is named on purpose: the person is to see that
            body = [{k: v for k, v in event.items() if k != "actor_name"} for event in body["items"]]
        assert not leaked(str(body), {person.marker}), f"{route} of {person.key} shows someone else's data"
        if route == "record":
            assert body["administrative"]["citizen_id"] == str(person.id)
            return
        if route in ("record/sections/allergies", "access-log"):
            found = items_of(self.h, path, account.headers)
            if route == "access-log":
                own = {str(g.id) for g in self.w.grants.values() if g.citizen == person.key}
                assert {e["grant_id"] for e in found if e["grant_id"]} <= own, "access events of another's grant"
            return
        found = items_of(self.h, path, account.headers)
        if route == "grants":
            want = {str(g.id) for g in self.w.grants.values() if g.citizen == person.key}
            assert {g["grant_id"] for g in found} == want, f"grants of {person.key}"
            assert {g["citizen_id"] for g in found} <= {str(person.id)}
        elif route == "appointments":
            want = {str(x.id) for x in self.w.appointments.values() if x.citizen == person.key}
            assert {x["appointment_id"] for x in found} == want, f"appointments of {person.key}"
        elif route == "corrections":
            want = {str(c) for c, (owner, _) in self.w.corrections.items() if owner == person.key}
            assert {x["correction_id"] for x in found} == want, f"corrections of {person.key}"

    @invariant()
    def clinicians_use_exactly_their_live_grants(self) -> None:
        for key, member in self.w.staff.items():
            listed = {g["grant_id"] for g in items_of(self.h, "/v1/clinician/grants", member.headers)}
            assert listed == {str(g) for g in self.w.live_grants(key)}, f"live grants of {key}"
        for grant in self.w.grants.values():
            holder = self.w.staff[grant.clinician]
            response = self.h.call("GET", f"/v1/clinician/grants/{grant.id}/record", holder.headers)
            if grant.dead:
                assert response.status_code == 404, f"a dead grant still reads: {grant.origin} {grant.id}"
                continue
            assert response.status_code == 200, response.text
            body = response.json()
            person = self.w.persons[grant.citizen]
            assert set(body["sections"]) <= set(grant.sections), "sections outside the grant"
            assert ("administrative" in body) == ("administrative" in grant.sections)
            assert not leaked(response.text, {person.marker}), "a grant shows someone else's data"
        if self.w.grants:  # another clinician holding a grant's id gets nothing (one grant per step: it is costly)
            grant = pick(list(self.w.grants.values()), self.step)
            other = self.w.staff["C2" if grant.clinician != "C2" else "C1"]
            stolen = self.h.call("GET", f"/v1/clinician/grants/{grant.id}/record", other.headers)
            assert stolen.status_code == 404, "a grant works only for its holder"

    @invariant()
    def stations_see_exactly_their_own_people(self) -> None:
        days = sorted({a.day for a in self.w.appointments.values()})
        for member in (self.w.staff["T1"], self.w.staff["T2"]):
            people = {p.key for p in self.w.persons.values() if p.home == member.station}
            for day in days:
                rows = items_of(self.h, "/v1/station/appointments", member.headers, day=day.isoformat())
                want = {
                    (str(a.id), str(self.w.persons[a.citizen].id))
                    for a in self.w.appointments.values()
                    if a.station == member.station and a.day == day
                }
                assert {(r["appointment_id"], r["citizen_id"]) for r in rows} == want, "the station's day list"
            corrections = items_of(self.h, "/v1/station/corrections", member.headers)
            want_open = {str(c) for c, (owner, is_open) in self.w.corrections.items() if is_open and owner in people}
            assert {c["correction_id"] for c in corrections} == want_open, "the station's corrections"
            reviews = self.h.call("GET", "/v1/station/emergency-accesses", member.headers)
            assert reviews.status_code == 200
            want_reviews = {
                str(g.id)
                for g in self.w.grants.values()
                if g.origin == "emergency"
                and (
                    self.w.staff[g.clinician].station == member.station
                    or self.w.persons[g.citizen].home == member.station
                )
            }
            assert {r["grant_id"] for r in reviews.json()} == want_reviews, "the station's break-glass review"


def test_what_anyone_can_read_is_what_the_model_allows(harness: Harness) -> None:
    AuthorizationModel.harness = harness
    run_state_machine_as_test(
        AuthorizationModel,
        settings=settings(
            max_examples=scaled(6, 300),
            stateful_step_count=scaled(30, 60),
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
