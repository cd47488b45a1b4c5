"""Machine clients: the scope rule, client authentication parsing, registration, the token's claims."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, DomainError, Invalid, NotFound, Unauthenticated
from core.identity.machines import (
    KNOWN_SCOPES,
    SCOPE_HIS_EPISODES,
    SCOPE_IMMUNIZATION,
    SCOPE_POPULATION,
    ClientCredentials,
    MachineClientService,
    OAuthError,
    client_credentials,
    granted_scopes,
)
from core.identity.passwords import verify_secret
from core.identity.tokens import verify_access_token
from core.settings import Settings
from tests.core.identity.factories import NOW, make_facility, make_machine_client

HIS_AND_EPI = [SCOPE_HIS_EPISODES, SCOPE_IMMUNIZATION]


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def test_the_three_scopes_exist() -> None:
    assert {"his:episodes:write", "immunization:write", "population:write"} == KNOWN_SCOPES


@pytest.mark.parametrize(
    ("allowed", "requested", "granted"),
    [
        (HIS_AND_EPI, None, HIS_AND_EPI),
        (HIS_AND_EPI, "", HIS_AND_EPI),
        (HIS_AND_EPI, "his:episodes:write", [SCOPE_HIS_EPISODES]),
        (HIS_AND_EPI, "immunization:write  his:episodes:write", HIS_AND_EPI),
        (HIS_AND_EPI, "his:episodes:write population:write", [SCOPE_HIS_EPISODES]),
        (HIS_AND_EPI, "population:write", "invalid_scope"),
        (HIS_AND_EPI, "admin", "invalid_scope"),
        (HIS_AND_EPI, "his:episodes:write admin", "invalid_scope"),
        ([], None, "invalid_scope"),
        (["retired:scope", SCOPE_POPULATION], None, [SCOPE_POPULATION]),
    ],
)
def test_granted_scope_is_the_allowed_part_of_the_request(
    allowed: list[str], requested: str | None, granted: list[str] | str
) -> None:
    if isinstance(granted, str):
        with pytest.raises(OAuthError) as refused:
            granted_scopes(allowed, requested)
        assert refused.value.code == granted
    else:
        assert granted_scopes(allowed, requested) == granted


@pytest.mark.parametrize(
    ("header", "form_id", "form_secret", "expected"),
    [
        (None, "his", "pw", ClientCredentials("his", "pw")),
        ("Bearer abc", "his", "pw", ClientCredentials("his", "pw")),
        (basic("his", "pw"), None, None, ClientCredentials("his", "pw")),
        (basic("his", "pw"), "his", None, ClientCredentials("his", "pw")),
        (basic("his", "a%3Ab%25c"), None, None, ClientCredentials("his", "a:b%c")),
        ("basic " + base64.b64encode(b"his:p:w").decode(), None, None, ClientCredentials("his", "p:w")),
        (None, "his", None, "invalid_client"),
        (None, None, None, "invalid_client"),
        ("Basic !!!not-base64", None, None, "invalid_client"),
        ("Basic ÿÿÿÿ", None, None, "invalid_client"),
        ("Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(), None, None, "invalid_client"),
        ("Basic " + base64.b64encode(b"no-colon").decode(), None, None, "invalid_client"),
        ("Basic " + base64.b64encode(b"his:").decode(), None, None, "invalid_client"),
        (basic("his", "pw"), None, "pw", "invalid_request"),
        (basic("his", "pw"), "other", None, "invalid_request"),
    ],
)
def test_client_credentials_come_from_basic_or_the_form_not_both(
    header: str | None, form_id: str | None, form_secret: str | None, expected: ClientCredentials | str
) -> None:
    if isinstance(expected, str):
        with pytest.raises(DomainError) as refused:
            client_credentials(header, form_id, form_secret)
        assert refused.value.code == expected
        assert isinstance(refused.value, Unauthenticated if expected == "invalid_client" else OAuthError)
    else:
        assert client_credentials(header, form_id, form_secret) == expected


async def test_create_stores_only_an_argon2_hash_of_a_strong_secret(session: AsyncSession, settings: Settings) -> None:
    hospital = await make_facility(session, "51001")
    created = await MachineClientService(session, settings).create(
        name="HIS BVĐK tỉnh", client_id="his-bvdk", scopes=[SCOPE_HIS_EPISODES], facility_code="51001"
    )
    assert len(created.secret) >= 43
    assert created.client.secret_hash.startswith("$argon2id$")
    assert created.secret not in created.client.secret_hash
    assert await verify_secret(created.client.secret_hash, created.secret)
    assert (created.client.facility_id, created.client.scopes) == (hospital.id, [SCOPE_HIS_EPISODES])


@pytest.mark.parametrize(
    ("client_id", "scopes", "facility_code", "error", "code"),
    [
        ("x", [SCOPE_HIS_EPISODES], None, Invalid, "invalid_client_id"),
        ("has space", [SCOPE_HIS_EPISODES], None, Invalid, "invalid_client_id"),
        ("his-ok", [], None, Invalid, "invalid_scopes"),
        ("his-ok", ["admin"], None, Invalid, "invalid_scopes"),
        ("his-ok", [SCOPE_HIS_EPISODES], "99999", NotFound, "facility_not_found"),
        ("his-taken", [SCOPE_HIS_EPISODES], None, Conflict, "client_id_taken"),
    ],
)
async def test_create_refuses_bad_registrations(
    session: AsyncSession,
    settings: Settings,
    client_id: str,
    scopes: list[str],
    facility_code: str | None,
    error: type[DomainError],
    code: str,
) -> None:
    await make_machine_client(session, client_id="his-taken")
    with pytest.raises(error) as refused:
        await MachineClientService(session, settings).create(
            name="HIS", client_id=client_id, scopes=scopes, facility_code=facility_code
        )
    assert refused.value.code == code


async def test_token_claims_name_the_client_its_scopes_and_facility(session: AsyncSession, settings: Settings) -> None:
    hospital = await make_facility(session, "51001")
    client = await make_machine_client(session, facility=hospital)
    token = await MachineClientService(session, settings, NOW).issue_token(
        "client_credentials", ClientCredentials("his-bvdk", "s3cret:with%odd chars"), "his:episodes:write"
    )
    claims = verify_access_token(settings.jwt_private_key_pem, token.access_token, now=NOW)
    assert (claims.kind, claims.subject, claims.session_id) == ("machine", client.id, None)
    assert claims.extra["scope"] == token.scope == "his:episodes:write"
    assert claims.extra["fac"] == str(hospital.id)
    assert claims.expires_at == NOW + dt.timedelta(seconds=token.expires_in)
    assert 0 < token.expires_in <= 15 * 60


async def test_unsupported_grant_types_are_refused_before_anything_else(
    session: AsyncSession, settings: Settings
) -> None:
    with pytest.raises(OAuthError) as refused:
        await MachineClientService(session, settings).issue_token("password", ClientCredentials("x", "y"), None)
    assert refused.value.code == "unsupported_grant_type"
