"""The immunization feed over HTTP: JSON lines in, a content-free report out, each dose imported once."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.identity.tokens import mint_access_token
from core.models import Citizen, ExclusionReceipt, ImmunizationDue, RecordChange, Sex, Vaccination
from core.outbox import local_date
from core.settings import Settings
from tests.conftest import LEAK_CANARIES
from tests.core.identity.factories import make_facility, make_machine_client
from tests.support import serving

FEED = "/v1/integration/immunizations"
NDJSON = {"Content-Type": "application/x-ndjson"}
TODAY = local_date(dt.datetime.now(dt.UTC))
BORN = TODAY - dt.timedelta(days=100)
CHILD_CCCD = f"051{2 + 0}{BORN.year % 100:02d}700001"
EXCLUDED_TEXT = "mẹ đang điều trị ARV"


def body(*lines: dict[str, Any] | str) -> bytes:
    return "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines).encode()


def dose(dose_id: str, **fields: Any) -> dict[str, Any]:
    return {"dose_id": dose_id, "cccd": CHILD_CCCD, "vaccine_code": "BCG", "given_on": str(BORN), **fields}


async def make_person(session: AsyncSession, cccd: str | None, bhxh: str | None, born: dt.date = BORN) -> Citizen:
    person = Citizen(full_name="Trẻ Thử Nghiệm", sex=Sex.male, date_of_birth=born, cccd=cccd, bhxh_number=bhxh)
    session.add(person)
    await session.flush()
    return person


@pytest.fixture
async def feed_headers(session: AsyncSession, settings: Settings) -> dict[str, str]:
    station = await make_facility(session, "51T01")
    client = await make_machine_client(
        session, client_id="tiem-chung", scopes=("immunization:write",), facility=station
    )
    token = mint_access_token(
        settings.jwt_private_key_pem,
        client.id,
        kind="machine",
        extra={"scope": "immunization:write", "fac": str(station.id)},
    )
    return {"Authorization": f"Bearer {token}"} | NDJSON


@pytest.fixture
async def http(make_app: Callable[..., Litestar]) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(make_app()) as client:
        yield client


async def vaccinations_of(session: AsyncSession, person: Citizen) -> list[Vaccination]:
    rows = await session.scalars(
        select(Vaccination).where(Vaccination.citizen_id == person.id).order_by(Vaccination.given_on)
    )
    return list(rows.all())


async def test_doses_are_created_once_and_a_second_post_changes_nothing(
    http: httpx.AsyncClient, session: AsyncSession, feed_headers: dict[str, str]
) -> None:
    child = await make_person(session, CHILD_CCCD, None)
    LEAK_CANARIES.add(CHILD_CCCD)
    feed = body(
        dose("QN-1", lot="B2611"),
        "",
        dose("QN-2", vaccine_code="dpt-vgb-hib", given_on=str(BORN + dt.timedelta(days=62)), dose_number=1),
    )
    first = await http.post(FEED, content=feed, headers=feed_headers)
    assert first.status_code == 200, first.text
    assert first.json() == {"received": 2, "created": 2, "duplicates": 0, "rejected": [], "excluded": []}
    doses = await vaccinations_of(session, child)
    assert [(d.vaccine_code, d.source_ref, d.source.value, d.lot) for d in doses] == [
        ("BCG", "imm:QN-1", "immunization_import", "B2611"),
        ("DPT-VGB-HIB", "imm:QN-2", "immunization_import", None),
    ]
    history = await session.scalar(
        select(func.count()).select_from(RecordChange).where(RecordChange.citizen_id == child.id)
    )
    assert history == 2

    # The same doses again, as another system might send them: a byte-order mark, CRLF, the other media type.
    resent = b"\xef\xbb\xbf" + feed.replace(b"\n", b"\r\n")
    again = await http.post(FEED, content=resent, headers={**feed_headers, "Content-Type": "application/jsonl"})
    assert again.json() == {"received": 2, "created": 0, "duplicates": 2, "rejected": [], "excluded": []}
    assert len(await vaccinations_of(session, child)) == 2


async def test_the_schedule_counts_the_imported_doses_at_once(
    http: httpx.AsyncClient, session: AsyncSession, feed_headers: dict[str, str]
) -> None:
    child = await make_person(session, CHILD_CCCD, None)
    feed = body(dose("QN-1"), dose("QN-2", vaccine_code="DPT-VGB-HIB", given_on=str(BORN + dt.timedelta(days=62))))
    assert (await http.post(FEED, content=feed, headers=feed_headers)).json()["created"] == 2
    rows = await session.execute(
        select(ImmunizationDue.series, ImmunizationDue.doses_counted, ImmunizationDue.status).where(
            ImmunizationDue.citizen_id == child.id, ImmunizationDue.series.in_(["BCG", "DPT-VGB-HIB"])
        )
    )
    status = {series: (counted, state.value) for series, counted, state in rows}
    assert status["BCG"] == (1, "complete")
    assert status["DPT-VGB-HIB"][0] == 1


async def test_people_are_matched_on_cccd_first_then_on_the_bhxh_number(
    http: httpx.AsyncClient, session: AsyncSession, feed_headers: dict[str, str]
) -> None:
    a = await make_person(session, CHILD_CCCD, "5112345601")
    b = await make_person(session, None, "5112345602")
    feed = body(
        dose("M-1"),  # A by CCCD
        dose("M-2", cccd=None, bhxh_number="5112345602"),  # B by BHXH
        dose("M-3", cccd="051299999999", bhxh_number="TE1515112345602"),  # unknown CCCD, then B by the card's BHXH
        dose("M-4", bhxh_number="5112345602"),  # CCCD says A, BHXH says B: never merged
        dose("M-5", cccd="051299999998"),  # nobody
    )
    response = await http.post(FEED, content=feed, headers=feed_headers)
    assert response.json()["rejected"] == [
        {"line": 4, "reason": "identifier_conflict"},
        {"line": 5, "reason": "unknown_person"},
    ]
    assert [d.source_ref for d in await vaccinations_of(session, a)] == ["imm:M-1"]
    assert sorted(str(d.source_ref) for d in await vaccinations_of(session, b)) == ["imm:M-2", "imm:M-3"]


async def test_lines_that_cannot_be_imported_are_reported_by_number_and_reason(
    http: httpx.AsyncClient, session: AsyncSession, feed_headers: dict[str, str]
) -> None:
    await make_person(session, CHILD_CCCD, None)
    tomorrow = str(TODAY + dt.timedelta(days=1))
    feed = body(
        dose("R-1", vaccine_code="XYZ"),
        "{not json",
        dose("R-3", nickname="Bé Na"),
        {"cccd": CHILD_CCCD, "vaccine_code": "BCG"},
        dose("R-5", given_on=tomorrow),
        dose("R-6", cccd=None),
        dose("R-7", cccd="12345"),
        dose("R-8", given_on=str(BORN - dt.timedelta(days=3))),
        dose("R-9", given_on=None),
        dose("R-10", given_on=None, not_given_reason="trẻ sốt cao, hoãn tiêm"),
        dose("R-1", vaccine_code="HEPB0"),  # the id of a rejected line may come back corrected
        dose("R-10", given_on=None, not_given_reason="trẻ sốt cao, hoãn tiêm"),  # twice in one body
    )
    report = (await http.post(FEED, content=feed, headers=feed_headers)).json()
    assert report["rejected"] == [
        {"line": 1, "reason": "unknown_vaccine", "field": "vaccine_code"},
        {"line": 2, "reason": "invalid_json"},
        {"line": 3, "reason": "unknown_field"},
        {"line": 4, "reason": "missing_field", "field": "dose_id"},
        {"line": 5, "reason": "given_on_in_future", "field": "given_on"},
        {"line": 6, "reason": "no_identifier"},
        {"line": 7, "reason": "invalid_identifier", "field": "cccd"},
        {"line": 8, "reason": "given_before_birth", "field": "given_on"},
        {"line": 9, "reason": "given_on_or_reason_required"},
    ]
    assert (report["received"], report["created"], report["duplicates"]) == (12, 2, 1)
    assert "Bé Na" not in json.dumps(report) and "nickname" not in json.dumps(report)


async def test_an_excluded_free_text_drops_the_dose_and_leaves_only_a_receipt(
    http: httpx.AsyncClient, session: AsyncSession, feed_headers: dict[str, str]
) -> None:
    child = await make_person(session, CHILD_CCCD, None)
    LEAK_CANARIES.add(EXCLUDED_TEXT)
    feed = body(dose("X-1", reaction=EXCLUDED_TEXT), dose("X-2"), dose("X-3", place="Cơ sở điều trị Methadone"))
    response = await http.post(FEED, content=feed, headers=feed_headers)
    report = response.json()
    assert report["excluded"] == [
        {"line": 1, "rule_id": "txt.hiv.dieu-tri-arv"},
        {"line": 3, "rule_id": "txt.drug.methadone"},
    ]
    assert (report["created"], report["rejected"]) == (1, [])
    assert "ARV" not in response.text and "Methadone" not in response.text
    assert [d.source_ref for d in await vaccinations_of(session, child)] == ["imm:X-2"]

    receipts = (await session.scalars(select(ExclusionReceipt).order_by(ExclusionReceipt.rule_id))).all()
    assert [(r.rule_id, r.source, r.path, r.count) for r in receipts] == [
        ("txt.drug.methadone", "immunization_import", "POST /v1/integration/immunizations", 1),
        ("txt.hiv.dieu-tri-arv", "immunization_import", "POST /v1/integration/immunizations", 1),
    ]
    assert all(r.record_key_hash and r.client_id and r.facility_id for r in receipts)
    again = (await http.post(FEED, content=feed, headers=feed_headers)).json()
    assert (again["excluded"], again["duplicates"]) == (report["excluded"], 1)
    assert await session.scalar(select(func.count()).select_from(ExclusionReceipt)) == 2, (
        "a re-sent dose: no 2nd receipt"
    )

    # The receipts were checked column by column above (their rule ids name the rule, by design).
    for table in ("record_vaccinations", "record_history", "immunization_due", "citizens"):
        dump = await session.scalar(text(f"SELECT coalesce(string_agg(t::text, ' '), '') FROM {table} t"))  # noqa: S608
        assert "điều trị arv" not in dump.lower() and "methadone" not in dump.lower(), table


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b"", "application/x-ndjson", 400, "empty_feed"),
        (b"\n  \n", "application/x-ndjson", 400, "empty_feed"),
        (b"<html>hello</html>\nnot json either", "application/x-ndjson", 400, "not_json_lines"),
        (b'[{"dose_id": "A-1"}]', "application/x-ndjson", 400, "not_json_lines"),
        (b"\xff\xfe{", "application/x-ndjson", 400, "not_json_lines"),
        (b'{"dose_id": "A-1"}', "application/json", 415, None),
        (b'{"dose_id": "A-1"}', "text/plain", 415, None),
    ],
)
async def test_a_body_that_is_not_json_lines_is_a_4xx_problem(
    http: httpx.AsyncClient, feed_headers: dict[str, str], content: bytes, content_type: str, status: int, code: str
) -> None:
    response = await http.post(FEED, content=content, headers={**feed_headers, "Content-Type": content_type})
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json().get("code") == code


async def test_a_body_over_the_size_limit_is_413(
    make_app: Callable[..., Litestar], feed_headers: dict[str, str]
) -> None:
    async with serving(make_app(max_body_bytes=2000)) as http:
        response = await http.post(FEED, content=body(*[dose(f"B-{i}") for i in range(40)]), headers=feed_headers)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


async def test_only_a_machine_with_the_immunization_scope_may_post(
    http: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    client = await make_machine_client(session, client_id="his-only", scopes=("his:episodes:write",))
    his = mint_access_token(
        settings.jwt_private_key_pem, client.id, kind="machine", extra={"scope": "his:episodes:write"}
    )
    feed = body(dose("S-1"))
    assert (await http.post(FEED, content=feed, headers=NDJSON)).status_code == 401
    forbidden = await http.post(FEED, content=feed, headers={"Authorization": f"Bearer {his}"} | NDJSON)
    assert (forbidden.status_code, forbidden.json()["code"]) == (403, "insufficient_scope")
    citizen = mint_access_token(settings.jwt_private_key_pem, client.id, kind="account")
    assert (
        await http.post(FEED, content=feed, headers={"Authorization": f"Bearer {citizen}"} | NDJSON)
    ).status_code == 401
