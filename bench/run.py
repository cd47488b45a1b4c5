"""``phr bench run``: start the service like production, run each scenario, write the report.

    PHR_DATA_DIR=/tmp/bench-seed .venv/bin/phr bench run              # every scenario, 15 s per wrk run
    .venv/bin/phr bench run --only record,booking --seconds 10

The database is resolved like every ``phr`` command (embedded in ``PHR_DATA_DIR`` unless ``PHR_DATABASE_URL``)
and must hold a seeded province (``phr bench seed`` first). Scenarios add rows (sessions, bookings, a million
notifications) and leave them: run against a bench database, never a real one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import logging
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench.results import ROOT, load_average, machine_facts, write_report
from bench.scenarios import BenchContext, Figures
from bench.server import BenchServer
from bench.wrk import ensure_wrk
from core.db import Database
from core.settings import Settings

# In the priority order. The module of each is bench/scenarios/<module>.py.
SCENARIOS: dict[str, str] = {
    "record": "record",
    "booking": "booking",
    "campaign": "campaign",
    "otp": "otp",
    "device_key": "device_key",
    "vitals": "vitals",
    "share": "share",
    "his_import": "his_import",
}
NEEDS_HTTP = {"record", "booking", "otp", "device_key", "vitals", "share"}


@dataclass
class RunOptions:
    only: list[str] = field(default_factory=lambda: list(SCENARIOS))
    seconds: int = 15
    connections: int = 64
    workers: int = 2
    campaign_size: int = 1_000_000
    out: Path = ROOT / "bench" / "results"


def load_scenario(name: str) -> Callable[[BenchContext], Awaitable[Figures]] | None:
    try:
        module = importlib.import_module(f"bench.scenarios.{SCENARIOS[name]}")
    except ModuleNotFoundError:
        return None  # not written yet: reported as not run
    runner: Callable[[BenchContext], Awaitable[Figures]] = module.run
    return runner


async def database_facts(settings: Settings) -> tuple[str, int]:
    db = Database.from_settings(settings)
    try:
        async with db.transaction() as session:
            version = await session.scalar(text("SHOW server_version"))
            # The cache PostgreSQL was given: a 3.7 GB province in 128 MB of buffers measures the disk, not us.
            version = f"{version}, shared_buffers {await session.scalar(text('SHOW shared_buffers'))}"
            # The planner's estimate: counting 1.2 M rows exactly takes longer than it tells.
            citizens = await session.scalar(text("SELECT reltuples::bigint FROM pg_class WHERE relname = 'citizens'"))
            if not citizens or citizens < 0:
                citizens = await session.scalar(text("SELECT count(*) FROM (SELECT 1 FROM citizens LIMIT 1000) c"))
    finally:
        await db.dispose()
    return str(version), int(citizens or 0)


async def run_scenarios(ctx: BenchContext, names: list[str], results: dict[str, Any], not_run: list[str]) -> None:
    for name in names:
        scenario = load_scenario(name)
        if scenario is None:
            not_run.append(name)
            continue
        ctx.say(f"— {name}")
        started = time.perf_counter()
        try:
            results[name] = await scenario(ctx)
        except Exception as exc:
            traceback.print_exc()
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
        results[name]["wall_seconds"] = round(time.perf_counter() - started, 1)
        ctx.say(f"  {name}: {results[name].get('headlines', results[name].get('error'))}")


def run_bench(settings: Settings, options: RunOptions, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Everything but resolving the database (the caller's: it owns the embedded server's lifetime)."""
    assert settings.database_url is not None
    # One line per request from our own probes would bury the scenario lines.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    unknown = [n for n in options.only if n not in SCENARIOS]
    if unknown:
        raise ValueError(f"unknown scenarios: {', '.join(unknown)} (known: {', '.join(SCENARIOS)})")
    version, citizens = asyncio.run(database_facts(settings))
    if citizens == 0:
        raise RuntimeError("the database has no citizens: run `phr bench seed` first")
    wrk = ensure_wrk(say) if NEEDS_HTTP & set(options.only) else None
    report: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine_facts(version),
        "options": {
            "seconds": options.seconds,
            "connections": options.connections,
            "workers": options.workers,
            "campaign_size": options.campaign_size,
            "citizens_in_database": citizens,
        },
        "load_before": load_average(),
        "scenarios": {},
        "not_run": [],
    }
    with tempfile.TemporaryDirectory(prefix="phr-bench-") as folder:
        server = BenchServer(settings.database_url, settings.data_dir, workers=options.workers)
        if NEEDS_HTTP & set(options.only):
            server.start()
        try:
            asyncio.run(_run(settings, options, server, wrk, Path(folder), report, say))
        finally:
            server.stop()
    report["load_after"] = load_average()
    json_path, md_path = write_report(report, options.out)
    say(f"report: {json_path.relative_to(ROOT) if json_path.is_relative_to(ROOT) else json_path}, {md_path.name}")
    return report


async def _run(
    settings: Settings,
    options: RunOptions,
    server: BenchServer,
    wrk: str | None,
    workdir: Path,
    report: dict[str, Any],
    say: Callable[[str], None],
) -> None:
    db = Database.from_settings(settings)
    ctx = BenchContext(
        settings=settings,
        db=db,
        server_url=server.url if server.process is not None else None,
        wrk=wrk,
        seconds=options.seconds,
        connections=options.connections,
        workdir=workdir,
        say=say,
        campaign_size=options.campaign_size,
    )
    try:
        await run_scenarios(ctx, options.only, report["scenarios"], report["not_run"])
    finally:
        await db.dispose()
