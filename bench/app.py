"""The app the benchmarks serve: the production app plus one bench-only baseline route.

``GET /bench/raw-record/{citizen_id}`` answers the same rows as the record summary (the citizen, each one-row
section, the newest 50 items of each list section: ``RecordService.summary``'s SQL, imported from
``core.records.reading``, in the same order) with raw asyncpg and ``msgspec`` JSON: no session check, no access
check, no transaction, no completeness. It is the floor
the record route is measured against (../shared/BENCHMARKS.md). It is mounted here only: ``api/app.py`` never
imports ``bench/``, and the production image does not contain it.

    python -m bench.app      # granian, PHR_WORKERS processes, settings from PHR_* like `phr serve`
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import msgspec
from litestar import Litestar, Response, get
from litestar.params import FromPath

from api.app import create_app
from core.logging import configure_logging
from core.records.reading import CITIZEN_READ, SECTION_READS
from core.settings import Settings, load_settings


def summary_queries() -> list[tuple[str, str, bool]]:
    """(section, SQL, single) for every section: the very statements ``RecordService.summary`` sends."""
    return [(name, read.sql, read.single) for name, read in SECTION_READS.items()]


QUERIES = summary_queries()


class RawRecord:
    """One asyncpg pool per granian worker process, opened on the first request (the app's loop owns it)."""

    def __init__(self, dsn: str, size: int) -> None:
        # SQLAlchemy's driver suffix is not part of a libpq URL.
        self.dsn = dsn.replace("postgresql+asyncpg://", "postgresql://", 1)
        self.size = size
        self.pool: asyncpg.Pool | None = None
        self.lock = asyncio.Lock()

    async def acquire_pool(self) -> asyncpg.Pool:
        if self.pool is None:
            async with self.lock:
                if self.pool is None:
                    self.pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=self.size)
        return self.pool

    async def read(self, citizen_id: uuid.UUID) -> dict[str, Any] | None:
        pool = await self.acquire_pool()
        async with pool.acquire() as conn:
            citizen = await conn.fetchrow(CITIZEN_READ.sql, citizen_id)
            if citizen is None:
                return None
            body: dict[str, Any] = {"administrative": dict(citizen), "sections": {}}
            for name, sql, single in QUERIES:
                if single:
                    row = await conn.fetchrow(sql, citizen_id)
                    body["sections"][name] = dict(row) if row is not None else None
                else:
                    body["sections"][name] = [dict(r) for r in await conn.fetch(sql, citizen_id)]
            return body

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()


def raw_record_route(raw: RawRecord) -> Any:
    @get("/bench/raw-record/{citizen_id:uuid}", include_in_schema=False)
    async def raw_record(citizen_id: FromPath[uuid.UUID]) -> Response[bytes]:
        body = await raw.read(citizen_id)
        if body is None:
            return Response(b'{"detail":"no such citizen"}', status_code=404, media_type="application/json")
        return Response(msgspec.json.encode(body), media_type="application/json")

    return raw_record


def create_bench_app(settings: Settings) -> Litestar:
    app = create_app(settings)
    assert settings.database_url is not None, "the bench app runs against a resolved database URL"
    # The same pool size the ORM engine may use (pool + overflow), so neither side gets more connections.
    raw = RawRecord(settings.database_url, settings.db_pool_size + settings.db_max_overflow)
    app.register(raw_record_route(raw))
    app.on_shutdown.append(raw.close)
    return app


def create_bench_app_from_env() -> Litestar:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_bench_app(settings)


def serve() -> None:
    from granian import Granian
    from granian.constants import Interfaces

    settings = load_settings()
    Granian(
        target="bench.app:create_bench_app_from_env",
        factory=True,
        interface=Interfaces.ASGI,
        address=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_access=False,
    ).serve()


if __name__ == "__main__":
    serve()
