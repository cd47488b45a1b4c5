"""``POST /v1/integration/immunizations``: the immunization system's feed of administered doses (JSON lines)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import MachinePrincipal, provide_machine
from api.deps import programme_of
from api.errors import problem_spec
from core.identity.machines import SCOPE_IMMUNIZATION
from core.interop.immunization_feed import FeedClient, ImmunizationFeed
from core.settings import Settings

# JSON Lines has two names in the wild; both mean one JSON value per line.
FEED_MEDIA_TYPES = frozenset({"application/x-ndjson", "application/jsonl"})

DESCRIPTION = """
Body: `application/x-ndjson` or `application/jsonl`, UTF-8, one dose per line (blank lines are skipped):

```
{"dose_id": "QN-2026-000123", "cccd": "051226000123", "vaccine_code": "BCG", "given_on": "2026-11-02",
 "dose_number": 1, "lot": "B2611", "facility_code": "51T01"}
```

Fields: `dose_id` (required, ≤ 116 characters, the source's id: sending it again is a duplicate), `cccd` and/or
`bhxh_number` (10 digits, or the 15-character BHYT card; at least one), `vaccine_code` (required, from
`GET /v1/vaccines`), `given_on` (ISO date) or `not_given_reason`, `dose_number`, `lot`, `place`, `facility_code`
(MA_CSKCB), `reaction`, `next_due_on`, `pregnancy_month`. Unknown fields reject the line.

The answer is a report: `received`, `created`, `duplicates`, `rejected` [{line, reason, field?}] and `excluded`
[{line, rule_id}] (doses dropped by the exclusion policy; only a content-free receipt is kept). A bad line never
stops the others; a body in which no line is a JSON object is a 400. Needs the `immunization:write` scope.
"""


class LineIssueOut(msgspec.Struct, omit_defaults=True):
    line: int
    reason: str
    field: str | None = None


class LineExclusionOut(msgspec.Struct):
    line: int
    rule_id: str


class FeedReportOut(msgspec.Struct):
    received: int
    created: int
    duplicates: int
    rejected: list[LineIssueOut]
    excluded: list[LineExclusionOut]


async def provide_immunization_client(
    request: Request[Any, Any, Any],
    settings: NamedDependency[Settings],
    db_session: NamedDependency[AsyncSession],
) -> MachinePrincipal:
    machine = await provide_machine(request, settings, db_session)
    machine.require(SCOPE_IMMUNIZATION)
    return machine


class ImmunizationFeedController(Controller):
    path = "/immunizations"
    tags = ["integration"]  # noqa: RUF012 - Litestar reads the class attribute
    dependencies = {"immunization_client": Provide(provide_immunization_client)}  # noqa: RUF012 - read by Litestar
    security = [{"bearer": []}]  # noqa: RUF012 - read by Litestar

    @post(
        "/",
        status_code=200,
        summary="Import administered doses (JSON lines); idempotent on the source's dose id",
        description=DESCRIPTION,
        responses={
            400: problem_spec("code is empty_feed or not_json_lines: the body is not JSON lines at all"),
            403: problem_spec("the client token lacks the immunization:write scope"),
            413: problem_spec("the body is larger than PHR_MAX_BODY_BYTES: send the feed in smaller parts"),
            415: problem_spec("the body is not application/x-ndjson or application/jsonl"),
        },
    )
    async def ingest(
        self,
        request: Request[Any, Any, Any],
        immunization_client: NamedDependency[MachinePrincipal],
        settings: NamedDependency[Settings],
        db_session: NamedDependency[AsyncSession],
    ) -> FeedReportOut:
        # Checked here, after the guard: a caller without the scope learns nothing about what the route accepts.
        if request.content_type[0] not in FEED_MEDIA_TYPES:
            raise HTTPException(status_code=415, detail="send application/x-ndjson or application/jsonl")
        body = await request.body()  # bounded by PHR_MAX_BODY_BYTES (413 past it)
        feed = ImmunizationFeed(db_session, secret_key=settings.secret_key, programme=programme_of(request))
        client = FeedClient(immunization_client.machine_id, immunization_client.facility_id)
        report = await feed.ingest(body, client)
        return FeedReportOut(
            received=report.received,
            created=report.created,
            duplicates=report.duplicates,
            rejected=[LineIssueOut(i.line, i.reason, i.field) for i in report.rejected],
            excluded=[LineExclusionOut(e.line, e.rule_id) for e in report.excluded],
        )


ROUTES: list[Any] = [ImmunizationFeedController]
