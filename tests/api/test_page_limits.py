"""Every paged list refuses a page size outside 1..100 with a problem, and serves a full page of 100."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core.settings import Settings
from tests.api.test_authorization_matrix import ALLOW, PRINCIPALS, ROWS, build_world


def paged_routes(schema: dict[str, Any]) -> set[str]:
    return {
        path
        for path, item in schema["paths"].items()
        if any(p.get("name") == "limit" and p.get("in") == "query" for p in item.get("get", {}).get("parameters", []))
    }


async def test_page_sizes_are_bounded_on_every_list(
    client: httpx.AsyncClient, connection: AsyncConnection, session: AsyncSession, settings: Settings
) -> None:
    paged = paged_routes((await client.get("/schema/openapi.json")).json())
    assert len(paged) >= 5, paged
    world = await build_world(session, settings)
    await session.flush()
    wrong: list[str] = []
    for template in sorted(paged):
        row = ROWS[("GET", template)]
        principal, target = next((p, t) for t in row.targets for p in PRINCIPALS if row.expect(p, t) == ALLOW)
        path = template.format(**row.params(world, target))
        for limit, ok in ((0, False), (101, False), (100_000, False), (-1, False), (100, True), (1, True)):
            savepoint = await connection.begin_nested()
            try:
                response = await client.get(path, params={"limit": limit}, headers=world.headers[principal])
            finally:
                await savepoint.rollback()
            refused = response.status_code in (400, 422) and response.headers["content-type"].startswith(
                "application/problem+json"
            )
            if ok == refused or response.status_code >= 500:
                wrong.append(f"{template} limit={limit}: {response.status_code}")
    assert wrong == []
