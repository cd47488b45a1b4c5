"""The ``phr`` command: serve, worker, migrate, seed-demo, machine-client, import, bench seed/run/profile.

This is a composition root (like ``api/app.py``): it turns settings into a running database, app or worker.
With no ``PHR_DATABASE_URL`` every command starts the embedded PostgreSQL in ``PHR_DATA_DIR/pg`` first.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import msgspec

from core.db import Database, EmbeddedPostgres, start_embedded_postgres
from core.demo import demo_logins, seed_demo
from core.errors import DomainError
from core.identity.machines import MachineClientService
from core.interop.episodes import Client, HisImportService
from core.interop.population import PopulationReport, RowIssue, import_population
from core.interop.reports import ImportTotals
from core.interop.xml130 import MAX_FILE_BYTES
from core.logging import configure_logging, get_logger
from core.migrations import downgrade, upgrade
from core.progress import Progress
from core.settings import Settings, SettingsError, load_settings

log = get_logger("phr.cli")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="phr", description="Personal health record service")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP API (embedded database, migrations and demo data by default)")
    serve.add_argument("--no-demo", action="store_true", help="do not seed demo data into an empty embedded database")
    sub.add_parser("worker", help="run the delivery worker (push and SMS from the outbox)")
    migrate = sub.add_parser("migrate", help="apply database migrations")
    migrate.add_argument("--revision", default="head", help="target revision (default: head)")
    migrate.add_argument("--down", action="store_true", help="downgrade to --revision instead (e.g. base)")
    sub.add_parser("seed-demo", help="insert the made-up Quảng Ngãi demo data if it is not there")
    reminders = sub.add_parser("reminders", help="run today's reminder sweep now (the worker runs it daily)")
    reminders.add_argument(
        "--again", action="store_true", help="run even if today's sweep already ran (nothing is sent twice)"
    )
    add_machine_client_parser(sub)
    add_import_parser(sub)
    add_bench_parser(sub)
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"phr: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)

    if args.command == "serve":
        return serve_command(settings, seed=not args.no_demo)
    if args.command == "worker":
        settings, _server = resolve_database(settings)
        from notifications.runner import run_worker

        return asyncio.run(run_worker(settings))
    if args.command == "migrate":
        settings, _server = resolve_database(settings)
        asyncio.run(migrate_command(settings, args.revision, down=args.down))
        return 0
    if args.command == "seed-demo":
        settings, _server = resolve_database(settings)
        asyncio.run(migrate_command(settings, "head"))
        asyncio.run(seed_command(settings))
        return 0
    if args.command == "reminders":
        settings, _server = resolve_database(settings)
        return asyncio.run(reminders_command(settings, again=args.again))
    if args.command == "machine-client":
        settings, _server = resolve_database(settings)
        return asyncio.run(machine_client_create_command(settings, args))
    if args.command == "import" and args.source == "population":
        settings, _server = resolve_database(settings)
        return population_import_command(settings, args)
    if args.command == "import" and args.source == "his":
        settings, _server = resolve_database(settings)
        return his_import_command(settings, args.directory, progress=not args.no_progress)
    if args.command == "bench" and args.action == "run":
        return bench_run_command(settings, args)
    if args.command == "bench" and args.action == "profile":
        return bench_profile_command(settings, args)
    if args.command == "bench":
        return bench_seed_command(settings, args)
    return 2  # pragma: no cover - argparse rejects unknown commands


def resolve_database(settings: Settings) -> tuple[Settings, EmbeddedPostgres | None]:
    """Start the embedded server when no URL is configured; the returned handle keeps it alive."""
    if settings.database_url is not None:
        return settings, None
    server = start_embedded_postgres(settings.pg_data_dir)
    return msgspec.structs.replace(settings, database_url=server.url()), server


async def migrate_command(settings: Settings, revision: str, *, down: bool = False) -> None:
    db = Database.from_settings(settings)
    try:
        await (downgrade(db.engine, revision) if down else upgrade(db.engine, revision))
    finally:
        await db.dispose()
    log.info("migrations applied", revision=revision, direction="down" if down else "up")


async def seed_command(settings: Settings) -> bool:
    db = Database.from_settings(settings)
    try:
        async with db.transaction() as session:
            summary = await seed_demo(session)
    finally:
        await db.dispose()
    if summary is None:
        log.info("demo data already present")
        return False
    log.info("demo data seeded", citizens=summary.citizens, households=summary.households)
    return True


async def reminders_command(settings: Settings, *, again: bool) -> int:
    from notifications.reminders import SweepReport, run_daily, sweep

    db = Database.from_settings(settings)
    report: SweepReport | None
    try:
        if again:
            report = await sweep(db, settings, now=dt.datetime.now(dt.UTC))
        else:
            report = await run_daily(db, settings)
    finally:
        await db.dispose()
    if report is None:
        print("phr: today's sweep already ran or is running on a worker (use --again to run it anyway)")
        return 0
    print("phr: reminders queued " + ", ".join(f"{key}={value}" for key, value in report.counts().items()))
    return 0


def add_machine_client_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    machine = sub.add_parser("machine-client", help="manage machine clients (HIS, immunization system)")
    actions = machine.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="register a client; its secret is printed once")
    create.add_argument("--name", required=True, help="who the client is, e.g. 'HIS Bệnh viện Đa khoa tỉnh'")
    create.add_argument("--client-id", required=True, help="3–80 of A–Z a–z 0–9 . _ -")
    create.add_argument("--scopes", required=True, help='space-separated, e.g. "his:episodes:write"')
    create.add_argument("--facility-code", help="the facility (MA_CSKCB) whose data the client sends, e.g. 51001")


async def machine_client_create_command(settings: Settings, args: argparse.Namespace) -> int:
    db = Database.from_settings(settings)
    try:
        async with db.transaction() as session:
            created = await MachineClientService(session, settings).create(
                name=args.name, client_id=args.client_id, scopes=args.scopes.split(), facility_code=args.facility_code
            )
    except DomainError as exc:
        print(f"phr: {exc.detail} ({exc.code})", file=sys.stderr)
        return 1
    finally:
        await db.dispose()
    log.info("machine client created", client_id=created.client.client_id)
    # The one time the secret is shown: on stdout for the operator, never in the log.
    print(f"client_id:     {created.client.client_id}")
    print(f"client_secret: {created.secret}")
    print(f"scopes:        {' '.join(created.client.scopes)}")
    print("Store the secret in the client's configuration now; it cannot be shown again (only a hash is kept).")
    return 0


def add_import_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    imports = sub.add_parser("import", help="bring data in from other systems")
    sources = imports.add_subparsers(dest="source", required=True)  # one subcommand per source system
    population = sources.add_parser(
        "population", help="part A for the whole province from the population register's CSV (see README)"
    )
    population.add_argument("file", type=Path, help="UTF-8 CSV with a header row")
    population.add_argument("--chunk-size", type=int, default=20_000, help="rows per transaction (default 20000)")
    population.add_argument("--rejects", type=Path, help="write every refused or warned line (line,kind,reason) here")
    population.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    his = sources.add_parser("his", help="HIS episodes: every *.xml (XML 130, one episode per file) in a folder")
    his.add_argument("directory", type=Path, help="folder of XML 130 files; each is imported in its own transaction")
    his.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def population_import_command(settings: Settings, args: argparse.Namespace) -> int:
    rejects = args.rejects.open("w", encoding="utf-8", newline="") if args.rejects else None
    progress = Progress(enabled=not args.no_progress)
    progress.start("Nhập dân cư", args.file.stat().st_size if args.file.is_file() else 0)

    def on_issue(issue: RowIssue) -> None:
        if rejects is not None:
            rejects.write(f"{issue.line},{issue.kind},{issue.code}\n")

    async def run() -> PopulationReport:
        db = Database.from_settings(settings)
        try:
            return await import_population(
                db,
                args.file,
                chunk_size=args.chunk_size,
                on_progress=lambda position, _size, rows: progress.update(position, items=rows),
                on_issue=on_issue,
            )
        finally:
            await db.dispose()

    try:
        if rejects is not None:
            rejects.write("line,kind,reason\n")
        report = asyncio.run(run())
    except DomainError as exc:
        print(f"phr: tệp không nhập được: {exc.detail} ({exc.code})", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"phr: không đọc được tệp: {exc.strerror}", file=sys.stderr)
        return 1
    finally:
        progress.done()
        if rejects is not None:
            rejects.close()
    print(population_summary(report))
    return 0


def population_summary(report: PopulationReport, listed: int = 20) -> str:
    """What the operator reads: counts, reasons by code and line numbers, never a value from the file."""
    lines = [
        f"Nhập dân cư: {report.rows:,} dòng trong {report.seconds:.1f} giây ({report.rows_per_second:,.0f} dòng/giây)",
        f"  tạo mới {report.created:,} · cập nhật {report.updated:,} · không đổi {report.unchanged:,} · "
        f"bị từ chối {report.rejected:,} · cảnh báo {report.warnings:,} · "
        f"hộ gia đình mới {report.households_created:,}",
    ]
    for label, counts in (("từ chối", report.rejected_by_reason), ("cảnh báo", report.warnings_by_reason)):
        if counts:
            lines.append(f"  {label}: " + ", ".join(f"{code}={n:,}" for code, n in counts.most_common()))
    if report.issues:
        shown = ", ".join(f"{issue.line}:{issue.code}" for issue in report.issues[:listed])
        more = " …" if len(report.issues) > listed or report.rejected + report.warnings > listed else ""
        lines.append(f"  dòng (số dòng:lý do): {shown}{more}")
    return "\n".join(lines)


def his_import_command(settings: Settings, directory: Path, *, progress: bool = True) -> int:
    """Import every XML 130 file of a folder, one transaction each; print the totals (counts, no content)."""
    if not directory.is_dir():
        print(f"phr: không phải thư mục: {directory}", file=sys.stderr)
        return 2
    files = sorted(path for path in directory.iterdir() if path.suffix.lower() == ".xml" and path.is_file())
    totals = asyncio.run(import_his_files(settings, files, progress=progress))
    print("Nhập hồ sơ HIS (XML 130): " + "; ".join(totals.lines()))
    return 1 if totals.rejected else 0


async def import_his_files(settings: Settings, files: list[Path], *, progress: bool) -> ImportTotals:
    totals = ImportTotals()
    bar = Progress(enabled=progress)
    bar.start("Nhập hồ sơ HIS", len(files), unit="tệp")
    db = Database.from_settings(settings)
    try:
        for done, path in enumerate(files):
            bar.update(done)
            if (await asyncio.to_thread(path.stat)).st_size > MAX_FILE_BYTES:
                totals.reject("file_too_large")  # never read into memory
                continue
            data = await asyncio.to_thread(path.read_bytes)
            try:
                async with db.transaction() as session:
                    totals.add(await HisImportService(session, settings).import_file(data, Client()))
            except DomainError as exc:  # this file is refused; the others go on
                totals.reject(exc.code)
        bar.update(len(files))
        bar.done()
    finally:
        await db.dispose()
    return totals


def add_bench_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench = sub.add_parser("bench", help="benchmark tools (from a source checkout: they live in bench/)")
    actions = bench.add_subparsers(dest="action", required=True)
    seed = actions.add_parser("seed", help="generate a synthetic province into the database (COPY, in minutes)")
    seed.add_argument("--citizens", type=int, default=1_200_000, help="people to generate (default 1,200,000)")
    seed.add_argument("--seed", type=int, default=831, help="random seed: the same seed gives the same province")
    seed.add_argument("--today", type=dt.date.fromisoformat, help="the date the data is as of (default: today)")
    seed.add_argument("--slot-days", type=int, default=14, help="days of appointment slots to open (default 14)")
    seed.add_argument("--no-due", action="store_true", help="do not fill immunization_due with the schedule engine")
    seed.add_argument(
        "--force", action="store_true", help="seed even if the database has citizens (adds a province beside them)"
    )
    seed.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    run = actions.add_parser("run", help="serve the API with granian and run the scenarios of BENCHMARKS.md")
    run.add_argument("--only", help="comma-separated scenarios (default: all, in priority order)")
    run.add_argument("--seconds", type=int, default=15, help="length of each wrk run (default 15)")
    run.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    run.add_argument("--workers", type=int, default=2, help="granian worker processes (default 2)")
    run.add_argument("--campaign-size", type=int, default=1_000_000, help="reminders in the campaign scenario")
    run.add_argument("--out", type=Path, help="folder of the report (default bench/results)")
    profile = actions.add_parser("profile", help="profile the record and booking requests in-process (pyinstrument)")
    profile.add_argument("--only", help="comma-separated scenarios: record, booking (default: both)")
    profile.add_argument("--requests", type=int, default=400, help="profiled requests per scenario (default 400)")
    profile.add_argument("--concurrency", type=int, default=8, help="requests in flight at once (default 8)")
    profile.add_argument("--out", type=Path, help="folder of the profiles (default bench/results)")


def bench_missing(exc: ModuleNotFoundError) -> int:
    """The production image has no bench/ folder: say so; any other missing module is a real error."""
    if not (exc.name or "").startswith("bench"):
        raise exc
    print("phr: bench needs a source checkout (the bench/ folder is not installed here)", file=sys.stderr)
    return 2


def bench_run_command(settings: Settings, args: argparse.Namespace) -> int:
    try:
        from bench.run import SCENARIOS, RunOptions, run_bench
    except ModuleNotFoundError as exc:
        return bench_missing(exc)
    options = RunOptions(
        only=args.only.split(",") if args.only else list(SCENARIOS),
        seconds=args.seconds,
        connections=args.connections,
        workers=args.workers,
        campaign_size=args.campaign_size,
    )
    if args.out:
        options.out = args.out
    return run_on_bench_database(settings, lambda ready: run_bench(ready, options))


def bench_profile_command(settings: Settings, args: argparse.Namespace) -> int:
    try:
        from bench.profile import SCENARIOS, ProfileOptions, run_profile
    except ModuleNotFoundError as exc:
        if exc.name == "pyinstrument":  # a dev dependency: not in an install from requirements.lock
            print("phr: bench profile needs pyinstrument (requirements-dev.lock: `make install`)", file=sys.stderr)
            return 2
        return bench_missing(exc)
    options = ProfileOptions(
        only=args.only.split(",") if args.only else list(SCENARIOS),
        requests=args.requests,
        concurrency=args.concurrency,
    )
    if args.out:
        options.out = args.out
    return run_on_bench_database(settings, lambda ready: run_profile(ready, options))


def run_on_bench_database(settings: Settings, tool: Callable[[Settings], object]) -> int:
    """Resolve (start, if embedded) and migrate the bench database, then run ``tool`` on it; a refusal (no
    citizens, an unknown scenario) is one line on stderr and exit 1."""
    settings, _server = resolve_database(settings)
    asyncio.run(migrate_command(settings, "head"))
    try:
        tool(settings)
    except (RuntimeError, ValueError) as exc:
        print(f"phr: {exc}", file=sys.stderr)
        return 1
    return 0


def bench_seed_command(settings: Settings, args: argparse.Namespace) -> int:
    # Imported here: the service never depends on bench/, which the production image does not even contain.
    try:
        from bench.seed import SeedOptions, SeedRefused, describe, seed_province
    except ModuleNotFoundError as exc:
        return bench_missing(exc)
    from core.immunization.service import Programme

    settings, _server = resolve_database(settings)
    asyncio.run(migrate_command(settings, "head"))
    options = SeedOptions(
        citizens=args.citizens,
        seed=args.seed,
        today=args.today,
        slot_days=args.slot_days,
        force=args.force,
        refresh_due=not args.no_due,
        programme=Programme.from_settings(settings),
    )

    async def run() -> str:
        db = Database.from_settings(settings)
        try:
            return describe(await seed_province(db, options, Progress(enabled=not args.no_progress)))
        finally:
            await db.dispose()

    try:
        print(asyncio.run(run()))
    except SeedRefused as exc:
        print(f"phr: {exc}", file=sys.stderr)
        return 1
    return 0


def serve_command(settings: Settings, *, seed: bool) -> int:
    from granian import Granian
    from granian.constants import Interfaces

    embedded = settings.database_url is None
    settings, _server = resolve_database(settings)
    if embedded:
        # Development convenience: a bare machine gets a migrated, seeded database on the first `make run`.
        asyncio.run(migrate_command(settings, "head"))
        if seed:
            asyncio.run(seed_command(settings))
        assert settings.database_url is not None
        # The granian workers build their own Settings from the environment.
        os.environ["PHR_DATABASE_URL"] = settings.database_url
        os.environ["PHR_DATA_DIR"] = str(settings.data_dir)
    print_banner(settings, demo=embedded and seed)
    Granian(
        target="api.app:create_app_from_env",
        factory=True,
        interface=Interfaces.ASGI,
        address=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_access=False,  # access lines would carry paths; our own logs are scrubbed
    ).serve()
    return 0


def print_banner(settings: Settings, *, demo: bool) -> None:
    base = f"http://{settings.host}:{settings.port}"
    lines = [
        "",
        f"PHR is starting on {base}",
        f"  API docs:   {base}/schema",
        f"  OpenAPI:    {base}/schema/openapi.json",
        f"  Readiness:  {base}/health/ready",
    ]
    if demo:
        lines.append("  Demo logins (made-up people):")
        lines += [f"    {what:<55} {how}" for what, how in demo_logins()]
    print("\n".join(lines) + "\n", flush=True)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
