"""``/v1/notifications``: the in-app inbox. A push only says "open the app"; this is what the app shows."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import AccountPrincipal
from api.citizen.schemas import NotificationOut, NotificationPage
from api.errors import preferred_language
from core.pagination import MAX_PAGE
from notifications.inbox import InboxItem, InboxService

PageSize = Annotated[int, msgspec.Meta(ge=1, le=MAX_PAGE)]
Cursor = Annotated[str, msgspec.Meta(max_length=200)]


def _out(item: InboxItem) -> NotificationOut:
    return NotificationOut(
        id=item.id,
        kind=item.kind,
        title=item.title,
        body=item.body,
        citizen_id=item.citizen_id,
        created_at=item.created_at,
        read_at=item.read_at,
    )


class InboxController(Controller):
    path = "/notifications"
    tags = ["notifications"]  # noqa: RUF012 - Litestar reads the class attribute

    @get("/", summary="The account's notifications, newest first (cursor pagination)")
    async def list_notifications(
        self,
        request: Request[Any, Any, Any],
        account: NamedDependency[AccountPrincipal],
        db_session: NamedDependency[AsyncSession],
        limit: FromQuery[PageSize] = 20,
        cursor: FromQuery[Cursor | None] = None,
    ) -> NotificationPage:
        page = await InboxService(db_session).list_for_account(
            account.account_id,
            lang=preferred_language(request.headers.get("accept-language")),
            limit=limit,
            cursor=cursor,
        )
        return NotificationPage(items=[_out(i) for i in page.items], next_cursor=page.next_cursor)

    @post("/{notification_id:uuid}/read", summary="Mark a notification read", status_code=200)
    async def mark_read(
        self,
        request: Request[Any, Any, Any],
        notification_id: FromPath[uuid.UUID],
        account: NamedDependency[AccountPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> NotificationOut:
        item = await InboxService(db_session).mark_read(
            account.account_id, notification_id, lang=preferred_language(request.headers.get("accept-language"))
        )
        return _out(item)
