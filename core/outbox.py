"""Writing notifications: ``notify`` for one, ``notify_many`` for a list, ``notify_from_select`` for a cohort.

A notification is a row written in the caller's transaction (STYLE rule 10), so it exists exactly when the thing
it announces does. The worker (``notifications/worker.py``) delivers it. Inserting is idempotent on
``dedupe_key``: asking twice for the same reminder is harmless.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, func, literal, select
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.crypto import seal
from core.errors import Invalid
from core.ids import uuid7
from core.messages import MAX_PARAM_LENGTH, Template, get_template
from core.models import Channel, DeliveryStatus, Notification

# Vietnam has kept UTC+7 without daylight saving since 1975; a fixed offset needs no tz database in the image.
VN_TZ = dt.timezone(dt.timedelta(hours=7), "ICT")


def local_date(moment: dt.datetime) -> dt.date:
    """The calendar day in Vietnam: birthdays, appointment days and daily budgets turn over at local midnight."""
    return moment.astimezone(VN_TZ).date()


QUIET_START = dt.time(21, 0)
QUIET_END = dt.time(7, 0)
OUTBOX_CHANNEL = "phr_outbox"  # LISTEN/NOTIFY channel the worker wakes on
SEAL_PURPOSE = "outbox-sealed-params"
_CHUNK = 1000  # rows per INSERT: stays far below PostgreSQL's 32,767 bind parameters


def after_quiet_hours(when: dt.datetime) -> dt.datetime:
    """The first moment at or after ``when`` outside 21:00–07:00 Asia/Ho_Chi_Minh."""
    local = when.astimezone(VN_TZ)
    if local.time() >= QUIET_START:
        local = dt.datetime.combine(local.date() + dt.timedelta(days=1), QUIET_END, VN_TZ)
    elif local.time() < QUIET_END:
        local = dt.datetime.combine(local.date(), QUIET_END, VN_TZ)
    else:
        return when
    return local.astimezone(dt.UTC)


@dataclass(frozen=True, slots=True)
class Draft:
    """What a caller wants sent. Recipients: an account (push or SMS) or, for SMS only, a bare phone number."""

    template: str
    dedupe_key: str
    account_id: uuid.UUID | None = None
    phone: str | None = None
    citizen_id: uuid.UUID | None = None
    params: dict[str, Any] = field(default_factory=dict)
    sealed: dict[str, str] = field(default_factory=dict)  # e.g. {"code": "123456"} for an OTP SMS
    not_before: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    campaign_id: uuid.UUID | None = None


def schedule(
    template: Template, now: dt.datetime, not_before: dt.datetime | None, expires_at: dt.datetime | None
) -> tuple[dt.datetime, dt.datetime]:
    start = max(not_before or now, now)
    if not template.urgent:
        start = after_quiet_hours(start)
    end = expires_at or start + template.ttl
    if end <= start:
        # Deferred by quiet hours past its own expiry (an evening reminder for the same evening): not worth sending.
        raise Invalid("notification would expire before it may be sent", code="notification_expires_too_soon")
    return start, end


def _check_params(template: Template, params: dict[str, Any], sealed: dict[str, str]) -> None:
    unknown = set(params) - template.params
    if unknown:
        raise Invalid(f"template {template.key} takes no parameters {sorted(unknown)}", code="template_params")
    for value in params.values():
        if not isinstance(value, str | int | float | bool) or (
            isinstance(value, str) and len(value) > MAX_PARAM_LENGTH
        ):
            raise Invalid(f"template {template.key} parameters must be short scalars", code="template_params")
    if set(sealed) != set(template.sealed_params):
        raise Invalid(
            f"template {template.key} needs sealed parameters {sorted(template.sealed_params)}", code="template_params"
        )


def _row(draft: Draft, now: dt.datetime, secret: str | None) -> dict[str, Any]:
    template = get_template(draft.template)
    _check_params(template, draft.params, draft.sealed)
    if template.channel == "push" and draft.account_id is None:
        raise Invalid("a push needs an account", code="push_needs_account")
    if draft.account_id is None and draft.phone is None:
        raise Invalid("a notification needs a recipient", code="no_recipient")
    sealed_blob = None
    if draft.sealed:
        if not secret:
            raise ValueError("sealed parameters need the service secret")
        sealed_blob = seal(secret, SEAL_PURPOSE, json.dumps(draft.sealed).encode())
    not_before, expires_at = schedule(template, now, draft.not_before, draft.expires_at)
    return {
        "id": uuid7(),
        "account_id": draft.account_id,
        "phone": draft.phone,
        "citizen_id": draft.citizen_id,
        "channel": Channel(template.channel),
        "kind": template.kind,
        "template_key": template.key,
        "params": draft.params,
        "sealed": sealed_blob,
        "dedupe_key": draft.dedupe_key,
        "not_before": not_before,
        "expires_at": expires_at,
        "next_attempt_at": not_before,
        "status": DeliveryStatus.pending,
        "attempts": 0,
        "campaign_id": draft.campaign_id,
    }


async def notify(
    session: AsyncSession, draft: Draft, *, secret: str | None = None, now: dt.datetime | None = None
) -> uuid.UUID | None:
    """Queue one notification; returns its id, or None if one with the same dedupe_key already exists."""
    ids = await notify_many(session, [draft], secret=secret, now=now)
    return ids[0] if ids else None


async def notify_many(
    session: AsyncSession, drafts: Sequence[Draft], *, secret: str | None = None, now: dt.datetime | None = None
) -> list[uuid.UUID]:
    """Queue several notifications in the caller's transaction; duplicates (by dedupe_key) are skipped."""
    now = now or dt.datetime.now(dt.UTC)
    rows = [_row(draft, now, secret) for draft in drafts]
    created: list[uuid.UUID] = []
    for start in range(0, len(rows), _CHUNK):
        stmt = (
            insert(Notification)
            .values(rows[start : start + _CHUNK])
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(Notification.id)
        )
        created += list((await session.scalars(stmt)).all())
    if any(row["not_before"] <= now for row in rows) and created:
        await wake_workers(session)
    return created


async def notify_from_select(
    session: AsyncSession,
    *,
    template: str,
    recipients: Select[Any],
    params: dict[str, Any] | None = None,
    not_before: dt.datetime | None = None,
    expires_at: dt.datetime | None = None,
    campaign_id: uuid.UUID | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Materialise one notification per row of ``recipients`` with a single ``INSERT … SELECT``.

    ``recipients`` must select three columns, labelled ``account_id``, ``citizen_id`` and ``dedupe_key``, and may
    select a fourth, ``params`` (JSONB), for per-row parameters (a reminder's due date) instead of ``params``. This
    is the campaign and reminder path: a million rows are written without a million round trips.
    """
    spec = get_template(template)
    params = params or {}
    _check_params(spec, params, {})
    if spec.channel != "push":
        raise Invalid("bulk notifications are pushes", code="bulk_push_only")
    now = now or dt.datetime.now(dt.UTC)
    start, end = schedule(spec, now, not_before, expires_at)
    source = recipients.subquery()
    rows = select(
        # Explicit: left to SQLAlchemy, the Python-side default would be evaluated once and shared by every row.
        func.phr_uuid7(),
        source.c.account_id,
        source.c.citizen_id,
        literal(Channel.push.value).cast(Notification.__table__.c.channel.type),
        literal(spec.kind),
        literal(spec.key),
        source.c.params if "params" in source.c else literal(json.dumps(params)).cast(JSONB),
        source.c.dedupe_key,
        literal(start),
        literal(end),
        literal(start),
        literal(campaign_id),
    )
    stmt = (
        insert(Notification)
        .from_select(
            [
                "id",
                "account_id",
                "citizen_id",
                "channel",
                "kind",
                "template_key",
                "params",
                "dedupe_key",
                "not_before",
                "expires_at",
                "next_attempt_at",
                "campaign_id",
            ],
            rows,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
    )
    result = await session.execute(stmt)
    count: int = result.rowcount  # type: ignore[attr-defined]
    if count and start <= now:
        await wake_workers(session)
    return count


async def wake_workers(session: AsyncSession) -> None:
    """NOTIFY is transactional: workers wake when (and only if) the caller's transaction commits."""
    await session.execute(select(func.pg_notify(OUTBOX_CHANNEL, "")))
