from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Invalid
from core.ids import uuid7
from core.models import Account, Device, Platform
from notifications.devices import STALE_AFTER, DeviceService
from notifications.fcm_client import PushMessage
from notifications.push import LogPushSender

NOW = dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC)


async def test_stale_devices_are_pruned_and_fresh_ones_kept(session: AsyncSession) -> None:
    account = Account(id=uuid7(), phone="+84905300001")
    session.add(account)
    await session.flush()
    service = DeviceService(session)
    for name, seen in [
        ("fresh-device-1", NOW),
        ("edge-device-1", NOW - STALE_AFTER),
        ("stale-device-1", NOW - STALE_AFTER - dt.timedelta(seconds=1)),
    ]:
        await service.register(
            account.id,
            name,
            token=f"token-{name}-{'x' * 20}",
            platform=Platform.android,
            locale="vi",
            app_version=None,
            now=seen,
        )
    assert await service.prune_stale(now=NOW) == 1
    left = set((await session.scalars(select(Device.installation_id))).all())
    assert left == {"fresh-device-1", "edge-device-1"}


async def test_installation_ids_are_checked_in_the_service(session: AsyncSession) -> None:
    with pytest.raises(Invalid) as refused:
        await DeviceService(session).register(
            uuid7(), "no spaces!", token="t" * 30, platform=Platform.ios, locale="vi", app_version=None
        )
    assert refused.value.field == "installation_id"


async def test_the_log_sender_sends_nothing_and_logs_no_token(capsys: pytest.CaptureFixture[str]) -> None:
    from core.logging import configure_logging

    configure_logging("INFO", "json")
    message = PushMessage(
        token="secret-registration-token-123",
        title="t",
        body="b",
        data={"notification_id": "n-1", "kind": "checkup"},
        collapse_id="n-1",
        ttl_seconds=60,
        platform="android",
    )
    [result] = await LogPushSender().send([message])
    assert result.ok
    err = capsys.readouterr().err
    assert "n-1" in err
    assert "secret-registration-token-123" not in err
