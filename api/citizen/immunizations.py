"""``/v1/citizens/{citizen_id}/immunizations/schedule``: what is due and when, for the app.

Computed live by the schedule engine from the doses on record (``core/immunization``), so a dose recorded a minute
ago is already counted. A guardian's or delegate's read is logged like any other read of the record.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import AccountPrincipal
from api.deps import programme_of
from core.consent.grants import log_proxy_read
from core.identity.access import Relation, require_access
from core.immunization.schedule import SERIES_NAMES
from core.immunization.service import schedule_for
from core.outbox import local_date


class SeriesOut(msgspec.Struct):
    series: str
    name_vi: str
    name_en: str
    status: str  # upcoming | due | overdue | complete
    doses_total: int
    doses_counted: list[dt.date]  # the doses that count, in order
    # Recorded but given before the minimum age or interval: they do not count, and the dose is due again.
    doses_too_early: list[dt.date]
    next_dose: int | None
    due_on: dt.date | None
    overdue_from: dt.date | None


class ScheduleOut(msgspec.Struct):
    schedule_version: str
    legal_text: str
    today: dt.date
    series: list[SeriesOut]


class ImmunizationController(Controller):
    path = "/citizens/{citizen_id:uuid}/immunizations"
    tags = ["record"]  # noqa: RUF012 - Litestar reads the class attribute

    @get("/schedule", summary="Vaccination schedule: each series' next dose, due date and status")
    async def schedule(
        self,
        request: Request[Any, Any, Any],
        citizen_id: FromPath[uuid.UUID],
        account: NamedDependency[AccountPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> ScheduleOut:
        relation = await require_access(db_session, account.account_id, citizen_id)
        if relation is not Relation.self:
            await log_proxy_read(db_session, citizen_id, account.account_id, relation.value, ["vaccinations"])
        programme = programme_of(request)
        today = local_date(dt.datetime.now(dt.UTC))
        states = await schedule_for(db_session, citizen_id, today=today, programme=programme)
        doses_total = {series.code: len(series.doses) for series in programme.version.series}
        return ScheduleOut(
            schedule_version=programme.version.code,
            legal_text=programme.version.legal_text,
            today=today,
            series=[
                SeriesOut(
                    series=state.series,
                    name_vi=SERIES_NAMES[state.series][0],
                    name_en=SERIES_NAMES[state.series][1],
                    status=state.status.value,
                    doses_total=doses_total[state.series],
                    doses_counted=list(state.counted),
                    doses_too_early=list(state.too_early),
                    next_dose=state.next_dose,
                    due_on=state.due_on,
                    overdue_from=state.overdue_from,
                )
                for state in states
            ],
        )


ROUTES = [ImmunizationController]
