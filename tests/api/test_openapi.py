"""The OpenAPI document describes the API and its docs are served."""

from __future__ import annotations

import httpx


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


# Fuzzing every operation as every kind of caller lives in test_schema_fuzz.py.
