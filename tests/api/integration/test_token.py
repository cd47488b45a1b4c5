"""Machine clients over HTTP: the client-credentials token endpoint, and which routes such a token opens."""

from __future__ import annotations

import asyncio
import base64
import os
import sys
from asyncio.subprocess import PIPE
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import quote_plus

import httpx
import pytest
from litestar import Litestar, get
from litestar.di import NamedDependency, Provide
from sqlalchemy.ext.asyncio import AsyncSession

from api.app import create_app
from api.auth import (
    AccountPrincipal,
    ClinicianPrincipal,
    MachinePrincipal,
    provide_account,
    provide_clinician,
    provide_machine,
)
from core.db import Database
from core.identity.sessions import SessionService
from core.identity.tokens import verify_access_token
from core.ids import uuid7
from core.models import Account, SubjectKind
from core.settings import Settings
from tests.core.identity.factories import make_clinician, make_facility, make_machine_client
from tests.support import login, serving

TOKEN = "/v1/integration/token"
SECRET = "s3cret:with%odd chars"  # the factory's default: ':' and '%' test the Basic decoding
ROOT = Path(__file__).resolve().parents[3]


@get("/_test/machine", sync_to_thread=False, dependencies={"machine": Provide(provide_machine)})
def machine_route(machine: NamedDependency[MachinePrincipal]) -> dict[str, object]:
    return {"machine_id": str(machine.machine_id), "scopes": sorted(machine.scopes)}


@get("/_test/clinician", sync_to_thread=False, dependencies={"me": Provide(provide_clinician)})
def clinician_route(me: NamedDependency[ClinicianPrincipal]) -> str:
    return str(me.clinician_id)


@get("/_test/account", sync_to_thread=False, dependencies={"account": Provide(provide_account)})
def account_route(account: NamedDependency[AccountPrincipal]) -> str:
    return str(account.account_id)


def with_test_routes(app: Litestar) -> Litestar:
    for handler in (machine_route, clinician_route, account_route):
        app.register(handler)
    return app


@pytest.fixture
async def http(make_app: Callable[..., Litestar]) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(with_test_routes(make_app())) as client:
        yield client


def form(**extra: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_id": "his-bvdk", "client_secret": SECRET, **extra}


def basic(client_id: str, secret: str) -> dict[str, str]:
    # RFC 6749 §2.3.1: each half is form-urlencoded, then the pair is base64-encoded.
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}"
    return {"Authorization": "Basic " + base64.b64encode(raw.encode()).decode()}


async def test_client_credentials_give_a_short_scoped_machine_token(
    http: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    hospital = await make_facility(session, "51001")
    client = await make_machine_client(session, facility=hospital)
    response = await http.post(TOKEN, data=form())
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "his:episodes:write immunization:write"
    assert 0 < body["expires_in"] <= 900
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    claims = verify_access_token(settings.jwt_private_key_pem, body["access_token"])
    assert (claims.kind, claims.subject, claims.session_id) == ("machine", client.id, None)
    assert claims.extra == {"scope": body["scope"], "fac": str(hospital.id)}
    opened = await http.get("/_test/machine", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert opened.json() == {"machine_id": str(client.id), "scopes": ["his:episodes:write", "immunization:write"]}


async def test_http_basic_authenticates_the_client(http: httpx.AsyncClient, session: AsyncSession) -> None:
    await make_machine_client(session)
    response = await http.post(TOKEN, data={"grant_type": "client_credentials"}, headers=basic("his-bvdk", SECRET))
    assert response.status_code == 200
    both = await http.post(TOKEN, data=form(), headers=basic("his-bvdk", SECRET))
    assert both.status_code == 400, "one authentication method per request (RFC 6749 §2.3)"
    assert both.json()["code"] == "invalid_request"


async def test_a_client_without_facility_gets_no_facility_claim(
    http: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    await make_machine_client(session, scopes=("population:write",))
    body = (await http.post(TOKEN, data=form())).json()
    claims = verify_access_token(settings.jwt_private_key_pem, body["access_token"])
    assert claims.extra == {"scope": "population:write"}


async def test_wrong_secret_unknown_and_inactive_clients_get_the_same_401(
    http: httpx.AsyncClient, session: AsyncSession
) -> None:
    await make_machine_client(session)
    await make_machine_client(session, client_id="his-cu", active=False)
    answers = [
        await http.post(TOKEN, data=form(client_secret="wrong")),
        await http.post(TOKEN, data=form(client_id="khong-co")),
        await http.post(TOKEN, data=form(client_id="his-bvdk\x00")),
        await http.post(TOKEN, data=form(client_id="his-cu")),
        await http.post(TOKEN, data={"grant_type": "client_credentials"}, headers=basic("his-bvdk", "wrong")),
        await http.post(TOKEN, data={"grant_type": "client_credentials"}),
    ]
    assert {a.status_code for a in answers} == {401}
    assert {a.headers["content-type"] for a in answers} == {"application/problem+json"}
    assert all(a.json() == answers[0].json() for a in answers)
    assert answers[0].json()["code"] == "invalid_client"
    assert "wrong" not in answers[0].text


@pytest.mark.parametrize(
    ("requested", "status", "outcome"),
    [
        ("his:episodes:write", 200, "his:episodes:write"),
        ("his:episodes:write population:write", 200, "his:episodes:write"),
        ("population:write", 400, "invalid_scope"),
        ("his:episodes:write admin", 400, "invalid_scope"),
    ],
)
async def test_the_granted_scope_is_what_the_client_may_have_of_what_it_asked(
    http: httpx.AsyncClient, session: AsyncSession, requested: str, status: int, outcome: str
) -> None:
    await make_machine_client(session)
    response = await http.post(TOKEN, data=form(scope=requested))
    assert response.status_code == status
    assert (response.json()["scope"] if status == 200 else response.json()["code"]) == outcome


async def test_other_grant_types_are_refused(http: httpx.AsyncClient, session: AsyncSession) -> None:
    await make_machine_client(session)
    for grant in ("password", "authorization_code", "refresh_token"):
        response = await http.post(TOKEN, data=form(grant_type=grant))
        assert response.status_code == 400
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "unsupported_grant_type"


async def test_unknown_parameters_are_ignored_and_json_is_not_a_token_request(
    http: httpx.AsyncClient, session: AsyncSession
) -> None:
    await make_machine_client(session)
    assert (await http.post(TOKEN, data=form(audience="phr", resource="x"))).status_code == 200  # RFC 6749 §3.2
    as_json = await http.post(TOKEN, json=form())
    assert as_json.status_code == 400
    assert as_json.headers["content-type"] == "application/problem+json"


async def test_a_machine_token_opens_no_person_route(
    http: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    await make_machine_client(session)
    machine = {"Authorization": f"Bearer {(await http.post(TOKEN, data=form())).json()['access_token']}"}
    assert (await http.get("/_test/machine", headers=machine)).status_code == 200
    assert (await http.get("/_test/clinician", headers=machine)).status_code == 401
    assert (await http.get("/_test/account", headers=machine)).status_code == 401


async def test_person_tokens_open_no_machine_route(
    http: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    clinician = await make_clinician(session, settings)
    pair = await SessionService(session, settings).start(
        SubjectKind.clinician,
        clinician.id,
        method="password_totp",
        claims={"role": clinician.role.value, "fac": str(clinician.facility_id)},
    )
    clinician_headers = {"Authorization": f"Bearer {pair.access_token}"}
    assert (await http.get("/_test/clinician", headers=clinician_headers)).status_code == 200
    assert (await http.get("/_test/machine", headers=clinician_headers)).status_code == 401
    account = Account(id=uuid7(), phone="+84905200001")
    session.add(account)
    await session.flush()
    citizen_headers = await login(session, settings, account.id)
    assert (await http.get("/_test/account", headers=citizen_headers)).status_code == 200
    assert (await http.get("/_test/machine", headers=citizen_headers)).status_code == 401


async def phr(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "api.cli", *args, cwd=ROOT, env=env, stdout=PIPE, stderr=PIPE
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_cli_creates_a_client_whose_printed_secret_works(
    committed: Database, database_url: str, settings: Settings, tmp_path: Path
) -> None:
    async with committed.transaction() as session:
        await make_facility(session, "51001")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHR_")}
    env |= {"PHR_DATABASE_URL": database_url, "PHR_DATA_DIR": str(tmp_path), "PHR_LOG_FORMAT": "json"}
    create = ["machine-client", "create", "--name", "HIS BVĐK", "--client-id", "his-cli", "--facility-code", "51001"]
    status, out, err = await phr(*create, "--scopes", "his:episodes:write immunization:write", env=env)
    assert status == 0, err
    secret = next(line.split()[1] for line in out.splitlines() if line.startswith("client_secret:"))
    assert secret not in err, "the secret is printed for the operator, never logged"
    async with serving(create_app(settings, committed)) as http:
        response = await http.post(TOKEN, data=form(client_id="his-cli", client_secret=secret))
    assert response.status_code == 200
    assert response.json()["scope"] == "his:episodes:write immunization:write"
    status, _out, err = await phr(*create, "--scopes", "his:episodes:write", env=env)
    assert status == 1
    assert "client_id_taken" in err
