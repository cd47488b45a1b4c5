"""The OpenAPI document describes the API, and fuzzing every operation in it finds no server error."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from litestar import Litestar
from schemathesis.checks import not_a_server_error
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from api.app import create_app
from core.db import Database
from core.migrations import upgrade
from core.settings import Settings
from tests.conftest import PgCluster


async def test_schema_is_openapi_3_1_and_lists_health(client: httpx.AsyncClient) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.1")
    assert {"/health/live", "/health/ready"} <= set(schema["paths"])


async def test_interactive_docs_are_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/schema")
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]


@pytest.fixture(scope="module")
async def fuzz_database_url(pg_cluster: PgCluster) -> AsyncIterator[str]:
    """Fuzzing commits whatever it manages to create: it gets a database of its own, built by the migrations."""
    name = await pg_cluster.create_database("phr_fuzz")
    url = pg_cluster.url(name)
    engine = create_async_engine(url, poolclass=NullPool)
    await upgrade(engine)
    await engine.dispose()
    yield url
    await pg_cluster.drop_database(name)


@pytest.fixture(scope="module")
def fuzz_app(settings: Settings, fuzz_database_url: str) -> Litestar:
    # schemathesis drives the app from its own threads and event loops, so this app gets an engine without a
    # pool (a pooled asyncpg connection belongs to the loop that opened it).
    database = Database(create_async_engine(fuzz_database_url, poolclass=NullPool))
    return create_app(settings, database)


@pytest.fixture(scope="module")
def api_schema(fuzz_app: Litestar) -> schemathesis.schemas.BaseSchema:
    return schemathesis.openapi.from_asgi("/schema/openapi.json", fuzz_app)


def test_no_operation_answers_with_a_server_error(api_schema: schemathesis.schemas.BaseSchema) -> None:
    """Every operation, with generated valid and invalid inputs: 4xx problems are fine, a 5xx fails."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 2
    calls = 0

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def exercise(case: schemathesis.Case) -> None:
            nonlocal calls
            response = case.call()
            calls += 1
            case.validate_response(response, checks=[not_a_server_error])
            if response.status_code >= 400:
                content_type = response.headers.get("content-type") or [""]
                assert content_type[0] == "application/problem+json"

        exercise()
    assert calls >= len(operations)
