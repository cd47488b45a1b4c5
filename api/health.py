"""Liveness and readiness probes for orchestrators and load balancers."""

from __future__ import annotations

import asyncio

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from sqlalchemy import text

from api.errors import problem_spec
from core.db import Database
from core.errors import Unavailable

READY_TIMEOUT_SECONDS = 2.0


class HealthStatus(msgspec.Struct, omit_defaults=True):
    status: str
    database: str | None = None


class HealthController(Controller):
    path = "/health"
    tags = ["health"]  # noqa: RUF012 - Litestar reads the class attribute

    @get("/live", summary="The process is up", operation_id="healthLive")
    async def live(self) -> HealthStatus:
        return HealthStatus(status="ok")

    @get(
        "/ready",
        summary="The service can reach its database",
        operation_id="healthReady",
        responses={503: problem_spec("The database cannot be reached; retry after the given seconds")},
    )
    async def ready(self, database: NamedDependency[Database]) -> HealthStatus:
        try:
            async with asyncio.timeout(READY_TIMEOUT_SECONDS), database.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:  # any failure to reach the database means "not ready"
            raise Unavailable("database not reachable", retry_after=5, code="database_unreachable") from exc
        return HealthStatus(status="ok", database="ok")
