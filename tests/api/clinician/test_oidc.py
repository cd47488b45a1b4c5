"""Clinician sign-in through the province's OIDC provider, against a real (fake) provider on loopback."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from litestar import Litestar, get
from litestar.di import NamedDependency, Provide
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import ClinicianPrincipal, provide_clinician
from core.identity import oidc
from core.models import AuthSession, Clinician, Facility, FacilityKind, StaffRole
from core.settings import Settings, SettingsError, load_settings
from tests.fakes.oidc_provider import FakeOidcProvider
from tests.support import serving

CLIENT_ID = "phr-clinician-portal"
CLIENT_SECRET = "provider-shared-secret"
CALLBACK = "http://phr.test/v1/clinician/oidc/callback"


@get("/_test/clinician/whoami", dependencies={"clinician": Provide(provide_clinician)})
async def whoami(clinician: NamedDependency[ClinicianPrincipal]) -> dict[str, str]:
    return {"id": str(clinician.clinician_id), "role": clinician.role.value, "facility": str(clinician.facility_id)}


@pytest.fixture
async def provider() -> AsyncIterator[FakeOidcProvider]:
    oidc.CACHE.clear()  # each test's provider has its own port, but a port may be reused by a later test
    async with FakeOidcProvider(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uri=CALLBACK) as fake:
        yield fake
    oidc.CACHE.clear()


@pytest.fixture
async def clinician(session: AsyncSession, provider: FakeOidcProvider) -> Clinician:
    facility = Facility(code="TYT01", name="Trạm Y tế xã Tịnh Khê", kind=FacilityKind.health_station)
    session.add(facility)
    await session.flush()
    person = Clinician(
        facility_id=facility.id,
        full_name="Nguyễn Thị Hoa",
        role=StaffRole.clinician,
        username="hoa.nt",
        oidc_subject=provider.subject,
    )
    session.add(person)
    await session.flush()
    return person


def oidc_app(make_app: Callable[..., Litestar], issuer: str, **overrides: object) -> Litestar:
    options: dict[str, object] = {
        "oidc_issuer": issuer,
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": CLIENT_SECRET,
        "oidc_redirect_uri": CALLBACK,
    }
    app = make_app(**(options | overrides))
    app.register(whoami)
    return app


@pytest.fixture
async def http(make_app: Callable[..., Litestar], provider: FakeOidcProvider) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(oidc_app(make_app, provider.issuer)) as client:
        yield client


@pytest.fixture
async def browser() -> AsyncIterator[httpx.AsyncClient]:
    """The clinician's browser on its way to the provider and back (redirects followed by hand)."""
    async with httpx.AsyncClient(follow_redirects=False) as client:
        yield client


async def sign_in_at_provider(http: httpx.AsyncClient, browser: httpx.AsyncClient) -> httpx.URL:
    """GET /login, follow its redirect to the provider, and return where the provider sends the browser back."""
    login = await http.get("/v1/clinician/oidc/login")
    assert login.status_code == 302, login.text
    at_provider = await browser.get(login.headers["location"])
    assert at_provider.status_code == 302, at_provider.text
    return httpx.URL(at_provider.headers["location"])


async def come_back(http: httpx.AsyncClient, callback: httpx.URL) -> httpx.Response:
    assert str(callback).startswith(CALLBACK)
    return await http.get(callback.path, params=callback.params)


def assert_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code


def flow_cookie(http: httpx.AsyncClient) -> str:
    value = http.cookies.get("phr_oidc")
    assert value, "the login left its sealed state in the browser"
    return value


def replace_flow_cookie(http: httpx.AsyncClient, value: str) -> None:
    http.cookies.clear()
    http.cookies.set("phr_oidc", value, domain="phr.test", path="/v1/clinician/oidc")


async def test_sign_in_gives_a_token_pair_that_opens_clinician_routes(
    http: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    provider: FakeOidcProvider,
    clinician: Clinician,
    settings: Settings,
) -> None:
    login = await http.get("/v1/clinician/oidc/login")
    assert login.status_code == 302
    authorize = httpx.URL(login.headers["location"])
    assert str(authorize).startswith(provider.issuer + "/authorize?")
    assert authorize.params["code_challenge_method"] == "S256"
    assert authorize.params["client_id"] == CLIENT_ID
    assert authorize.params["redirect_uri"] == CALLBACK
    assert authorize.params["scope"] == "openid profile"
    assert {"state", "nonce", "code_challenge"} <= set(authorize.params)
    cookie_header = login.headers["set-cookie"]
    assert cookie_header.startswith("phr_oidc=")
    attributes = {part.strip().lower() for part in cookie_header.split(";")[1:]}
    assert {"httponly", "samesite=lax", "path=/v1/clinician/oidc", "max-age=600"} <= attributes
    assert "secure" not in attributes, "the callback in this test is plain http"
    verifier = oidc.open_flow(settings.secret_key, flow_cookie(http), dt.datetime.now(dt.UTC)).verifier

    back = await browser.get(str(authorize))
    response = await come_back(http, httpx.URL(back.headers["location"]))

    assert response.status_code == 200, response.text
    tokens = response.json()
    assert set(tokens) == {"access_token", "refresh_token", "token_type", "expires_in", "session_id"}
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 900
    assert "phr_oidc" not in http.cookies, "the flow state is cleared once used"
    me = await http.get("/_test/clinician/whoami", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200
    assert me.json() == {"id": str(clinician.id), "role": "clinician", "facility": str(clinician.facility_id)}
    # PKCE: the verifier went to the token endpoint in the body, and never in any URL.
    assert provider.token_requests[-1].form["code_verifier"] == verifier
    assert provider.token_requests[-1].auth_method == "client_secret_basic"
    assert all(verifier not in target for target in provider.targets)
    assert verifier not in login.headers["location"]
    assert all(CLIENT_SECRET not in target for target in provider.targets)


async def test_client_secret_post_when_the_provider_offers_only_that(
    http: httpx.AsyncClient, browser: httpx.AsyncClient, provider: FakeOidcProvider, clinician: Clinician
) -> None:
    provider.auth_methods = ["client_secret_post"]
    response = await come_back(http, await sign_in_at_provider(http, browser))
    assert response.status_code == 200, response.text
    assert provider.token_requests[-1].auth_method == "client_secret_post"


async def test_provider_keys_may_be_ec(
    make_app: Callable[..., Litestar], browser: httpx.AsyncClient, session: AsyncSession
) -> None:
    oidc.CACHE.clear()
    async with FakeOidcProvider(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uri=CALLBACK, key_type="EC"
    ) as provider:
        facility = Facility(code="TYT02", name="Trạm Y tế phường Nghĩa Lộ", kind=FacilityKind.health_station)
        session.add(facility)
        await session.flush()
        session.add(
            Clinician(
                facility_id=facility.id,
                full_name="Lê Văn Nam",
                role=StaffRole.station_staff,
                username="nam.lv",
                oidc_subject=provider.subject,
            )
        )
        await session.flush()
        async with serving(oidc_app(make_app, provider.issuer)) as http:
            response = await come_back(http, await sign_in_at_provider(http, browser))
    oidc.CACHE.clear()
    assert response.status_code == 200, response.text


async def test_cookie_is_secure_when_the_callback_is_https(
    make_app: Callable[..., Litestar], provider: FakeOidcProvider
) -> None:
    app = oidc_app(make_app, provider.issuer, oidc_redirect_uri="https://phr.example.vn/v1/clinician/oidc/callback")
    async with serving(app) as http:
        login = await http.get("/v1/clinician/oidc/login")
    assert login.status_code == 302
    assert "secure" in {part.strip().lower() for part in login.headers["set-cookie"].split(";")}
    assert httpx.URL(login.headers["location"]).params["redirect_uri"].startswith("https://phr.example.vn/")


async def test_switched_off_without_an_issuer_yet_documented(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/clinician/oidc/login"), 404, "oidc_disabled")
    assert_problem(await client.get("/v1/clinician/oidc/callback?code=c&state=s"), 404, "oidc_disabled")
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    assert {"/v1/clinician/oidc/login", "/v1/clinician/oidc/callback"} <= set(paths)


async def test_state_from_another_sign_in_is_refused(
    http: httpx.AsyncClient, browser: httpx.AsyncClient, clinician: Clinician
) -> None:
    callback = await sign_in_at_provider(http, browser)
    forged = callback.copy_set_param("state", "someone-elses-state")
    assert_problem(await come_back(http, forged), 401, "oidc_state_mismatch")


async def test_callback_without_the_cookie_is_refused(
    http: httpx.AsyncClient, browser: httpx.AsyncClient, clinician: Clinician
) -> None:
    callback = await sign_in_at_provider(http, browser)
    http.cookies.clear()  # e.g. the provider's page was opened in another browser
    assert_problem(await come_back(http, callback), 401, "oidc_flow_missing")


async def test_expired_cookie_is_refused(
    http: httpx.AsyncClient, browser: httpx.AsyncClient, settings: Settings
) -> None:
    callback = await sign_in_at_provider(http, browser)
    flow = oidc.open_flow(settings.secret_key, flow_cookie(http), dt.datetime.now(dt.UTC))
    stale = oidc.FlowState(state=flow.state, nonce=flow.nonce, verifier=flow.verifier, expires_at=int(time.time()) - 1)
    replace_flow_cookie(http, oidc.seal_flow(settings.secret_key, stale))
    assert_problem(await come_back(http, callback), 401, "oidc_flow_expired")


async def test_tampered_cookie_is_refused(http: httpx.AsyncClient, browser: httpx.AsyncClient) -> None:
    callback = await sign_in_at_provider(http, browser)
    value = flow_cookie(http)
    replace_flow_cookie(http, value[:-4] + ("AAAA" if not value.endswith("AAAA") else "BBBB"))
    assert_problem(await come_back(http, callback), 401, "oidc_flow_invalid")


@pytest.mark.parametrize(
    ("misbehaviour", "code"),
    [
        pytest.param({"nonce": "a-replayed-nonce"}, "oidc_nonce_mismatch", id="wrong-nonce"),
        pytest.param({"aud": "another-relying-party"}, "oidc_wrong_audience", id="wrong-audience"),
        pytest.param({"aud": [CLIENT_ID, "another-rp"]}, "oidc_wrong_audience", id="shared-audience-without-azp"),
        pytest.param({"iss": "https://impostor.example"}, "oidc_wrong_issuer", id="wrong-issuer"),
        pytest.param({"exp": int(time.time()) - 3600}, "oidc_id_token_expired", id="expired"),
    ],
)
async def test_id_token_claims_are_checked(
    http: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    provider: FakeOidcProvider,
    clinician: Clinician,
    misbehaviour: dict[str, object],
    code: str,
) -> None:
    provider.claim_overrides = misbehaviour
    assert_problem(await come_back(http, await sign_in_at_provider(http, browser)), 401, code)


async def test_forged_id_token_signature_is_refused(
    http: httpx.AsyncClient, browser: httpx.AsyncClient, provider: FakeOidcProvider, clinician: Clinician
) -> None:
    provider.sign_with_foreign_key = True
    assert_problem(await come_back(http, await sign_in_at_provider(http, browser)), 401, "oidc_id_token_invalid")


async def test_rotated_provider_key_is_fetched_again(
    http: httpx.AsyncClient, browser: httpx.AsyncClient, provider: FakeOidcProvider, clinician: Clinician
) -> None:
    assert (await come_back(http, await sign_in_at_provider(http, browser))).status_code == 200
    provider.rotate_key()
    jwks_uri = provider.issuer + "/jwks"
    fetched, keys = oidc.CACHE.jwks[jwks_uri]
    oidc.CACHE.jwks[jwks_uri] = (fetched - 2 * oidc.JWKS_REFETCH_SECONDS, keys)  # the last fetch was a while ago
    response = await come_back(http, await sign_in_at_provider(http, browser))
    assert response.status_code == 200, response.text


async def test_unknown_subject_is_not_provisioned_on_the_fly(
    http: httpx.AsyncClient, browser: httpx.AsyncClient, provider: FakeOidcProvider, session: AsyncSession
) -> None:
    provider.subject = "idp|not-a-phr-clinician"
    assert_problem(await come_back(http, await sign_in_at_provider(http, browser)), 403, "oidc_unknown_clinician")
    assert await session.scalar(select(func.count()).select_from(Clinician)) == 0
    assert await session.scalar(select(func.count()).select_from(AuthSession)) == 0


async def test_inactive_clinician_is_refused(
    http: httpx.AsyncClient, browser: httpx.AsyncClient, clinician: Clinician, session: AsyncSession
) -> None:
    clinician.active = False
    await session.flush()
    assert_problem(await come_back(http, await sign_in_at_provider(http, browser)), 403, "oidc_clinician_inactive")


async def test_access_denied_at_the_provider_is_a_401(
    http: httpx.AsyncClient, browser: httpx.AsyncClient, provider: FakeOidcProvider
) -> None:
    provider.deny = True
    callback = await sign_in_at_provider(http, browser)
    assert callback.params["error"] == "access_denied"
    assert_problem(await come_back(http, callback), 401, "oidc_access_denied")


async def test_answer_naming_another_issuer_is_refused(
    http: httpx.AsyncClient, browser: httpx.AsyncClient, clinician: Clinician
) -> None:
    callback = (await sign_in_at_provider(http, browser)).copy_set_param("iss", "https://impostor.example")
    assert_problem(await come_back(http, callback), 401, "oidc_wrong_issuer")


async def test_provider_unreachable_at_login_is_a_503(make_app: Callable[..., Litestar]) -> None:
    async with FakeOidcProvider(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uri=CALLBACK) as gone:
        issuer = gone.issuer
    oidc.CACHE.clear()
    async with serving(oidc_app(make_app, issuer)) as http:
        response = await http.get("/v1/clinician/oidc/login")
    assert_problem(response, 503, "oidc_provider_unavailable")
    assert response.headers["retry-after"] == "30"
    assert "set-cookie" not in response.headers


async def test_provider_down_at_the_callback_is_a_503(
    http: httpx.AsyncClient, browser: httpx.AsyncClient, provider: FakeOidcProvider, clinician: Clinician
) -> None:
    callback = await sign_in_at_provider(http, browser)
    provider.down = True
    response = await come_back(http, callback)
    assert_problem(response, 503, "oidc_provider_unavailable")
    assert response.headers["retry-after"] == "30"


async def test_provider_refuses_a_wrong_pkce_verifier(
    http: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    provider: FakeOidcProvider,
    clinician: Clinician,
    settings: Settings,
) -> None:
    callback = await sign_in_at_provider(http, browser)
    flow = oidc.open_flow(settings.secret_key, flow_cookie(http), dt.datetime.now(dt.UTC))
    # An attacker who injects a code obtained for their own challenge holds a different verifier.
    other = oidc.FlowState(state=flow.state, nonce=flow.nonce, verifier="v" * 64, expires_at=flow.expires_at)
    replace_flow_cookie(http, oidc.seal_flow(settings.secret_key, other))
    assert_problem(await come_back(http, callback), 401, "oidc_code_rejected")
    assert (provider.token_requests[-1].error, provider.token_requests[-1].reason) == ("invalid_grant", "pkce")


async def test_a_code_is_good_for_one_sign_in(
    http: httpx.AsyncClient, browser: httpx.AsyncClient, provider: FakeOidcProvider, clinician: Clinician
) -> None:
    callback = await sign_in_at_provider(http, browser)
    cookie = flow_cookie(http)
    assert (await come_back(http, callback)).status_code == 200
    replace_flow_cookie(http, cookie)  # a replayed redirect, cookie and all
    assert_problem(await come_back(http, callback), 401, "oidc_code_rejected")
    assert provider.token_requests[-1].reason == "code"


async def test_wrong_client_secret_is_a_service_fault_not_the_clinicians(
    make_app: Callable[..., Litestar], browser: httpx.AsyncClient, provider: FakeOidcProvider, clinician: Clinician
) -> None:
    async with serving(oidc_app(make_app, provider.issuer, oidc_client_secret="stale")) as http:
        response = await come_back(http, await sign_in_at_provider(http, browser))
    assert_problem(response, 503, "oidc_client_rejected")


OIDC_ENV = {
    "PHR_OIDC_ISSUER": "https://sso.example.vn",
    "PHR_OIDC_CLIENT_ID": "phr",
    "PHR_OIDC_CLIENT_SECRET": "s",
}
PRODUCTION = {
    "PHR_ENV": "production",
    "PHR_SECRET_KEY": "k",
    "PHR_JWT_PRIVATE_KEY": "p",
    "PHR_SMS_SENDER": "http",
    "PHR_SMS_GATEWAY_URL": "https://sms.example.vn/send",
}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        pytest.param({"PHR_OIDC_ISSUER": "https://sso.example.vn"}, "PHR_OIDC_CLIENT_ID", id="no-client"),
        pytest.param(OIDC_ENV | {"PHR_OIDC_ISSUER": "sso.example.vn"}, "absolute", id="relative-issuer"),
        pytest.param(OIDC_ENV | {"PHR_OIDC_SCOPES": "profile"}, "openid", id="no-openid-scope"),
        pytest.param(
            PRODUCTION | OIDC_ENV | {"PHR_OIDC_REDIRECT_URI": "http://phr.example.vn/cb"}, "https", id="plain-http"
        ),
    ],
)
def test_incomplete_oidc_settings_stop_start_up(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings({"PHR_DATA_DIR": str(tmp_path), **env})


def test_oidc_client_secret_may_come_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "oidc").write_text("from-a-file\n")
    env = OIDC_ENV | {"PHR_OIDC_CLIENT_SECRET": "", "PHR_OIDC_CLIENT_SECRET_FILE": str(tmp_path / "oidc")}
    settings = load_settings({"PHR_DATA_DIR": str(tmp_path), **env})
    assert settings.oidc_client_secret == "from-a-file"
    assert settings.oidc_scopes == "openid profile"
