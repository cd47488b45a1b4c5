"""Every route in the OpenAPI schema × every kind of caller, against the expected table below.

The world: adult A (own account, an adult delegate D), minor M (guardian G; registered at A's station S1),
adult B (own account). Principals: anonymous, A, B, G, D, a clinician, station staff of S1 and of S2, and a
machine client. Each call runs inside a savepoint that is rolled back, so every principal meets the same world.

A route in the schema with no row here fails the test: whoever adds a route adds its row.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core.consent.shares import ShareService
from core.identity.guardianship import DelegationService, GuardianshipService
from core.identity.sessions import SessionService
from core.identity.tokens import mint_access_token
from core.ids import uuid7
from core.models import (
    Account,
    AccountCitizen,
    Citizen,
    Clinician,
    Device,
    Facility,
    FacilityKind,
    LinkRequest,
    Platform,
    Sex,
    Source,
    StaffRole,
    SubjectKind,
)
from core.outbox import VN_TZ, Draft, notify
from core.records.corrections import CorrectionService
from core.records.guard import Actor
from core.records.service import RecordService
from core.scheduling.counter import counter_token
from core.settings import Settings
from tests.core.identity.factories import make_machine_client

ACCOUNTS = ("citizen_a", "citizen_b", "guardian", "delegate")
PRINCIPALS = ("anonymous", *ACCOUNTS, "clinician", "staff_same", "staff_other", "machine")
ALLOW = "allow"  # any status but 401/403/404 (and never a 5xx)
SAME_FOR_ALL = "same"  # public routes: whoever calls gets what an anonymous caller gets


@dataclass
class World:
    ids: dict[str, uuid.UUID] = field(default_factory=dict)
    payload: str = ""  # A's unredeemed QR
    counter: str = ""  # today's counter QR of S1
    headers: dict[str, dict[str, str]] = field(default_factory=dict)


async def build_world(session: AsyncSession, settings: Settings) -> World:
    world = World()
    now = dt.datetime.now(dt.UTC)
    s1 = Facility(id=uuid7(), code="51M01", name="TYT S1", kind=FacilityKind.health_station)
    s2 = Facility(id=uuid7(), code="51M02", name="TYT S2", kind=FacilityKind.health_station)
    session.add_all([s1, s2])
    await session.flush()

    def person(name: str, dob: dt.date, phone: str | None) -> Citizen:
        return Citizen(id=uuid7(), full_name=name, sex=Sex.male, date_of_birth=dob, phone=phone, home_facility_id=s1.id)

    a = person("A", dt.date(1980, 1, 1), "+84905900001")
    a.cccd = "051080000001"  # found by break-glass
    b = person("B", dt.date(1982, 1, 1), "+84905900002")
    g = person("G", dt.date(1985, 1, 1), "+84905900003")
    m = person("M", now.date().replace(year=now.year - 5), None)
    session.add_all([a, b, g, m])
    await session.flush()
    accounts = {
        "citizen_a": Account(id=uuid7(), phone="+84905900001"),
        "citizen_b": Account(id=uuid7(), phone="+84905900002"),
        "guardian": Account(id=uuid7(), phone="+84905900003"),
        "delegate": Account(id=uuid7(), phone="+84905900004"),
    }
    session.add_all(accounts.values())
    await session.flush()
    session.add_all(
        [
            AccountCitizen(account_id=accounts["citizen_a"].id, citizen_id=a.id),
            AccountCitizen(account_id=accounts["citizen_b"].id, citizen_id=b.id),
            AccountCitizen(account_id=accounts["guardian"].id, citizen_id=g.id),
        ]
    )
    await session.flush()
    guardianship = await GuardianshipService(session).create(g.id, m.id, relation="father", source="station")
    delegations = DelegationService(session)
    to_d = await delegations.invite(a.id, accounts["citizen_a"].id, delegate_phone="0905900004", days=30)
    await delegations.answer(accounts["delegate"].id, to_d.id, accept=True)
    to_b = await delegations.invite(a.id, accounts["citizen_a"].id, delegate_phone="0905900002", days=30)
    b_own = await delegations.invite(b.id, accounts["citizen_b"].id, delegate_phone="0905900009", days=30)

    staff = {
        "clinician": Clinician(
            id=uuid7(), facility_id=s1.id, full_name="BS", role=StaffRole.clinician, username="m-clinician"
        ),
        "staff_same": Clinician(
            id=uuid7(), facility_id=s1.id, full_name="YS1", role=StaffRole.station_staff, username="m-staff-1"
        ),
        "staff_other": Clinician(
            id=uuid7(), facility_id=s2.id, full_name="YS2", role=StaffRole.station_admin, username="m-staff-2"
        ),
    }
    session.add_all(staff.values())
    await session.flush()

    sessions = SessionService(session, settings)
    for name, account in accounts.items():
        pair = await sessions.start(SubjectKind.account, account.id, method="otp")
        world.headers[name] = {"Authorization": f"Bearer {pair.access_token}"}
    second = await sessions.start(SubjectKind.account, accounts["citizen_a"].id, method="otp")
    for name, member in staff.items():
        pair = await sessions.start(
            SubjectKind.clinician,
            member.id,
            method="test",
            claims={"role": member.role.value, "fac": str(member.facility_id)},
        )
        world.headers[name] = {"Authorization": f"Bearer {pair.access_token}"}
    machine = mint_access_token(
        settings.jwt_private_key_pem, uuid7(), kind="machine", extra={"scope": "his:episodes:write"}
    )
    world.headers["machine"] = {"Authorization": f"Bearer {machine}"}
    world.headers["anonymous"] = {}

    session.add(
        Device(
            account_id=accounts["citizen_a"].id,
            installation_id="matrix-install-a",
            token="matrix-token-a-" + "x" * 20,
            platform=Platform.android,
        )
    )
    note = await notify(
        session,
        Draft(
            template="record_accessed",
            dedupe_key="matrix:a",
            account_id=accounts["citizen_a"].id,
            params={"actor": "x", "facility": "y"},
        ),
        now=now - dt.timedelta(minutes=1),
    )
    link_request = LinkRequest(id=uuid7(), account_id=accounts["delegate"].id, citizen_id=a.id)
    session.add(link_request)
    await session.flush()
    records = RecordService(session)
    allergies = {}
    for key, citizen in (("A", a), ("B", b), ("M", m)):
        item = await records.add_item(
            citizen.id, "allergies", {"category": "food", "substance": "tôm"}, actor=Actor(Source.self), path="matrix"
        )
        allergies[key] = item.id  # type: ignore[attr-defined]
    shares = ShareService(session, settings)
    consent: dict[str, uuid.UUID] = {}
    doctor = staff["clinician"]
    for key, person in (("A", a), ("B", b), ("M", m)):
        issued = await shares.create(
            person.id,
            accounts["citizen_a"].id,
            sections=["allergies", "notes"],
            access="read_write",
            duration=dt.timedelta(hours=1),
            purpose="CAREMGT",
            passcode=None,
        )
        consent[f"share_{key}"] = issued.share.id
        redeemable = await shares.create(
            person.id,
            accounts["citizen_a"].id,
            sections=["allergies", "examinations", "notes", "vaccinations"],  # every section a clinician writes
            access="read_write",
            duration=dt.timedelta(hours=1),
            purpose="CAREMGT",
            passcode=None,
        )
        grant = await shares.redeem(redeemable.payload, None, doctor)
        consent[f"grant_{key}"] = grant.id
        if key == "A":
            world_payload = issued.payload
    correction = await CorrectionService(session).request(
        a.id, section="allergies", item_id=None, description="sai thông tin", actor=Actor(Source.self), path="matrix"
    )

    world.ids = {
        "S1": s1.id,
        "A": a.id,
        "B": b.id,
        "M": m.id,
        "G": g.id,
        "delegation_A": to_d.id,
        "invitation_to_B": to_b.id,
        "delegation_B": b_own.id,
        "session_A2": second.session_id,
        "notification_A": note or uuid7(),
        "guardianship_M": guardianship.id,
        "link_request_A": link_request.id,
        "correction_A": correction.id,
        "allergy_A": allergies["A"],
        "allergy_B": allergies["B"],
        "allergy_M": allergies["M"],
        **consent,
    }
    world.payload = world_payload
    world.counter = counter_token(settings.secret_key, s1.id, dt.datetime.now(VN_TZ).date())
    return world


async def add_immunization_feed(session: AsyncSession, settings: Settings, world: World, client_id: str) -> None:
    """A machine client with the immunization feed's scope, its bearer token in ``world.headers["feed"]``: the
    principal of the integration routes, which the tests that walk every route need besides the people above."""
    feed = await make_machine_client(session, client_id=client_id, scopes=("immunization:write",))
    token = mint_access_token(
        settings.jwt_private_key_pem, feed.id, kind="machine", extra={"scope": "immunization:write"}
    )
    world.headers["feed"] = {"Authorization": f"Bearer {token}"}


# -- expectations ---------------------------------------------------------------------------------------------
Expect = Callable[[str, str], Any]  # (principal, target) -> ALLOW or a status code


def public(_principal: str, _target: str) -> Any:
    return SAME_FOR_ALL


def any_account(principal: str, _target: str) -> Any:
    return ALLOW if principal in ACCOUNTS else 401


def any_session(principal: str, _target: str) -> Any:
    return 401 if principal == "anonymous" else ALLOW


def any_account_404(principal: str, _target: str) -> Any:
    """Account routes on an object that does not exist for anyone: 404 for accounts, 401 for the rest."""
    return 404 if principal in ACCOUNTS else 401


def owner_only(owner: str) -> Expect:
    def expect(principal: str, _target: str) -> Any:
        if principal not in ACCOUNTS:
            return 401
        return ALLOW if principal == owner else 404

    return expect


def acting_for(*relations: str) -> Expect:
    """Citizen routes: those with a relation the route allows pass; other relations 403; strangers 404."""

    def expect(principal: str, target: str) -> Any:
        if principal not in ACCOUNTS:
            return 401
        relation = WORLD_RELATIONS.get((principal, target))
        if relation is None:
            return 404
        return ALLOW if relation in relations else 403

    return expect


def station(scoped: bool) -> Expect:
    """Station routes: staff of S1 pass; S2's staff find nothing of S1 (404) unless it is a list."""

    def expect(principal: str, _target: str) -> Any:
        if principal == "staff_same":
            return ALLOW
        if principal == "staff_other":
            return 404 if scoped else ALLOW
        if principal == "clinician":
            return 403
        return 401

    return expect


# The relation each account principal has to each target citizen of the world (absent: none).
WORLD_RELATIONS: dict[tuple[str, str], str] = {
    ("citizen_a", "A"): "self",
    ("citizen_b", "B"): "self",
    ("delegate", "A"): "delegate",
    ("guardian", "M"): "guardian",
}


@dataclass(frozen=True)
class Row:
    expect: Expect
    targets: tuple[str, ...] = ("-",)
    body: Callable[[World, str], Any] | None = None
    params: Callable[[World, str], dict[str, str]] = lambda _w, _t: {}


def station_404(principal: str, _target: str) -> Any:
    """Station routes on an object nobody has: staff pass the guard and find nothing."""
    if principal in ("staff_same", "staff_other"):
        return 404
    return 403 if principal == "clinician" else 401


def any_clinician(principal: str, _target: str) -> Any:
    return ALLOW if principal in ("clinician", "staff_same", "staff_other") else 401


def grant_holder(principal: str, _target: str) -> Any:
    """The world's grants all belong to the clinician: other clinician tokens find nothing."""
    if principal == "clinician":
        return ALLOW
    return 404 if principal in ("staff_same", "staff_other") else 401


def clinician_role(principal: str, _target: str) -> Any:
    if principal == "clinician":
        return ALLOW
    return 403 if principal in ("staff_same", "staff_other") else 401


def station_admin_only(principal: str, _target: str) -> Any:
    if principal == "staff_other":  # the station admin (of another station: an empty list, but allowed)
        return ALLOW
    return 403 if principal in ("clinician", "staff_same") else 401


TARGETS = ("A", "B", "M")
ANYONE_ACTING = acting_for("self", "guardian", "delegate")


def citizen(world: World, target: str) -> dict[str, str]:
    return {"citizen_id": str(world.ids[target])}


ROWS: dict[tuple[str, str], Row] = {
    ("GET", "/health/live"): Row(public),
    ("GET", "/health/ready"): Row(public),
    ("GET", "/.well-known/jwks.json"): Row(public),
    ("POST", "/v1/auth/otp"): Row(public, body=lambda w, t: {"phone": "0905900100"}),
    ("POST", "/v1/auth/otp/verify"): Row(public, body=lambda w, t: {"challenge_id": str(uuid7()), "code": "123456"}),
    ("POST", "/v1/auth/refresh"): Row(public, body=lambda w, t: {"refresh_token": "x" * 43}),
    ("POST", "/v1/auth/device/challenge"): Row(public, body=lambda w, t: {"key_id": str(uuid7())}),
    ("POST", "/v1/auth/device/session"): Row(
        public, body=lambda w, t: {"challenge_id": str(uuid7()), "signature": "a.b.c" * 4}
    ),
    ("POST", "/v1/auth/logout"): Row(any_session),
    ("POST", "/v1/auth/link"): Row(
        any_account, body=lambda w, t: {"cccd": "051080123456", "full_name": "X", "date_of_birth": "1980-01-01"}
    ),
    ("GET", "/v1/auth/device/keys"): Row(any_account),
    ("POST", "/v1/auth/device/keys"): Row(
        any_account,
        body=lambda w, t: {
            "algorithm": "ES256",
            "public_key": {
                "kty": "EC",
                "crv": "P-256",
                "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
            },
        },
    ),
    ("DELETE", "/v1/auth/device/keys/{key_id}"): Row(any_account_404, params=lambda w, t: {"key_id": str(uuid7())}),
    ("GET", "/v1/auth/sessions"): Row(any_account),
    ("DELETE", "/v1/auth/sessions/{session_id}"): Row(
        owner_only("citizen_a"), params=lambda w, t: {"session_id": str(w.ids["session_A2"])}
    ),
    ("GET", "/v1/me"): Row(any_account),
    ("PUT", "/v1/devices/{installation_id}"): Row(
        any_account,
        params=lambda w, t: {"installation_id": "matrix-install-new"},
        body=lambda w, t: {"token": "matrix-token-new-" + "y" * 20, "platform": "ios"},
    ),
    ("DELETE", "/v1/devices/{installation_id}"): Row(
        owner_only("citizen_a"), params=lambda w, t: {"installation_id": "matrix-install-a"}
    ),
    ("GET", "/v1/notifications"): Row(any_account),
    ("POST", "/v1/notifications/{notification_id}/read"): Row(
        owner_only("citizen_a"), params=lambda w, t: {"notification_id": str(w.ids["notification_A"])}
    ),
    ("GET", "/v1/citizens/{citizen_id}/delegations"): Row(acting_for("self"), targets=("A", "B", "M"), params=citizen),
    ("POST", "/v1/citizens/{citizen_id}/delegations"): Row(
        acting_for("self"),
        targets=("A", "B", "M"),
        params=citizen,
        body=lambda w, t: {"delegate_phone": "0905900200", "days": 10},
    ),
    ("DELETE", "/v1/citizens/{citizen_id}/delegations/{delegation_id}"): Row(
        acting_for("self"),
        targets=("A", "B"),
        params=lambda w, t: (
            citizen(w, t) | {"delegation_id": str(w.ids["delegation_A" if t == "A" else "delegation_B"])}
        ),
    ),
    ("POST", "/v1/delegations/{delegation_id}/accept"): Row(
        owner_only("citizen_b"), params=lambda w, t: {"delegation_id": str(w.ids["invitation_to_B"])}
    ),
    ("POST", "/v1/delegations/{delegation_id}/decline"): Row(
        owner_only("citizen_b"), params=lambda w, t: {"delegation_id": str(w.ids["invitation_to_B"])}
    ),
    ("DELETE", "/v1/delegations/{delegation_id}"): Row(
        owner_only("delegate"), params=lambda w, t: {"delegation_id": str(w.ids["delegation_A"])}
    ),
    # Clinician sign-in and machine tokens are how those callers get a token: public by nature.
    ("POST", "/v1/clinician/login"): Row(public, body=lambda w, t: {"username": "nobody", "password": "x" * 12}),
    ("POST", "/v1/clinician/login/totp"): Row(public, body=lambda w, t: {"login_token": "x" * 43, "code": "123456"}),
    ("POST", "/v1/clinician/login/totp/enrol"): Row(public, body=lambda w, t: {"login_token": "x" * 43}),
    ("POST", "/v1/clinician/login/totp/confirm"): Row(
        public, body=lambda w, t: {"login_token": "x" * 43, "code": "123456"}
    ),
    ("POST", "/v1/clinician/login/recovery"): Row(
        public, body=lambda w, t: {"login_token": "x" * 43, "recovery_code": "abcd-efgh-ijkl"}
    ),
    ("GET", "/v1/clinician/oidc/login"): Row(public),
    ("GET", "/v1/clinician/oidc/callback"): Row(public),
    ("POST", "/v1/integration/token"): Row(public),
    # Machine clients only (any other token is a 401); the world's machine has his:episodes:write, not this scope.
    ("POST", "/v1/integration/immunizations"): Row(lambda p, _t: 403 if p == "machine" else 401),
    # The world's machine has his:episodes:write: it passes the guard (its JSON body then gets 415, not a 401/403).
    ("POST", "/v1/integration/his/episodes"): Row(lambda p, _t: ALLOW if p == "machine" else 401),
    ("GET", "/v1/citizens/{citizen_id}/record"): Row(ANYONE_ACTING, targets=TARGETS, params=citizen),
    ("GET", "/v1/citizens/{citizen_id}/record.fhir"): Row(ANYONE_ACTING, targets=TARGETS, params=citizen),
    ("GET", "/v1/citizens/{citizen_id}/immunizations/schedule"): Row(ANYONE_ACTING, targets=TARGETS, params=citizen),
    ("GET", "/v1/citizens/{citizen_id}/record/sections/{section}"): Row(
        ANYONE_ACTING, targets=TARGETS, params=lambda w, t: citizen(w, t) | {"section": "allergies"}
    ),
    ("PUT", "/v1/citizens/{citizen_id}/record/risk-factors"): Row(
        ANYONE_ACTING, targets=TARGETS, params=citizen, body=lambda w, t: {"smoking": "no"}
    ),
    ("PUT", "/v1/citizens/{citizen_id}/record/reproductive"): Row(
        ANYONE_ACTING, targets=TARGETS, params=citizen, body=lambda w, t: {"pregnancies": 1}
    ),
    ("PUT", "/v1/citizens/{citizen_id}/record/other"): Row(
        ANYONE_ACTING, targets=TARGETS, params=citizen, body=lambda w, t: {"text": "ổn định"}
    ),
    ("PATCH", "/v1/citizens/{citizen_id}/record/contact"): Row(
        ANYONE_ACTING, targets=TARGETS, params=citizen, body=lambda w, t: {"email": "x@example.vn"}
    ),
    ("POST", "/v1/citizens/{citizen_id}/record/allergies"): Row(
        ANYONE_ACTING, targets=TARGETS, params=citizen, body=lambda w, t: {"category": "food", "substance": "cua"}
    ),
    ("POST", "/v1/citizens/{citizen_id}/record/family-history"): Row(
        ANYONE_ACTING, targets=TARGETS, params=citizen, body=lambda w, t: {"relation": "father", "kind": "diabetes"}
    ),
    ("POST", "/v1/citizens/{citizen_id}/record/vitals"): Row(
        ANYONE_ACTING,
        targets=TARGETS,
        params=citizen,
        body=lambda w, t: {"kind": "weight", "value": 60, "measured_at": "2026-11-01T08:00:00Z"},
    ),
    ("DELETE", "/v1/citizens/{citizen_id}/record/sections/{section}/{item_id}"): Row(
        ANYONE_ACTING,
        targets=TARGETS,
        params=lambda w, t: citizen(w, t) | {"section": "allergies", "item_id": str(w.ids[f"allergy_{t}"])},
    ),
    ("POST", "/v1/citizens/{citizen_id}/corrections"): Row(
        ANYONE_ACTING,
        targets=TARGETS,
        params=citizen,
        body=lambda w, t: {"section": "allergies", "description": "thông tin sai"},
    ),
    ("GET", "/v1/citizens/{citizen_id}/corrections"): Row(ANYONE_ACTING, targets=TARGETS, params=citizen),
    ("GET", "/v1/vaccines"): Row(any_account),
    ("POST", "/v1/citizens/{citizen_id}/shares"): Row(
        ANYONE_ACTING, targets=TARGETS, params=citizen, body=lambda w, t: {"sections": ["allergies"]}
    ),
    ("POST", "/v1/citizens/{citizen_id}/shares/{share_id}/rotate"): Row(
        ANYONE_ACTING, targets=TARGETS, params=lambda w, t: citizen(w, t) | {"share_id": str(w.ids[f"share_{t}"])}
    ),
    ("GET", "/v1/citizens/{citizen_id}/grants"): Row(ANYONE_ACTING, targets=TARGETS, params=citizen),
    ("PATCH", "/v1/citizens/{citizen_id}/grants/{grant_id}"): Row(
        ANYONE_ACTING,
        targets=TARGETS,
        params=lambda w, t: citizen(w, t) | {"grant_id": str(w.ids[f"grant_{t}"])},
        body=lambda w, t: {"expires_at": (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)).isoformat()},
    ),
    ("DELETE", "/v1/citizens/{citizen_id}/grants/{grant_id}"): Row(
        ANYONE_ACTING, targets=TARGETS, params=lambda w, t: citizen(w, t) | {"grant_id": str(w.ids[f"grant_{t}"])}
    ),
    ("GET", "/v1/citizens/{citizen_id}/grants/{grant_id}/receipt"): Row(
        ANYONE_ACTING, targets=TARGETS, params=lambda w, t: citizen(w, t) | {"grant_id": str(w.ids[f"grant_{t}"])}
    ),
    ("GET", "/v1/citizens/{citizen_id}/access-log"): Row(ANYONE_ACTING, targets=TARGETS, params=citizen),
    ("POST", "/v1/clinician/shares/redeem"): Row(any_clinician, body=lambda w, t: {"token": w.payload}),
    ("GET", "/v1/clinician/grants"): Row(any_clinician),
    ("GET", "/v1/clinician/grants/{grant_id}/record"): Row(
        grant_holder, targets=TARGETS, params=lambda w, t: {"grant_id": str(w.ids[f"grant_{t}"])}
    ),
    ("POST", "/v1/clinician/grants/{grant_id}/notes"): Row(
        grant_holder,
        targets=TARGETS,
        params=lambda w, t: {"grant_id": str(w.ids[f"grant_{t}"])},
        body=lambda w, t: {"text": "khám định kỳ"},
    ),
    ("POST", "/v1/clinician/grants/{grant_id}/examinations"): Row(
        grant_holder,
        targets=("A",),
        params=lambda w, t: {"grant_id": str(w.ids[f"grant_{t}"])},
        body=lambda w, t: {"examined_on": "2026-11-01"},
    ),
    ("POST", "/v1/clinician/grants/{grant_id}/vaccinations"): Row(
        grant_holder,
        targets=("A",),
        params=lambda w, t: {"grant_id": str(w.ids[f"grant_{t}"])},
        body=lambda w, t: {"vaccine_code": "FLU", "given_on": "2026-11-01"},
    ),
    ("POST", "/v1/clinician/emergency-access"): Row(
        clinician_role, body=lambda w, t: {"identifier": "051080000001", "reason": "bệnh nhân bất tỉnh cần tiền sử"}
    ),
    ("GET", "/v1/station/emergency-accesses"): Row(station_admin_only),
    ("GET", "/v1/facilities"): Row(any_account),
    ("POST", "/v1/citizens/{citizen_id}/check-in"): Row(
        ANYONE_ACTING, targets=TARGETS, params=citizen, body=lambda w, t: {"facility_token": w.counter}
    ),
    ("GET", "/v1/station/counter/qr"): Row(station(scoped=False)),
    ("POST", "/v1/station/counter/walk-ins"): Row(station(scoped=False), body=lambda w, t: {}),
    ("GET", "/v1/station/counter/walk-ins"): Row(station(scoped=False)),
    ("POST", "/v1/station/schedules/services"): Row(
        station(scoped=False), body=lambda w, t: {"kind": "consultation", "name": "Khám bệnh"}
    ),
    ("POST", "/v1/station/schedules/services/{service_id}/templates"): Row(
        station_404,
        params=lambda w, t: {"service_id": str(uuid7())},
        body=lambda w, t: {"weekday": 0, "start_time": "08:00:00", "end_time": "09:00:00"},
    ),
    ("POST", "/v1/station/schedules/closed-days"): Row(
        station(scoped=False), body=lambda w, t: {"day": "2027-01-01", "reason": "Tết"}
    ),
    ("POST", "/v1/station/schedules/services/{service_id}/slots"): Row(
        station_404, params=lambda w, t: {"service_id": str(uuid7())}, body=lambda w, t: {"start": "2027-01-04"}
    ),
    ("GET", "/v1/station/appointments"): Row(station(scoped=False)),
    ("POST", "/v1/station/appointments/{appointment_id}/check-in"): Row(
        station_404, params=lambda w, t: {"appointment_id": str(uuid7())}
    ),
    ("POST", "/v1/station/appointments/{appointment_id}/no-show"): Row(
        station_404, params=lambda w, t: {"appointment_id": str(uuid7())}
    ),
    # Campaigns: creating and listing are the station's own; a campaign id nobody has (or another station's) is 404.
    ("POST", "/v1/station/campaigns"): Row(
        station(scoped=False),
        body=lambda w, t: {
            "name": "Nhắc tiêm",
            "cohort": {"age_max_years": 5},
            "text_vi": "Mời {name} đi tiêm",
            "send_at": (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat(),
        },
    ),
    ("GET", "/v1/station/campaigns"): Row(station(scoped=False)),
    ("GET", "/v1/station/campaigns/{campaign_id}"): Row(station_404, params=lambda w, t: {"campaign_id": str(uuid7())}),
    ("GET", "/v1/station/campaigns/{campaign_id}/stats"): Row(
        station_404, params=lambda w, t: {"campaign_id": str(uuid7())}
    ),
    ("POST", "/v1/station/campaigns/{campaign_id}/preview"): Row(
        station_404, params=lambda w, t: {"campaign_id": str(uuid7())}
    ),
    ("POST", "/v1/station/campaigns/{campaign_id}/launch"): Row(
        station_404, params=lambda w, t: {"campaign_id": str(uuid7())}
    ),
    ("POST", "/v1/station/campaigns/{campaign_id}/cancel"): Row(
        station_404, params=lambda w, t: {"campaign_id": str(uuid7())}
    ),
    ("POST", "/v1/station/campaigns/{campaign_id}/resume"): Row(
        station_404, params=lambda w, t: {"campaign_id": str(uuid7())}
    ),
    ("GET", "/v1/facilities/{facility_id}/slots"): Row(any_account, params=lambda w, t: {"facility_id": str(uuid7())}),
    ("POST", "/v1/citizens/{citizen_id}/appointments"): Row(
        ANYONE_ACTING, targets=TARGETS, params=citizen, body=lambda w, t: {"slot_id": str(uuid7())}
    ),
    ("GET", "/v1/citizens/{citizen_id}/appointments"): Row(ANYONE_ACTING, targets=TARGETS, params=citizen),
    # No appointment exists in the world: those who may act get 404 from the lookup, strangers from the guard.
    ("DELETE", "/v1/citizens/{citizen_id}/appointments/{appointment_id}"): Row(
        any_account_404, targets=TARGETS, params=lambda w, t: citizen(w, t) | {"appointment_id": str(uuid7())}
    ),
    ("PATCH", "/v1/citizens/{citizen_id}/appointments/{appointment_id}"): Row(
        any_account_404,
        targets=TARGETS,
        params=lambda w, t: citizen(w, t) | {"appointment_id": str(uuid7())},
        body=lambda w, t: {"slot_id": str(uuid7())},
    ),
    ("GET", "/v1/station/corrections"): Row(station(scoped=False)),
    ("GET", "/v1/station/his-episodes/pending"): Row(station(scoped=False)),
    ("POST", "/v1/station/his-episodes/pending/{pending_id}/resolve"): Row(
        station_404, params=lambda w, t: {"pending_id": str(uuid7())}, body=lambda w, t: {"citizen_id": str(uuid7())}
    ),
    ("POST", "/v1/station/his-episodes/pending/{pending_id}/dismiss"): Row(
        station_404, params=lambda w, t: {"pending_id": str(uuid7())}
    ),
    ("POST", "/v1/station/corrections/{correction_id}/resolve"): Row(
        station(scoped=True),
        params=lambda w, t: {"correction_id": str(w.ids["correction_A"])},
        body=lambda w, t: {"decision": "reject", "resolution": "đã kiểm tra"},
    ),
    ("GET", "/v1/station/link-requests"): Row(station(scoped=False)),
    ("POST", "/v1/station/link-requests/{request_id}/approve"): Row(
        station(scoped=True), params=lambda w, t: {"request_id": str(w.ids["link_request_A"])}
    ),
    ("POST", "/v1/station/link-requests/{request_id}/reject"): Row(
        station(scoped=True), params=lambda w, t: {"request_id": str(w.ids["link_request_A"])}
    ),
    ("POST", "/v1/station/guardianships"): Row(
        station(scoped=True),
        body=lambda w, t: {
            "guardian_citizen_id": str(w.ids["A"]),
            "citizen_id": str(w.ids["M"]),
            "relation": "legal_guardian",
        },
    ),
    ("DELETE", "/v1/station/guardianships/{guardianship_id}"): Row(
        station(scoped=True), params=lambda w, t: {"guardianship_id": str(w.ids["guardianship_M"])}
    ),
    # S1's own area: its staff read it; S2's admin asks for S1's id and finds nothing.
    ("GET", "/v1/station/facilities/{facility_id}/coverage"): Row(
        station(scoped=True), params=lambda w, t: {"facility_id": str(w.ids["S1"])}
    ),
    ("GET", "/v1/station/facilities/{facility_id}/overdue"): Row(
        station(scoped=True), params=lambda w, t: {"facility_id": str(w.ids["S1"])}
    ),
}


def schema_routes(schema: dict[str, Any]) -> set[tuple[str, str]]:
    methods = {"get", "post", "put", "patch", "delete"}
    return {(m.upper(), path) for path, item in schema["paths"].items() for m in item if m in methods}


async def test_every_route_has_a_row(client: httpx.AsyncClient) -> None:
    routes = schema_routes((await client.get("/schema/openapi.json")).json())
    assert routes - set(ROWS) == set(), "routes without a row in the authorization matrix"
    assert set(ROWS) - routes == set(), "rows for routes that no longer exist"


async def test_authorization_matrix(
    client: httpx.AsyncClient, connection: AsyncConnection, session: AsyncSession, settings: Settings
) -> None:
    world = await build_world(session, settings)
    await session.flush()
    routes = schema_routes((await client.get("/schema/openapi.json")).json())
    surprises: list[str] = []
    for (method, template), row in sorted(ROWS.items()):
        if (method, template) not in routes:
            continue
        for target in row.targets:
            anonymous_status = None
            for principal in PRINCIPALS:
                path = template.format(**row.params(world, target))
                body = row.body(world, target) if row.body else None
                savepoint = await connection.begin_nested()
                try:
                    response = await client.request(method, path, json=body, headers=world.headers[principal])
                finally:
                    await savepoint.rollback()
                expected = row.expect(principal, target)
                got = response.status_code
                if principal == "anonymous":
                    anonymous_status = got
                if expected == SAME_FOR_ALL:
                    expected = anonymous_status
                ok = got < 500 and (got not in (401, 403, 404) if expected == ALLOW else got == expected)
                if not ok:
                    surprises.append(f"{method} {path} as {principal} on {target}: expected {expected}, got {got}")
    assert surprises == []
