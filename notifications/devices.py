"""Devices that receive pushes: registration, removal, last-seen refresh and pruning of stale tokens."""

from __future__ import annotations

import datetime as dt
import re
import uuid

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Invalid, NotFound
from core.ids import uuid7
from core.models import Device, Platform

# FCM treats a token as stale after about a month without the app connecting, and Android expires tokens after
# 270 days of inactivity. An app refreshes last_seen_at on every start, so 60 days of silence means the app is
# gone or unused; its token would only produce UNREGISTERED errors.
STALE_AFTER = dt.timedelta(days=60)
INSTALLATION_ID = re.compile(r"[A-Za-z0-9._:-]{8,100}")


def check_installation_id(installation_id: str) -> str:
    if not INSTALLATION_ID.fullmatch(installation_id):
        raise Invalid(
            "installation ids are 8–100 letters, digits or . _ : -", code="bad_installation_id", field="installation_id"
        )
    return installation_id


class DeviceService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def register(
        self,
        account_id: uuid.UUID,
        installation_id: str,
        *,
        token: str,
        platform: Platform,
        locale: str,
        app_version: str | None,
        now: dt.datetime | None = None,
    ) -> Device:
        """Bind an installation to the calling account (taking it over from any previous account)."""
        check_installation_id(installation_id)
        now = now or dt.datetime.now(dt.UTC)
        # A token identifies one app instance: if it shows up under another installation id, the old row is stale.
        await self.session.execute(
            delete(Device).where(Device.token == token, Device.installation_id != installation_id)
        )
        values = {
            "account_id": account_id,
            "token": token,
            "platform": platform,
            "locale": locale,
            "app_version": app_version,
            "last_seen_at": now,
        }
        stmt = (
            insert(Device)
            .values(id=uuid7(), installation_id=installation_id, **values)
            .on_conflict_do_update(index_elements=[Device.installation_id], set_=values)
            .returning(Device)
        )
        device: Device = (await self.session.scalars(stmt, execution_options={"populate_existing": True})).one()
        return device

    async def unregister(self, account_id: uuid.UUID, installation_id: str) -> None:
        result = await self.session.execute(
            delete(Device).where(Device.account_id == account_id, Device.installation_id == installation_id)
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound("no such device", code="device_not_found")

    async def list_for_account(self, account_id: uuid.UUID) -> list[Device]:
        found = await self.session.scalars(
            select(Device).where(Device.account_id == account_id).order_by(Device.created_at)
        )
        return list(found.all())

    async def prune_stale(self, now: dt.datetime | None = None) -> int:
        now = now or dt.datetime.now(dt.UTC)
        result = await self.session.execute(delete(Device).where(Device.last_seen_at < now - STALE_AFTER))
        pruned: int = result.rowcount  # type: ignore[attr-defined]
        return pruned
