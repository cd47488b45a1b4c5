"""The ``phr`` command: serve, worker, migrate, seed-demo, machine-client.

This is a composition root (like ``api/app.py``): it turns settings into a running database, app or worker.
With no ``PHR_DATABASE_URL`` every command starts the embedded PostgreSQL in ``PHR_DATA_DIR/pg`` first.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
from collections.abc import Sequence

import msgspec

from core.db import Database, EmbeddedPostgres, start_embedded_postgres
from core.demo import demo_logins, seed_demo
from core.errors import DomainError
from core.identity.machines import MachineClientService
from core.logging import configure_logging, get_logger
from core.migrations import downgrade, upgrade
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
