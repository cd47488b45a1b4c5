"""The in-app inbox: the account's push notifications, newest first. A failed push loses nothing."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.campaigns import inbox_texts
from core.errors import NotFound
from core.messages import get_template
from core.models import Channel, DeliveryStatus, Notification
from core.pagination import fetch_page


@dataclass(frozen=True, slots=True)
class InboxItem:
    id: uuid.UUID
    kind: str
    title: str
    body: str
    citizen_id: uuid.UUID | None
    created_at: dt.datetime
    read_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class InboxPage:
    items: list[InboxItem]
    next_cursor: str | None


class InboxService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _visible(self, account_id: uuid.UUID, now: dt.datetime) -> list[ColumnElement[bool]]:
        # Scheduled reminders appear when they are due; cancelled ones (an appointment that went away) never.
        return [
            Notification.account_id == account_id,
            Notification.channel == Channel.push,
            Notification.not_before <= now,
            Notification.status != DeliveryStatus.cancelled,
        ]

    async def list_for_account(
        self,
        account_id: uuid.UUID,
        *,
        lang: str,
        limit: int = 20,
        cursor: str | None = None,
        now: dt.datetime | None = None,
    ) -> InboxPage:
        now = now or dt.datetime.now(dt.UTC)
        query = select(Notification).where(*self._visible(account_id, now))
        rows, next_cursor = await fetch_page(
            self.session, query, Notification.created_at, Notification.id, limit=limit, cursor=cursor
        )
        texts = await self._campaign_texts(rows, lang)
        items = [self._item(row, lang, texts.get(row.id)) for row in rows]
        return InboxPage(items=items, next_cursor=next_cursor)

    async def mark_read(
        self, account_id: uuid.UUID, notification_id: uuid.UUID, *, lang: str, now: dt.datetime | None = None
    ) -> InboxItem:
        now = now or dt.datetime.now(dt.UTC)
        # COALESCE keeps the first read time when the app marks an item read twice.
        stmt = (
            update(Notification)
            .where(Notification.id == notification_id, *self._visible(account_id, now))
            .values(read_at=func.coalesce(Notification.read_at, now))
            .returning(Notification)
        )
        row = (await self.session.scalars(stmt, execution_options={"populate_existing": True})).one_or_none()
        if row is None:
            raise NotFound("no such notification", code="notification_not_found")
        texts = await self._campaign_texts([row], lang)
        return self._item(row, lang, texts.get(row.id))

    async def _campaign_texts(self, rows: list[Notification], lang: str) -> dict[uuid.UUID, str]:
        # A campaign's text is the station's own, kept once on the campaign rather than on 100,000 rows.
        return await inbox_texts(self.session, [row.id for row in rows if row.campaign_id is not None], lang)

    @staticmethod
    def _item(row: Notification, lang: str, campaign_text: str | None = None) -> InboxItem:
        template = get_template(row.template_key)
        return InboxItem(
            id=row.id,
            kind=row.kind,
            title=template.render_title(lang),
            body=campaign_text if campaign_text is not None else template.render_detail(lang, row.params),
            citizen_id=row.citizen_id,
            created_at=row.created_at,
            read_at=row.read_at,
        )
