"""Clinician sign-in over HTTP: password, TOTP enrolment and use, recovery codes, lockout, single use."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pyotp
import pytest
from litestar import Litestar, get
from litestar.di import NamedDependency, Provide
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.app import create_app
from api.auth import ClinicianPrincipal, provide_clinician
from core.db import Database
from core.demo import seed_demo
from core.models import AuthSession, ClinicianLoginChallenge, StaffRole
from core.settings import Settings
from tests.core.identity.factories import PASSWORD, make_clinician, reload, wrong_code
from tests.support import serving

LOGIN = "/v1/clinician/login"
SECRET = pyotp.random_base32()


@get("/_test/clinician/me", sync_to_thread=False, dependencies={"me": Provide(provide_clinician)})
def whoami(me: NamedDependency[ClinicianPrincipal]) -> dict[str, str]:
    return {"clinician_id": str(me.clinician_id), "role": me.role.value, "facility_id": str(me.facility_id)}


def with_test_route(app: Litestar) -> Litestar:
    app.register(whoami)
    return app


@pytest.fixture
async def http(make_app: Callable[..., Litestar]) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(with_test_route(make_app())) as client:
        yield client


async def password_step(http: httpx.AsyncClient, username: str = "bs.nguyen", password: str = PASSWORD) -> str:
    response = await http.post(LOGIN, json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["login_token"]
    return token


async def enrol(http: httpx.AsyncClient, username: str = "bs.nguyen") -> tuple[str, dict[str, object]]:
    """First sign-in of a clinician without TOTP: the new secret and the confirm response."""
    token = await password_step(http, username)
    enrolment = await http.post(f"{LOGIN}/totp/enrol", json={"login_token": token})
    assert enrolment.status_code == 200, enrolment.text
    secret = pyotp.parse_uri(enrolment.json()["otpauth_uri"]).secret
    confirmed = await http.post(f"{LOGIN}/totp/confirm", json={"login_token": token, "code": pyotp.TOTP(secret).now()})
    assert confirmed.status_code == 200, confirmed.text
    return secret, confirmed.json()


def bearer(body: dict[str, object]) -> dict[str, str]:
    return {"Authorization": f"Bearer {body['access_token']}"}


@pytest.mark.parametrize("role", list(StaffRole))
async def test_first_sign_in_enrols_totp_and_the_tokens_open_clinician_routes(
    http: httpx.AsyncClient, session: AsyncSession, settings: Settings, role: StaffRole
) -> None:
    clinician = await make_clinician(session, settings, role=role)
    assert (await http.get("/_test/clinician/me")).status_code == 401
    started = await http.post(LOGIN, json={"username": "bs.nguyen", "password": PASSWORD})
    assert started.status_code == 200
    assert started.json()["next"] == "enrol_totp"
    assert started.json()["expires_in"] == 300
    token = started.json()["login_token"]

    enrolment = await http.post(f"{LOGIN}/totp/enrol", json={"login_token": token})
    assert enrolment.status_code == 200
    uri = pyotp.parse_uri(enrolment.json()["otpauth_uri"])
    assert isinstance(uri, pyotp.TOTP)
    assert (uri.issuer, uri.name, uri.interval, uri.digits) == ("PHR Quảng Ngãi", "bs.nguyen", 30, 6)
    assert enrolment.json()["qr_svg"].startswith("<svg") and "<path" in enrolment.json()["qr_svg"]

    confirmed = await http.post(f"{LOGIN}/totp/confirm", json={"login_token": token, "code": uri.now()})
    assert confirmed.status_code == 200
    body = confirmed.json()
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 900)
    assert body["refresh_token"]
    assert len(set(body["recovery_codes"])) == 10

    me = await http.get("/_test/clinician/me", headers=bearer(body))
    assert me.status_code == 200
    assert me.json() == {
        "clinician_id": str(clinician.id),
        "role": role.value,
        "facility_id": str(clinician.facility_id),
    }
    again = await http.post(LOGIN, json={"username": "bs.nguyen", "password": PASSWORD})
    assert again.json()["next"] == "totp", "once enrolled, the next sign-in asks for a code"


async def test_an_enrolled_clinician_signs_in_with_a_code(
    http: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    await make_clinician(session, settings, totp_secret=SECRET)
    token = await password_step(http)
    response = await http.post(f"{LOGIN}/totp", json={"login_token": token, "code": pyotp.TOTP(SECRET).now()})
    assert response.status_code == 200
    assert set(response.json()) == {"access_token", "refresh_token", "token_type", "expires_in", "session_id"}
    assert (await http.get("/_test/clinician/me", headers=bearer(response.json()))).status_code == 200
    [method] = (await session.scalars(select(AuthSession.method))).all()
    assert method == "password_totp"


async def test_wrong_password_unknown_name_and_inactive_clinician_look_the_same(
    http: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    await make_clinician(session, settings)
    await make_clinician(session, settings, username="bs.nghi", active=False)
    await make_clinician(session, settings, username="bs.oidc", password=None)
    answers = [
        await http.post(LOGIN, json={"username": username, "password": password})
        for username, password in [
            ("bs.nguyen", "sai-mat-khau"),
            ("khong.ton.tai", "sai-mat-khau"),
            ("bs.nghi", PASSWORD),
            ("bs.oidc", PASSWORD),
        ]
    ]
    assert {a.status_code for a in answers} == {401}
    assert all(a.json() == answers[0].json() for a in answers)
    assert {a.headers["www-authenticate"] for a in answers} == {'Bearer realm="phr"'}
    assert answers[0].json()["code"] == "invalid_credentials"
    assert answers[0].json()["title"] == "Bạn cần đăng nhập"
    assert "sai-mat-khau" not in answers[0].text


async def test_ten_failures_lock_the_clinician_with_retry_after(
    http: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    clinician = await make_clinician(session, settings)
    for _ in range(10):
        wrong = await http.post(LOGIN, json={"username": "bs.nguyen", "password": "sai-mat-khau"})
        assert wrong.status_code == 401
    locked = await http.post(LOGIN, json={"username": "bs.nguyen", "password": PASSWORD})
    assert locked.status_code == 429
    assert locked.headers["content-type"] == "application/problem+json"
    assert 890 <= int(locked.headers["retry-after"]) <= 900
    assert locked.json()["code"] == "clinician_locked"
    assert (await reload(session, clinician)).failed_logins == 10, "the failures were committed with the 401s"


async def test_a_totp_code_signs_in_only_once(
    http: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    await make_clinician(session, settings, totp_secret=SECRET)
    code = pyotp.TOTP(SECRET).now()
    first = await http.post(f"{LOGIN}/totp", json={"login_token": await password_step(http), "code": code})
    assert first.status_code == 200
    replay = await http.post(f"{LOGIN}/totp", json={"login_token": await password_step(http), "code": code})
    assert replay.status_code == 401
    assert replay.json()["code"] == "totp_code_reused"


async def test_five_wrong_codes_kill_the_login_token(
    http: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    clinician = await make_clinician(session, settings, totp_secret=SECRET)
    token = await password_step(http)
    remaining = []
    for _ in range(5):
        wrong = await http.post(f"{LOGIN}/totp", json={"login_token": token, "code": wrong_code(SECRET)})
        assert wrong.status_code == 401
        remaining.append(wrong.json()["remaining_attempts"])
    assert remaining == [4, 3, 2, 1, 0]
    right = await http.post(f"{LOGIN}/totp", json={"login_token": token, "code": pyotp.TOTP(SECRET).now()})
    assert right.status_code == 401, "a dead login token stays dead, even with the right code"
    assert right.json()["code"] == "login_token_invalid"
    assert await session.scalar(select(ClinicianLoginChallenge.attempts)) == 5
    assert (await reload(session, clinician)).failed_logins == 5


async def test_a_login_token_signs_in_only_once(
    http: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    await make_clinician(session, settings)
    _secret, enrolled = await enrol(http)
    codes = enrolled["recovery_codes"]
    assert isinstance(codes, list)
    token = await password_step(http)
    assert (await http.post(f"{LOGIN}/recovery", json={"login_token": token, "recovery_code": codes[0]})).is_success
    reused = await http.post(f"{LOGIN}/recovery", json={"login_token": token, "recovery_code": codes[1]})
    assert reused.status_code == 401
    assert reused.json()["code"] == "login_token_invalid"


async def test_a_recovery_code_signs_in_once(
    http: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    await make_clinician(session, settings)
    _secret, enrolled = await enrol(http)
    codes = enrolled["recovery_codes"]
    assert isinstance(codes, list)
    first = await http.post(
        f"{LOGIN}/recovery", json={"login_token": await password_step(http), "recovery_code": codes[0]}
    )
    assert first.status_code == 200
    assert (await http.get("/_test/clinician/me", headers=bearer(first.json()))).status_code == 200
    again = await http.post(
        f"{LOGIN}/recovery", json={"login_token": await password_step(http), "recovery_code": codes[0]}
    )
    assert again.status_code == 401
    assert again.json()["code"] == "invalid_recovery_code"
    methods = (await session.scalars(select(AuthSession.method))).all()
    assert sorted(methods) == ["password_totp", "recovery_code"]


async def test_enrolment_is_refused_once_totp_is_set_up(
    http: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    await make_clinician(session, settings, totp_secret=SECRET)
    token = await password_step(http)
    response = await http.post(f"{LOGIN}/totp/enrol", json={"login_token": token})
    assert response.status_code == 409
    assert response.json()["code"] == "totp_already_enrolled"
    confirm = await http.post(f"{LOGIN}/totp/confirm", json={"login_token": token, "code": wrong_code(SECRET)})
    assert confirm.status_code == 409


@pytest.mark.parametrize(
    "body",
    [
        {"username": "bs.nguyen", "password": PASSWORD, "role": "station_admin"},
        {"username": "bs.nguyen"},
        {"username": "", "password": PASSWORD},
        {"username": "bs.nguyen\x00", "password": PASSWORD},
    ],
)
async def test_malformed_logins_are_400(
    http: httpx.AsyncClient, session: AsyncSession, settings: Settings, body: dict[str, str]
) -> None:
    await make_clinician(session, settings)
    response = await http.post(LOGIN, json=body)
    assert response.status_code == 400
    assert PASSWORD not in response.text


async def test_the_demo_clinician_is_asked_to_enrol(http: httpx.AsyncClient, session: AsyncSession) -> None:
    await seed_demo(session)
    response = await http.post(LOGIN, json={"username": "bs.demo", "password": "demo-bacsi-2026"})
    assert response.status_code == 200
    assert response.json()["next"] == "enrol_totp"


async def test_concurrent_codes_on_one_login_token_open_exactly_one_session(
    committed: Database, database_url: str, settings: Settings
) -> None:
    async with committed.transaction() as session:
        clinician = await make_clinician(session, settings, username="bs.dongthoi", totp_secret=SECRET)
    # Two "replicas" with their own connection pools, as in production.
    replica = Database.from_url(database_url, pool_size=10, max_overflow=10)
    try:
        async with serving(create_app(settings, committed)) as one, serving(create_app(settings, replica)) as two:
            token = await password_step(one, "bs.dongthoi")
            body = {"login_token": token, "code": pyotp.TOTP(SECRET).now()}
            answers = await asyncio.gather(*(http.post(f"{LOGIN}/totp", json=body) for http in [one, two] * 10))
    finally:
        await replica.dispose()
    assert sorted(a.status_code for a in answers) == [200] + [401] * 19
    async with committed.transaction() as session:
        sessions = await session.scalar(
            select(func.count()).select_from(AuthSession).where(AuthSession.clinician_id == clinician.id)
        )
    assert sessions == 1
