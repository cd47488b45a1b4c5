"""Push senders: ``fcm`` (firebase-admin, production) and ``log`` (development default, sends nothing)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from core.logging import get_logger
from notifications.fcm_client import (
    MAX_BATCH,
    PushMessage,
    PushResult,
    close_app,
    create_app_from_service_account,
    create_app_with_token,
    send_batch,
)

log = get_logger("phr.push")


class PushSender(Protocol):
    name: str

    async def send(self, messages: Sequence[PushMessage]) -> list[PushResult]: ...

    async def refresh_credentials(self) -> None: ...

    async def aclose(self) -> None: ...


class LogPushSender:
    """Logs that a push would go out (id and kind only: never the token) and reports success."""

    name = "log"

    async def send(self, messages: Sequence[PushMessage]) -> list[PushResult]:
        for message in messages:
            log.info(
                "push (log sender, nothing sent)",
                notification_id=message.data.get("notification_id"),
                kind=message.data.get("kind"),
                platform=message.platform,
            )
        return [PushResult(True, f"log-{m.collapse_id}", None, None, 200) for m in messages]

    async def refresh_credentials(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


class FcmPushSender:
    """firebase-admin's ``send_each_async`` in batches of ≤ 500; retries are the worker's business."""

    name = "fcm"

    def __init__(self, make_app: Callable[[], Any]) -> None:
        self._make_app = make_app
        self._app: Any = None

    async def _current(self) -> Any:
        if self._app is None:
            # Creating an App builds HTTP clients and may read a key file: keep it off the event loop.
            self._app = await asyncio.to_thread(self._make_app)
        return self._app

    async def send(self, messages: Sequence[PushMessage]) -> list[PushResult]:
        app = await self._current()
        results: list[PushResult] = []
        for start in range(0, len(messages), MAX_BATCH):
            results += await send_batch(app, messages[start : start + MAX_BATCH])
        return results

    async def refresh_credentials(self) -> None:
        """A fresh App fetches a fresh OAuth token (UNAUTHENTICATED / PERMISSION_DENIED: refresh once)."""
        old, self._app = self._app, None
        if old is not None:
            await close_app(old)
        await self._current()

    async def aclose(self) -> None:
        if self._app is not None:
            await close_app(self._app)
            self._app = None


def build_push_sender(
    kind: str,
    *,
    credentials_file: str | None = None,
    project_id: str | None = None,
    fcm_url: str | None = None,
) -> PushSender:
    if kind == "log":
        return LogPushSender()
    if kind != "fcm":
        raise ValueError("push sender must be 'log' or 'fcm'")
    if credentials_file:
        path = credentials_file
        return FcmPushSender(lambda: create_app_from_service_account(path, fcm_url=fcm_url))
    if fcm_url:
        # Tests and benchmarks: the fake FCM on loopback accepts any bearer token.
        url, project = fcm_url, project_id or "phr-test"
        return FcmPushSender(lambda: create_app_with_token(project_id=project, fcm_url=url))
    raise ValueError("the fcm push sender needs a service-account file")
