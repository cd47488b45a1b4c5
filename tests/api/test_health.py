from __future__ import annotations

import httpx
from litestar import Litestar

from api.app import create_app
from core.db import Database
from core.settings import Settings
from tests.support import serving


async def test_live_answers_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["cache-control"] == "no-store"


async def test_ready_checks_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_ready_is_503_problem_when_the_database_is_unreachable(settings: Settings, tmp_path: object) -> None:
    # A socket directory with no server in it: the connection fails at once.
    database = Database.from_url(f"postgresql://postgres@/phr?host={tmp_path}")
    app: Litestar = create_app(settings, database)
    async with serving(app) as http:
        response = await http.get("/health/ready", headers={"Accept-Language": "en"})
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"
    body = response.json()
    assert body["type"] == "urn:phr:problem:unavailable"
    assert body["title"] == "Service temporarily unavailable"
    assert body["code"] == "database_unreachable"
