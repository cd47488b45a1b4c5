"""Assemble a worker from settings (the ``phr worker`` command) and run it until SIGTERM."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import signal
from typing import Any

from core.db import Database, is_connection_failure
from core.logging import get_logger
from core.settings import Settings
from notifications.circuit import CircuitBreaker
from notifications.devices import DeviceService
from notifications.dispatcher import Dispatcher
from notifications.push import PushSender, build_push_sender
from notifications.reminders import sweep_periodically
from notifications.sms import GuardedSmsSender, SmsSender, build_sms_sender
from notifications.worker import PgSmsBudget, Worker

log = get_logger("phr.worker")
PRUNE_EVERY = dt.timedelta(hours=6)


def build_push(settings: Settings) -> PushSender:
    return build_push_sender(
        settings.push_sender,
        credentials_file=settings.fcm_credentials_file,
        project_id=settings.fcm_project_id,
        fcm_url=settings.fcm_url,
    )


def build_sms(settings: Settings, database: Database) -> SmsSender:
    options: dict[str, Any] = {}
    if settings.sms_sender == "http":
        options = {
            "url": settings.sms_gateway_url,
            "brandname": settings.sms_brandname,
            "auth_header": settings.sms_gateway_auth_header if settings.sms_gateway_auth_value else None,
            "auth_value": settings.sms_gateway_auth_value or None,
        }
        if settings.sms_gateway_body_template:
            options["body_template"] = json.loads(settings.sms_gateway_body_template)
    return GuardedSmsSender(
        build_sms_sender(settings.sms_sender, **options),
        budget=PgSmsBudget(database, settings.sms_daily_limit),
        breaker=CircuitBreaker(failure_threshold=5, cooldown_seconds=30),
    )


def build_worker(settings: Settings, database: Database, **overrides: Any) -> Worker:
    dispatcher = Dispatcher(
        push=build_push(settings),
        sms=build_sms(settings, database),
        secret=settings.secret_key,
        rate_per_second=settings.push_rate_per_second,
    )
    options: dict[str, Any] = {
        "batch_size": settings.worker_batch_size,
        "lease": dt.timedelta(seconds=settings.worker_lease_seconds),
        "poll_interval": settings.worker_poll_seconds,
        "campaign_pause_after": settings.campaign_pause_after_invalid,
    } | overrides
    return Worker(database, dispatcher, **options)


async def prune_devices_periodically(database: Database, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            async with database.transaction() as session:
                pruned = await DeviceService(session).prune_stale()
        except Exception as exc:
            if not is_connection_failure(exc):
                raise
            # The database is down (at start-up, say): this is housekeeping, the next round will do it.
            log.warning("device pruning skipped: database unavailable", error=type(exc).__name__)
            pruned = 0
        if pruned:
            log.info("stale devices pruned", count=pruned)
        try:
            await asyncio.wait_for(stop.wait(), timeout=PRUNE_EVERY.total_seconds())
        except TimeoutError:
            continue


async def run_worker(settings: Settings) -> int:
    """The ``phr worker`` process: SIGTERM/SIGINT finish (or hand back) the batch in flight, then exit."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    database = Database.from_settings(settings)
    worker = build_worker(settings, database)
    log.info("worker started", push=worker.dispatcher.push.name, sms=worker.dispatcher.sms.name)
    pruner = asyncio.create_task(prune_devices_periodically(database, stop))
    reminders = asyncio.create_task(sweep_periodically(database, settings, stop))
    try:
        await worker.run(stop)
    finally:
        stop.set()
        await pruner
        await reminders
        await worker.dispatcher.push.aclose()
        await worker.dispatcher.sms.aclose()
        await database.dispose()
        log.info("worker stopped", delivered=worker.delivered)
    return 0
