"""``/v1/station/campaigns``: reminder campaigns to the station's own people (core/campaigns.py)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import ClinicianPrincipal
from api.errors import problem_spec
from core.campaigns import MAX_TEXT, CampaignService, Stats
from core.cohorts import CohortFilter
from core.models import Campaign
from core.pagination import MAX_PAGE

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_TEXT)]
PageSize = Annotated[int, msgspec.Meta(ge=1, le=MAX_PAGE)]
Cursor = Annotated[str, msgspec.Meta(max_length=200)]


class CampaignIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Texts must be generic (no diagnosis, nothing that says why the person was chosen); placeholders: {name}
    (the given name of the person concerned, e.g. the child) and {facility} (the station's name)."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=120, description="for the station's own list")]
    cohort: CohortFilter
    text_vi: Text
    text_en: Text | None = None
    send_at: Annotated[dt.datetime, msgspec.Meta(tz=True, description="at most 5 minutes ago, at most 90 days ahead")]


class CampaignOut(msgspec.Struct):
    campaign_id: uuid.UUID
    name: str
    cohort: CohortFilter
    text_vi: str
    text_en: str | None
    send_at: dt.datetime
    status: str
    targeted: int
    created_at: dt.datetime
    launched_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    paused_at: dt.datetime | None
    pause_reason: str | None


class CampaignPageOut(msgspec.Struct):
    items: list[CampaignOut]
    next_cursor: str | None


class SampleOut(msgspec.Struct):
    masked_name: str
    birth_year: int
    sex: str


class PreviewOut(msgspec.Struct):
    people: int
    recipients: int
    sample: list[SampleOut]


def campaign_out(c: Campaign) -> CampaignOut:
    return CampaignOut(
        campaign_id=c.id,
        name=c.name,
        cohort=msgspec.convert(c.cohort, CohortFilter),
        text_vi=c.text_vi,
        text_en=c.text_en,
        send_at=c.send_at,
        status=c.status.value,
        targeted=c.targeted,
        created_at=c.created_at,
        launched_at=c.launched_at,
        cancelled_at=c.cancelled_at,
        paused_at=c.paused_at,
        pause_reason=c.pause_reason,
    )


class CampaignController(Controller):
    path = "/campaigns"
    tags = ["station"]  # noqa: RUF012 - Litestar reads the class attribute

    @post(
        "/",
        summary="A draft campaign: cohort, texts, send time",
        responses={
            422: problem_spec(
                "A cohort, text or send time the campaign may not have (a past time, an unknown placeholder)"
            )
        },
    )
    async def create(
        self,
        data: JSONBody[CampaignIn],
        staff: NamedDependency[ClinicianPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> CampaignOut:
        campaign = await CampaignService(db_session, staff.facility_id).create(
            created_by=staff.clinician_id,
            name=data.name,
            cohort=data.cohort,
            text_vi=data.text_vi,
            text_en=data.text_en,
            send_at=data.send_at,
        )
        return campaign_out(campaign)

    @get("/", summary="This station's campaigns, newest first (cursor pagination)")
    async def list_campaigns(
        self,
        staff: NamedDependency[ClinicianPrincipal],
        db_session: NamedDependency[AsyncSession],
        limit: FromQuery[PageSize] = 20,
        cursor: FromQuery[Cursor | None] = None,
    ) -> CampaignPageOut:
        page = await CampaignService(db_session, staff.facility_id).list(limit=limit, cursor=cursor)
        return CampaignPageOut([campaign_out(c) for c in page.items], page.next_cursor)

    @get("/{campaign_id:uuid}", summary="One campaign")
    async def get_campaign(
        self,
        campaign_id: FromPath[uuid.UUID],
        staff: NamedDependency[ClinicianPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> CampaignOut:
        return campaign_out(await CampaignService(db_session, staff.facility_id).get(campaign_id))

    @post("/{campaign_id:uuid}/preview", status_code=200, summary="How many it reaches today, and a masked sample")
    async def preview(
        self,
        campaign_id: FromPath[uuid.UUID],
        staff: NamedDependency[ClinicianPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> PreviewOut:
        found = await CampaignService(db_session, staff.facility_id).preview(campaign_id)
        return PreviewOut(
            found.people, found.recipients, [SampleOut(s.masked_name, s.birth_year, s.sex) for s in found.sample]
        )

    @post("/{campaign_id:uuid}/launch", status_code=200, summary="Queue every message (once; again is a 409)")
    async def launch(
        self,
        campaign_id: FromPath[uuid.UUID],
        staff: NamedDependency[ClinicianPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> CampaignOut:
        return campaign_out(await CampaignService(db_session, staff.facility_id).launch(campaign_id))

    @post("/{campaign_id:uuid}/cancel", status_code=200, summary="Stop what is not yet sent")
    async def cancel(
        self,
        campaign_id: FromPath[uuid.UUID],
        staff: NamedDependency[ClinicianPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> CampaignOut:
        return campaign_out(await CampaignService(db_session, staff.facility_id).cancel(campaign_id))

    @post("/{campaign_id:uuid}/resume", status_code=200, summary="Resume a paused campaign once its cause is fixed")
    async def resume(
        self,
        campaign_id: FromPath[uuid.UUID],
        staff: NamedDependency[ClinicianPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> CampaignOut:
        return campaign_out(await CampaignService(db_session, staff.facility_id).resume(campaign_id))

    @get("/{campaign_id:uuid}/stats", summary="The funnel: targeted, sent, failed, opened, booked, attended")
    async def stats(
        self,
        campaign_id: FromPath[uuid.UUID],
        staff: NamedDependency[ClinicianPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> Stats:
        return await CampaignService(db_session, staff.facility_id).stats(campaign_id)


ROUTES = [CampaignController]
