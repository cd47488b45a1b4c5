"""Mass assignment: no write endpoint accepts owner, role, verification, consent or timestamp fields.

Every route of the authorization matrix that takes a JSON object is called, as a principal it lets in, with its
valid body plus one such field at a time. Bodies are msgspec Structs with ``forbid_unknown_fields``, so each call
must be a 400 problem naming the field, and nothing may be stored (each call runs in a savepoint that is rolled
back, and a 2xx would fail the test before that).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core.settings import Settings
from tests.api.test_authorization_matrix import PRINCIPALS, ROWS, build_world

pytestmark = pytest.mark.reliability

# What a caller must never set for itself: ownership, authority, verification, consent, bookkeeping.
FORBIDDEN = {
    "account_id": "00000000-0000-7000-8000-000000000000",
    "author_account_id": "00000000-0000-7000-8000-000000000000",
    "facility_id": "00000000-0000-7000-8000-000000000000",
    "role": "station_admin",
    "scopes": ["his:episodes:write"],
    "verified": True,
    "source": "clinician",
    "status": "active",
    "consent": True,
    "grant_id": "00000000-0000-7000-8000-000000000000",
    "version": 99,
    "created_at": "2020-01-01T00:00:00Z",
    "updated_at": "2020-01-01T00:00:00Z",
    "deleted_at": "2020-01-01T00:00:00Z",
    "id": "00000000-0000-7000-8000-000000000000",
}


async def test_no_write_endpoint_takes_a_field_it_does_not_declare(
    client: httpx.AsyncClient, connection: AsyncConnection, session: AsyncSession, settings: Settings
) -> None:
    world = await build_world(session, settings)
    await session.flush()
    checked = 0
    accepted: list[str] = []
    for (method, template), row in sorted(ROWS.items()):
        if row.body is None:
            continue
        # Anyone the route lets through to its handler: allowed, or turned away there (another's object is a 404,
        # and the body is decoded before the handler runs).
        allowed = [(p, t) for t in row.targets for p in PRINCIPALS if row.expect(p, t) not in (401, 403)]
        if not allowed:
            continue
        principal, target = allowed[0]
        body: Any = row.body(world, target)
        if not isinstance(body, dict):
            continue
        path = template.format(**row.params(world, target))
        for field, value in FORBIDDEN.items():
            if field in body:
                continue  # a declared field of this route (a guardianship names its citizen)
            savepoint = await connection.begin_nested()
            try:
                response = await client.request(
                    method, path, json=body | {field: value}, headers=world.headers[principal]
                )
            finally:
                await savepoint.rollback()
            checked += 1
            problem = response.json() if response.headers.get("content-type", "").endswith("json") else {}
            if response.status_code != 400 or field not in str(problem):
                accepted.append(f"{method} {template} + {field}: {response.status_code}")
    assert checked > 200, "the matrix's write routes were exercised"
    assert accepted == []
