"""Generated payloads with deny-listed words and codes through every write path: all refused, nothing stored.

The app runs on a database of its own (commits are real), driven by hypothesis through a synchronous test client;
after the run every text and code column of every table is scanned with the exclusion policy.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from api.app import create_app
from core.db import Database
from core.identity.sessions import SessionService
from core.ids import uuid7
from core.models import Account, AccountCitizen, Citizen, Sex, Source, SubjectKind
from core.records.exclusion import CODE_RULES, LEXICON
from core.records.guard import Actor
from core.records.service import RecordService
from core.settings import Settings
from tests.conftest import PgCluster
from tests.support import scan_every_column

BENIGN = [
    line for line in (Path(__file__).parents[1] / "core/records/benign_notes_vi.txt").read_text().splitlines() if line
]
PHRASES = sorted({phrase for rule in LEXICON for phrase in rule.phrases})
CODES = sorted({f"{p[:3]}.{p[3:]}" if len(p) > 3 else p for rule in CODE_RULES for p in rule.prefixes})
# (method, path under /v1/citizens/{id}/, body builder taking the poisoned text, the field it lands in)
TEXT_PATHS: list[tuple[str, str, Any]] = [
    ("PUT", "record/risk-factors", lambda t: {"exposures": t}),
    ("PUT", "record/risk-factors", lambda t: {"other": t}),
    ("PUT", "record/reproductive", lambda t: {"gynaecological_disease": t}),
    ("PUT", "record/reproductive", lambda t: {"contraception": t[:200]}),
    ("PUT", "record/other", lambda t: {"text": t}),
    ("PATCH", "record/contact", lambda t: {"cur_street": t[:200]}),
    ("PATCH", "record/contact", lambda t: {"caregiver_relation": t[:200]}),
    ("POST", "record/allergies", lambda t: {"category": "drug", "substance": t[:200]}),
    ("POST", "record/allergies", lambda t: {"category": "food", "substance": "tôm", "reaction": t}),
    ("POST", "record/family-history", lambda t: {"relation": "mother", "kind": "other", "detail": t}),
    ("POST", "corrections", lambda t: {"section": "conditions", "description": t}),
]


def poisoned(prefix: str, phrase: str, suffix: str) -> str:
    return f"{prefix[:80]} {phrase} {suffix[:80]}".strip()


@pytest.fixture(scope="module")
async def world(pg_cluster: PgCluster, settings: Settings) -> AsyncIterator[dict[str, Any]]:
    name, url = await pg_cluster.migrated_database("phr_exclusion")
    database = Database(create_async_engine(url, poolclass=NullPool))
    async with database.transaction() as session:
        citizen = Citizen(
            id=uuid7(), full_name="Lê Thị Thử", sex=Sex.female, date_of_birth=dt.date(1990, 1, 1), phone="+84907000001"
        )
        account = Account(id=uuid7(), phone="+84907000001")
        session.add_all([citizen, account])
        await session.flush()
        session.add(AccountCitizen(account_id=account.id, citizen_id=citizen.id))
        pair = await SessionService(session, settings).start(SubjectKind.account, account.id, method="test")
    await database.dispose()
    yield {"url": url, "citizen_id": citizen.id, "token": pair.access_token}
    await pg_cluster.drop_database(name)


@pytest.fixture(scope="module")
def http(world: dict[str, Any], settings: Settings) -> Iterator[TestClient[Any]]:
    app = create_app(settings, Database(create_async_engine(world["url"], poolclass=NullPool)))
    with TestClient(app, base_url="http://phr.test") as client:
        client.headers["Authorization"] = f"Bearer {world['token']}"
        client.headers["If-Match"] = '"1"'
        yield client


@given(
    where=st.sampled_from(TEXT_PATHS),
    phrase=st.sampled_from(PHRASES),
    prefix=st.sampled_from(BENIGN),
    suffix=st.sampled_from(BENIGN),
    upper=st.booleans(),
)
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_every_citizen_write_refuses_deny_listed_text(
    http: TestClient[Any],
    world: dict[str, Any],
    where: tuple[str, str, Any],
    phrase: str,
    prefix: str,
    suffix: str,
    upper: bool,
) -> None:
    method, path, body = where
    payload = body(poisoned(prefix, phrase.upper() if upper else phrase, suffix))
    response = http.request(method, f"/v1/citizens/{world['citizen_id']}/{path}", json=payload)
    assert response.status_code == 422, (path, response.text)
    assert response.json()["type"] == "urn:phr:problem:excluded-category"


@given(code=st.sampled_from(CODES), lower=st.booleans(), detail=st.sampled_from(BENIGN))
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_family_history_refuses_excluded_codes(
    http: TestClient[Any], world: dict[str, Any], code: str, lower: bool, detail: str
) -> None:
    body = {"relation": "father", "kind": "other", "icd10": code.lower() if lower else code, "detail": detail[:200]}
    response = http.post(f"/v1/citizens/{world['citizen_id']}/record/family-history", json=body)
    assert response.status_code == 422, response.text


@given(code=st.sampled_from(CODES), phrase=st.sampled_from(PHRASES), note=st.sampled_from(BENIGN))
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_clinician_writes_refuse_excluded_codes_and_text(
    world: dict[str, Any], code: str, phrase: str, note: str
) -> None:
    """The service methods the clinician routes call (examinations with diagnoses, conditions, notes)."""

    async def attempt() -> list[int]:
        engine = create_async_engine(world["url"], poolclass=NullPool)
        refused = []
        try:
            for write in (
                lambda s: RecordService(s).add_examination(
                    world["citizen_id"],
                    {"examined_on": dt.date(2026, 1, 1), "conclusion": note},
                    [{"icd10": code, "text": "chẩn đoán"}],
                    actor=Actor(Source.clinician),
                    path="test",
                ),
                lambda s: RecordService(s).add_examination(
                    world["citizen_id"],
                    {"examined_on": dt.date(2026, 1, 1), "advice": poisoned(note, phrase, "")},
                    [],
                    actor=Actor(Source.clinician),
                    path="test",
                ),
                lambda s: RecordService(s).add_item(
                    world["citizen_id"],
                    "conditions",
                    {"kind": "other", "icd10": code},
                    actor=Actor(Source.clinician),
                    path="test",
                ),
                lambda s: RecordService(s).add_item(
                    world["citizen_id"],
                    "notes",
                    {"written_on": dt.date(2026, 1, 1), "text": poisoned(note, phrase, "")},
                    actor=Actor(Source.clinician),
                    path="test",
                ),
            ):
                try:
                    async with Database(engine).transaction() as session:
                        await write(session)
                    refused.append(0)
                except Exception as exc:
                    refused.append(1 if type(exc).__name__ == "Excluded" else 0)
        finally:
            await engine.dispose()
        return refused

    assert asyncio.run(attempt()) == [1, 1, 1, 1]


def test_after_all_that_no_column_holds_anything_excluded(world: dict[str, Any]) -> None:
    async def scan() -> list[str]:
        engine = create_async_engine(world["url"], poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                found = await scan_every_column(conn)
                receipts = (await conn.execute(text("SELECT count(*) FROM exclusion_receipts"))).scalar_one()
        finally:
            await engine.dispose()
        assert receipts > 0, "the refusals left receipts"
        return found

    assert asyncio.run(scan()) == []
