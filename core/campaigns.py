"""Station reminder campaigns: a cohort, a text, a send time; preview, launch, cancel, pause, and the funnel.

A campaign is a draft until launched. Launch writes the whole outbox in one ``INSERT … SELECT`` (cohort →
the accounts acting for each person → one notification each), so 100,000 people cost one statement; the worker
drains it within the FCM quota. Every method is scoped to the staff member's facility: another station's
campaign is "not found", and the cohort only ever reaches the station's own people (``core/cohorts.py``).

The texts must be generic ("Trạm y tế mời {name} đến tiêm chủng cho bé"): no diagnosis, nothing that would tell
a stranger glancing at the phone why this person was chosen. They go through the exclusion policy like every
write, and may use only the placeholders in ``PLACEHOLDERS``. The push itself never carries them: it is the
generic ``campaign`` template, and the app reads the station's text from the inbox.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Collection
from dataclasses import dataclass

import msgspec
from sqlalchemy import Select, String, and_, cast, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.cohorts import CohortFilter, check_communes, check_filter, cohort_select, excluded_condition
from core.errors import Conflict, Excluded, Invalid, NotFound
from core.identity.access import recipients_for
from core.models import (
    Appointment,
    AppointmentStatus,
    Campaign,
    CampaignStatus,
    Citizen,
    DeliveryStatus,
    ExclusionReceipt,
    Facility,
    Notification,
    Source,
)
from core.outbox import local_date, notify_from_select
from core.pagination import fetch_page
from core.records.exclusion import POLICY_VERSION
from core.records.guard import Actor, refuse_excluded

TEMPLATE = "campaign"
PLACEHOLDERS = {"name": "the given name of the person the message is about", "facility": "the station's name"}
MAX_TEXT = 500
SAMPLE_SIZE = 10
SEND_AT_GRACE = dt.timedelta(minutes=5)  # a form filled in a few minutes ago still means "now"
SEND_AT_HORIZON = dt.timedelta(days=90)
PAUSE_REASON = "INVALID_ARGUMENT"
PAUSED_ROW = "campaign_paused"  # last_error of rows a pause stopped: resume sends exactly those again
_BRACED = re.compile(r"\{([^{}]*)\}")


def check_text(text: str, field: str) -> None:
    """Non-blank, length-limited, and placeholders from the whitelist only (anything else in braces is a 422)."""
    if not text.strip():
        raise Invalid("the text is empty", code="empty_text", field=field)
    if len(text) > MAX_TEXT:
        raise Invalid(f"at most {MAX_TEXT} characters", code="text_too_long", field=field)
    unknown = [name for name in _BRACED.findall(text) if name not in PLACEHOLDERS]
    stray = "{" in _BRACED.sub("", text) or "}" in _BRACED.sub("", text)
    if unknown or stray:
        raise Invalid(f"placeholders allowed: {sorted(PLACEHOLDERS)}", code="unknown_placeholder", field=field)


def render_text(text: str, *, name: str, facility: str) -> str:
    # Not str.format: the text is the station's, and format() would let "{name.__class__}" reach attributes.
    values = {"name": name, "facility": facility}
    return _BRACED.sub(lambda match: values.get(match.group(1), ""), text)


def given_name(full_name: str | None) -> str:
    """The given name comes last in Vietnamese ("Nguyễn Văn An" → "An"): how a station addresses someone."""
    parts = (full_name or "").split()
    return parts[-1] if parts else ""


def mask_name(full_name: str) -> str:
    """Enough to recognise a sample, not to identify a neighbour: "Nguyễn Văn An" → "Nguyễn V. A."."""
    parts = full_name.split()
    if not parts:
        return ""
    if len(parts) == 1:
        return parts[0][0] + "."
    return " ".join([parts[0], *(part[0] + "." for part in parts[1:])])


@dataclass(frozen=True, slots=True)
class SamplePerson:
    masked_name: str
    birth_year: int
    sex: str


@dataclass(frozen=True, slots=True)
class Preview:
    people: int  # in the cohort today
    recipients: int  # notifications a launch would write (an account per person who has one; two parents → two)
    sample: list[SamplePerson]


class Stats(msgspec.Struct, frozen=True):
    """The funnel; also the API's response body (api/station/campaigns.py returns it as is)."""

    targeted: int
    people: int
    pending: int
    sent: int
    failed: int
    expired: int
    cancelled: int
    opened: int
    booked: int
    attended: int


@dataclass(frozen=True, slots=True)
class CampaignPage:
    items: list[Campaign]
    next_cursor: str | None


class CampaignService:
    def __init__(self, session: AsyncSession, facility_id: uuid.UUID, now: dt.datetime | None = None) -> None:
        self.session = session
        self.facility_id = facility_id
        self.now = now or dt.datetime.now(dt.UTC)

    async def create(
        self,
        *,
        created_by: uuid.UUID,
        name: str,
        cohort: CohortFilter,
        text_vi: str,
        text_en: str | None,
        send_at: dt.datetime,
    ) -> Campaign:
        """A draft. Refused: unknown placeholders, excluded wording or condition codes, a send time out of range."""
        check_text(text_vi, "text_vi")
        if text_en is not None:
            check_text(text_en, "text_en")
        if not name.strip():
            raise Invalid("the name is empty", code="empty_name", field="name")
        if send_at < self.now - SEND_AT_GRACE:
            raise Invalid("the send time has passed", code="send_at_past", field="send_at")
        if send_at > self.now + SEND_AT_HORIZON:
            raise Invalid("at most 90 days ahead", code="send_at_too_far", field="send_at")
        check_filter(cohort)
        actor = Actor(Source.station, clinician_id=created_by, facility_id=self.facility_id)
        await refuse_excluded(
            self.session,
            {"name": name, "text_vi": text_vi, "text_en": text_en},
            path="POST /v1/station/campaigns",
            actor=actor,
        )
        await self._refuse_excluded_condition(cohort)
        await check_communes(self.session, cohort)
        campaign = Campaign(
            facility_id=self.facility_id,
            created_by=created_by,
            name=name.strip(),
            cohort=msgspec.to_builtins(cohort),
            text_vi=text_vi,
            text_en=text_en,
            send_at=send_at,
            status=CampaignStatus.draft,
        )
        self.session.add(campaign)
        await self.session.flush()
        return campaign

    async def _refuse_excluded_condition(self, cohort: CohortFilter) -> None:
        hit = excluded_condition(cohort.condition) if cohort.condition else None
        if hit is None:
            return
        self.session.add(
            ExclusionReceipt(
                policy_version=POLICY_VERSION,
                rule_id=hit.rule_id,
                path="POST /v1/station/campaigns",
                source=Source.station.value,
                facility_id=self.facility_id,
                count=1,
            )
        )
        raise Excluded(
            "a campaign may not target an excluded category",
            code="excluded_category",
            field="cohort.condition",
            keep_changes=True,  # the receipt stays, like every other refused write
        )

    async def get(self, campaign_id: uuid.UUID, *, lock: bool = False) -> Campaign:
        query = select(Campaign).where(Campaign.id == campaign_id, Campaign.facility_id == self.facility_id)
        if lock:
            # Launch, cancel and resume change the status: two clicks at once take turns instead of both acting.
            query = query.with_for_update()
        campaign = (await self.session.scalars(query, execution_options={"populate_existing": lock})).one_or_none()
        if campaign is None:
            raise NotFound("no such campaign", code="campaign_not_found")
        return campaign

    async def list(self, *, limit: int = 20, cursor: str | None = None) -> CampaignPage:
        query = select(Campaign).where(Campaign.facility_id == self.facility_id)
        rows, next_cursor = await fetch_page(
            self.session, query, Campaign.created_at, Campaign.id, limit=limit, cursor=cursor
        )
        return CampaignPage(rows, next_cursor)

    def _cohort(self, campaign: Campaign) -> tuple[CohortFilter, dt.date]:
        # Ages are taken on the send date (or today, once that has passed).
        return msgspec.convert(campaign.cohort, CohortFilter), local_date(max(campaign.send_at, self.now))

    async def preview(self, campaign_id: uuid.UUID) -> Preview:
        campaign = await self.get(campaign_id)
        cohort, day = self._cohort(campaign)
        people = cohort_select(cohort, self.facility_id, day).subquery()
        count = await self.session.scalar(select(func.count()).select_from(people))
        reachable = recipients_for(people, now=self.now).subquery()
        recipients = await self.session.scalar(select(func.count()).select_from(reachable))
        rows = await self.session.execute(
            select(Citizen.full_name, Citizen.date_of_birth, Citizen.sex)
            .join(people, people.c.citizen_id == Citizen.id)
            .order_by(Citizen.id)
            .limit(SAMPLE_SIZE)
        )
        sample = [SamplePerson(mask_name(r.full_name), r.date_of_birth.year, r.sex.value) for r in rows]
        return Preview(int(count or 0), int(recipients or 0), sample)

    async def launch(self, campaign_id: uuid.UUID) -> Campaign:
        """Write every notification with one INSERT … SELECT; a second launch is a 409 and writes nothing."""
        campaign = await self.get(campaign_id, lock=True)
        if campaign.status is not CampaignStatus.draft:
            raise Conflict("the campaign was already launched or stopped", code="campaign_not_draft")
        cohort, day = self._cohort(campaign)
        people = cohort_select(cohort, self.facility_id, day).subquery()
        pairs = recipients_for(people, now=self.now).subquery()
        recipients = select(
            pairs.c.account_id,
            pairs.c.citizen_id,
            # Built in SQL, one per (account, person): a retried launch (after a lost response) adds nothing.
            func.concat(
                literal(f"campaign:{campaign.id}:"),
                cast(pairs.c.account_id, String),
                literal(":"),
                cast(pairs.c.citizen_id, String),
            ).label("dedupe_key"),
        )
        written = await notify_from_select(
            self.session,
            template=TEMPLATE,
            recipients=recipients,
            not_before=campaign.send_at,
            campaign_id=campaign.id,
            now=self.now,
        )
        campaign.status = CampaignStatus.launched
        campaign.targeted = written
        campaign.launched_at = self.now
        await self.session.flush()
        return campaign

    async def cancel(self, campaign_id: uuid.UUID) -> Campaign:
        """Stop what is not yet sent, in one UPDATE. Rows a worker already claimed may still go; cancelling twice
        changes nothing."""
        campaign = await self.get(campaign_id, lock=True)
        if campaign.status is CampaignStatus.cancelled:
            return campaign
        await self.session.execute(
            update(Notification)
            .where(Notification.campaign_id == campaign.id, Notification.status == DeliveryStatus.pending)
            .values(status=DeliveryStatus.cancelled)
        )
        campaign.status = CampaignStatus.cancelled
        campaign.cancelled_at = self.now
        await self.session.flush()
        return campaign

    async def resume(self, campaign_id: uuid.UUID) -> Campaign:
        """After the cause of a pause is fixed: the rows the pause stopped, and the rejected ones, go again."""
        campaign = await self.get(campaign_id, lock=True)
        if campaign.status is not CampaignStatus.paused:
            raise Conflict("only a paused campaign can be resumed", code="campaign_not_paused")
        stopped = and_(Notification.status == DeliveryStatus.cancelled, Notification.last_error == PAUSED_ROW)
        rejected = and_(Notification.status == DeliveryStatus.failed, Notification.last_error == PAUSE_REASON)
        await self.session.execute(
            update(Notification)
            .where(Notification.campaign_id == campaign.id, or_(stopped, rejected))
            .values(status=DeliveryStatus.pending, next_attempt_at=self.now, last_error=None)
        )
        campaign.status = CampaignStatus.launched
        campaign.paused_at = None
        campaign.pause_reason = None
        await self.session.flush()
        return campaign

    async def stats(self, campaign_id: uuid.UUID) -> Stats:
        """The funnel: targeted → sent → opened → booked → attended (booked and attended count people)."""
        campaign = await self.get(campaign_id)
        mine = Notification.campaign_id == campaign.id
        status = Notification.status
        counts = (
            await self.session.execute(
                select(
                    func.count(Notification.citizen_id.distinct()).label("people"),
                    func.count().filter(status.in_([DeliveryStatus.pending, DeliveryStatus.sending])).label("pending"),
                    func.count().filter(status == DeliveryStatus.sent).label("sent"),
                    func.count().filter(status == DeliveryStatus.failed).label("failed"),
                    func.count().filter(status == DeliveryStatus.expired).label("expired"),
                    func.count().filter(status == DeliveryStatus.cancelled).label("cancelled"),
                    func.count().filter(Notification.read_at.is_not(None)).label("opened"),
                ).where(mine)
            )
        ).one()
        booked = attended = 0
        if campaign.launched_at is not None:
            targeted = select(Notification.citizen_id).where(mine)
            after = (
                await self.session.execute(
                    select(
                        func.count(Appointment.citizen_id.distinct()),
                        func.count(Appointment.citizen_id.distinct()).filter(
                            Appointment.status == AppointmentStatus.checked_in
                        ),
                    ).where(
                        Appointment.facility_id == self.facility_id,
                        Appointment.created_at >= campaign.launched_at,
                        Appointment.status != AppointmentStatus.cancelled,
                        Appointment.citizen_id.in_(targeted),
                    )
                )
            ).one()
            booked, attended = int(after[0]), int(after[1])
        return Stats(
            targeted=campaign.targeted,
            people=counts.people,
            pending=counts.pending,
            sent=counts.sent,
            failed=counts.failed,
            expired=counts.expired,
            cancelled=counts.cancelled,
            opened=counts.opened,
            booked=booked,
            attended=attended,
        )


# -- the worker's side ------------------------------------------------------------------------------------------
async def stop_campaign_rows(
    session: AsyncSession,
    *,
    rejected: set[uuid.UUID],
    retrying: set[uuid.UUID],
    threshold: int,
    now: dt.datetime,
) -> list[uuid.UUID]:
    """After a batch: pause campaigns FCM keeps rejecting as malformed, and hold back retries of stopped ones.

    ``rejected``: campaigns with an INVALID_ARGUMENT (about the message, not a token) in the batch; a campaign
    with ``threshold`` of them in total is paused and its pending rows are cancelled, marked ``campaign_paused``
    so that a resume sends exactly those. ``retrying``: campaigns with rows the batch put back to pending; if the
    campaign was cancelled or paused meanwhile (its rows were in flight then), those rows stop now. Returns the
    campaigns paused.
    """
    paused: list[uuid.UUID] = []
    for campaign_id in sorted(rejected):
        failures = select(Notification.id).where(
            Notification.campaign_id == campaign_id,
            Notification.status == DeliveryStatus.failed,
            Notification.last_error == PAUSE_REASON,
        )
        count = await session.scalar(select(func.count()).select_from(failures.limit(threshold).subquery()))
        if (count or 0) < threshold:
            continue
        done = await session.scalar(
            update(Campaign)
            .where(Campaign.id == campaign_id, Campaign.status == CampaignStatus.launched)
            .values(status=CampaignStatus.paused, paused_at=now, pause_reason=PAUSE_REASON)
            .returning(Campaign.id)
        )
        if done is not None:
            paused.append(campaign_id)
    stopped = (rejected | retrying) - set(paused)
    if paused:
        await _stop_pending(session, paused, PAUSED_ROW)
    if stopped:
        held = select(Campaign.id).where(Campaign.id.in_(stopped), Campaign.status == CampaignStatus.paused)
        await _stop_pending(session, held, PAUSED_ROW)
        gone = select(Campaign.id).where(Campaign.id.in_(stopped), Campaign.status == CampaignStatus.cancelled)
        await _stop_pending(session, gone, None)
    return paused


async def _stop_pending(
    session: AsyncSession, campaigns: Collection[uuid.UUID] | Select[tuple[uuid.UUID]], mark: str | None
) -> None:
    values: dict[str, object] = {"status": DeliveryStatus.cancelled}
    if mark is not None:
        values["last_error"] = mark
    await session.execute(
        update(Notification)
        .where(Notification.campaign_id.in_(campaigns), Notification.status == DeliveryStatus.pending)
        .values(**values)
    )


# -- the inbox's side -------------------------------------------------------------------------------------------
async def inbox_texts(session: AsyncSession, notification_ids: list[uuid.UUID], lang: str) -> dict[uuid.UUID, str]:
    """The station's own text of each campaign notification, in ``lang`` when the station wrote one, filled in."""
    if not notification_ids:
        return {}
    rows = await session.execute(
        select(Notification.id, Campaign.text_vi, Campaign.text_en, Facility.name, Citizen.full_name)
        .join(Campaign, Campaign.id == Notification.campaign_id)
        .join(Facility, Facility.id == Campaign.facility_id)
        .outerjoin(Citizen, Citizen.id == Notification.citizen_id)
        .where(Notification.id.in_(notification_ids))
    )
    return {
        row.id: render_text(
            row.text_en if lang == "en" and row.text_en else row.text_vi,
            name=given_name(row.full_name),
            facility=row.name,
        )
        for row in rows
    }
