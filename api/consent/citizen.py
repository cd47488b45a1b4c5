"""The citizen's side of consent: make a QR share, see and end grants, read the access log."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import anyio.to_thread
from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import AccountPrincipal
from api.consent.schemas import (
    AccessEventOut,
    AccessLogPageOut,
    GrantOut,
    GrantPageOut,
    ShareIn,
    ShareOut,
    ShortenIn,
)
from api.errors import problem_spec
from core.consent.grants import GrantService
from core.consent.shares import IssuedShare, ShareService
from core.identity.access import require_access
from core.models import Grant
from core.qr import render_qr_svg
from core.settings import Settings


def grant_out(grant: Grant) -> GrantOut:
    return GrantOut(
        grant_id=grant.id,
        citizen_id=grant.citizen_id,
        sections=list(grant.sections),
        access=grant.access,
        purpose=grant.purpose,
        origin=grant.origin,
        starts_at=grant.starts_at,
        expires_at=grant.expires_at,
        revoked_at=grant.revoked_at,
    )


async def share_out(issued: IssuedShare) -> ShareOut:
    svg = await anyio.to_thread.run_sync(render_qr_svg, issued.payload)  # rendering is CPU work: off the loop
    share = issued.share
    return ShareOut(
        share_id=share.id,
        payload=issued.payload,
        qr_svg=svg,
        redeem_before=share.redeem_before,
        sections=list(share.sections),
        access=share.access,
    )


class ShareController(Controller):
    path = "/citizens/{citizen_id:uuid}/shares"
    tags = ["consent"]  # noqa: RUF012 - Litestar reads the class attribute

    @post(
        "/",
        summary="A QR share: sections, access, duration, purpose, optional passcode",
        responses={422: problem_spec("Sections, access or duration the share may not have")},
    )
    async def create_share(
        self,
        citizen_id: FromPath[uuid.UUID],
        data: JSONBody[ShareIn],
        account: NamedDependency[AccountPrincipal],
        settings: NamedDependency[Settings],
        db_session: NamedDependency[AsyncSession],
    ) -> ShareOut:
        await require_access(db_session, account.account_id, citizen_id)
        issued = await ShareService(db_session, settings).create(
            citizen_id,
            account.account_id,
            sections=data.sections,
            access=data.access,
            duration=dt.timedelta(minutes=data.duration_minutes),
            purpose=data.purpose,
            passcode=data.passcode,
        )
        return await share_out(issued)

    @post("/{share_id:uuid}/rotate", status_code=200, summary="Re-issue the QR (the previous one dies)")
    async def rotate(
        self,
        citizen_id: FromPath[uuid.UUID],
        share_id: FromPath[uuid.UUID],
        account: NamedDependency[AccountPrincipal],
        settings: NamedDependency[Settings],
        db_session: NamedDependency[AsyncSession],
    ) -> ShareOut:
        await require_access(db_session, account.account_id, citizen_id)
        return await share_out(await ShareService(db_session, settings).rotate(citizen_id, share_id))


class CitizenGrantController(Controller):
    path = "/citizens/{citizen_id:uuid}"
    tags = ["consent"]  # noqa: RUF012 - Litestar reads the class attribute

    @get("/grants", summary="Who has access to this record, now and before; newest first (cursor pages)")
    async def list_grants(
        self,
        citizen_id: FromPath[uuid.UUID],
        account: NamedDependency[AccountPrincipal],
        db_session: NamedDependency[AsyncSession],
        limit: FromQuery[int] = 20,
        cursor: FromQuery[str | None] = None,
    ) -> GrantPageOut:
        await require_access(db_session, account.account_id, citizen_id)
        grants, next_cursor = await GrantService(db_session).for_citizen(citizen_id, limit=limit, cursor=cursor)
        return GrantPageOut(items=[grant_out(g) for g in grants], next_cursor=next_cursor)

    @patch("/grants/{grant_id:uuid}", summary="Shorten a grant")
    async def shorten(
        self,
        citizen_id: FromPath[uuid.UUID],
        grant_id: FromPath[uuid.UUID],
        data: JSONBody[ShortenIn],
        account: NamedDependency[AccountPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> GrantOut:
        await require_access(db_session, account.account_id, citizen_id)
        return grant_out(await GrantService(db_session).shorten(citizen_id, grant_id, data.expires_at))

    @delete("/grants/{grant_id:uuid}", status_code=204, summary="Revoke a grant (effective on the next request)")
    async def revoke(
        self,
        citizen_id: FromPath[uuid.UUID],
        grant_id: FromPath[uuid.UUID],
        account: NamedDependency[AccountPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> None:
        await require_access(db_session, account.account_id, citizen_id)
        await GrantService(db_session).revoke(citizen_id, grant_id)

    @get("/grants/{grant_id:uuid}/receipt", summary="A consent receipt for the grant (and its end)")
    async def receipt(
        self,
        citizen_id: FromPath[uuid.UUID],
        grant_id: FromPath[uuid.UUID],
        account: NamedDependency[AccountPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        await require_access(db_session, account.account_id, citizen_id)
        return await GrantService(db_session).receipt(citizen_id, grant_id)

    @get("/access-log", summary="Every read and write of this record by someone else, newest first (cursor pages)")
    async def access_log(
        self,
        citizen_id: FromPath[uuid.UUID],
        account: NamedDependency[AccountPrincipal],
        db_session: NamedDependency[AsyncSession],
        limit: FromQuery[int] = 50,
        cursor: FromQuery[str | None] = None,
    ) -> AccessLogPageOut:
        await require_access(db_session, account.account_id, citizen_id)
        events, next_cursor = await GrantService(db_session).access_log(citizen_id, limit=limit, cursor=cursor)
        return AccessLogPageOut(
            items=[
                AccessEventOut(
                    at=e.at,
                    action=e.action,
                    actor_name=e.actor_name,
                    actor_licence=e.actor_licence,
                    facility_name=e.facility_name,
                    sections=list(e.sections),
                    grant_id=e.grant_id,
                )
                for e in events
            ],
            next_cursor=next_cursor,
        )


ROUTES = [ShareController, CitizenGrantController]
