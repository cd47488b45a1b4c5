"""The record over HTTP: reading, self-updating with If-Match, clinical sections read-only, exclusion, FHIR."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core.ids import uuid7
from core.models import (
    Account,
    AccountCitizen,
    Citizen,
    Condition,
    ExclusionReceipt,
    OtherInfo,
    RecordChange,
    RiskFactors,
    Sex,
    Source,
    Vaccination,
)
from core.records.guard import Actor
from core.records.service import RecordService
from core.settings import Settings
from tests.support import login


async def person(session: AsyncSession, phone: str, dob: dt.date = dt.date(1980, 5, 5)) -> tuple[Citizen, Account]:
    citizen = Citizen(
        id=uuid7(),
        full_name="Phạm Văn Bình",
        sex=Sex.male,
        date_of_birth=dob,
        phone=phone,
        cccd=f"0510{dob.year % 100:02d}{uuid7().int % 1_000_000:06d}",
    )
    account = Account(id=uuid7(), phone=phone)
    session.add_all([citizen, account])
    await session.flush()
    session.add(AccountCitizen(account_id=account.id, citizen_id=citizen.id))
    await session.flush()
    return citizen, account


CLINICIAN = Actor(Source.clinician)


async def test_the_record_reads_in_one_response(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    citizen, account = await person(session, "+84906000001")
    service = RecordService(session)
    await service.add_item(
        citizen.id,
        "conditions",
        {"kind": "hypertension", "icd10": "I10", "detail": "THA độ 1"},
        actor=CLINICIAN,
        path="test",
    )
    await service.add_item(
        citizen.id,
        "vaccinations",
        {"vaccine_code": "TD", "dose_number": 1, "given_on": dt.date(2024, 3, 1)},
        actor=CLINICIAN,
        path="test",
    )
    auth = await login(session, settings, account.id)
    response = await client.get(f"/v1/citizens/{citizen.id}/record", headers=auth)
    assert response.status_code == 200
    body = response.json()
    assert body["administrative"]["full_name"] == "Phạm Văn Bình"
    [condition] = body["sections"]["conditions"]
    assert (condition["icd10"], condition["source"], condition["verified"]) == ("I10", "clinician", True)
    assert body["sections"]["vaccinations"][0]["vaccine_code"] == "TD"
    assert body["sections"]["risk-factors"] is None
    assert 0 <= body["completeness"] < 1
    assert response.headers["cache-control"] == "no-store"


async def test_self_update_needs_if_match_once_the_section_exists(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    citizen, account = await person(session, "+84906000002")
    auth = await login(session, settings, account.id)
    url = f"/v1/citizens/{citizen.id}/record/risk-factors"
    created = await client.put(url, json={"smoking": "quit", "alcohol": "no"}, headers=auth)
    assert created.status_code == 200
    assert created.headers["etag"] == '"1"'
    assert created.json()["source"] == "self"
    assert created.json()["verified"] is False
    assert (await client.put(url, json={"smoking": "no"}, headers=auth)).status_code == 428
    stale = await client.put(url, json={"smoking": "no"}, headers=auth | {"If-Match": '"0"'})
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    updated = await client.put(url, json={"smoking": "no"}, headers=auth | {"If-Match": '"1"'})
    assert updated.status_code == 200
    assert updated.headers["etag"] == '"2"'
    again = await client.put(url, json={"smoking": "yes"}, headers=auth | {"If-Match": '"1"'})
    assert again.status_code == 412, "the second phone's stale write is refused, not merged"
    row = (await session.scalars(select(RiskFactors).execution_options(populate_existing=True))).one()
    assert row.smoking == "no"
    history = (await session.scalars(select(RecordChange).where(RecordChange.section == "risk-factors"))).all()
    assert [h.action for h in history] == ["create", "update"]
    assert history[1].changes["smoking"] == ["quit", "no"]


async def test_there_is_no_drug_use_field_anywhere(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    citizen, account = await person(session, "+84906000003")
    auth = await login(session, settings, account.id)
    response = await client.put(
        f"/v1/citizens/{citizen.id}/record/risk-factors", json={"smoking": "no", "drug_use": "no"}, headers=auth
    )
    assert response.status_code == 400
    assert "drug_use" not in RiskFactors.__table__.columns


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("record/other", {"text": "Bệnh nhân nhiễm HIV, đang điều trị ARV"}),
        ("record/risk-factors", {"other": "tiền sử nghiện ma túy"}),
        ("record/allergies", {"category": "drug", "substance": "efavirenz", "reaction": "từng làm nghề mại dâm"}),
        ("record/family-history", {"relation": "father", "kind": "other", "icd10": "B20"}),
        ("record/family-history", {"relation": "mother", "kind": "other", "detail": "benh nhan nghien ma tuy"}),
        ("corrections", {"section": "conditions", "description": "tôi không bị HIV dương tính"}),
    ],
)
async def test_excluded_content_is_refused_named_not_echoed_and_not_stored(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, url: str, body: dict[str, Any]
) -> None:
    citizen, account = await person(session, "+84906000004")
    auth = await login(session, settings, account.id)
    method = client.put if url.startswith("record/other") or url.startswith("record/risk") else client.post
    response = await method(f"/v1/citizens/{citizen.id}/{url}", json=body, headers=auth)
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "urn:phr:problem:excluded-category"
    assert problem["title"] == "Thông tin thuộc nhóm không được lưu trong hồ sơ sức khỏe điện tử"
    assert problem["errors"][0]["field"], "the field is named"
    for value in body.values():
        if isinstance(value, str) and len(value) > 3:
            assert value not in response.text, "the value is never echoed"
    assert await session.scalar(select(func.count()).select_from(OtherInfo)) == 0
    assert await session.scalar(select(func.count()).select_from(RecordChange)) == 0
    receipts = (await session.scalars(select(ExclusionReceipt))).all()
    assert receipts, "a content-free receipt is kept"
    assert all(r.rule_id and r.path for r in receipts)


async def test_clinical_sections_are_read_only_to_citizens(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    citizen, account = await person(session, "+84906000005")
    condition = await RecordService(session).add_item(
        citizen.id, "conditions", {"kind": "diabetes", "icd10": "E11"}, actor=CLINICIAN, path="test"
    )
    auth = await login(session, settings, account.id)
    removal = await client.delete(f"/v1/citizens/{citizen.id}/record/sections/conditions/{condition.id}", headers=auth)
    assert removal.status_code == 403
    assert (
        await client.post(f"/v1/citizens/{citizen.id}/record/conditions", json={"kind": "x"}, headers=auth)
    ).status_code in (404, 405)
    assert (await session.scalars(select(Condition))).one().deleted_at is None


async def test_another_persons_record_does_not_exist(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _a, account_a = await person(session, "+84906000006")
    b, _ = await person(session, "+84906000007")
    auth = await login(session, settings, account_a.id)
    for path in ("record", "record.fhir", "record/sections/allergies", "corrections"):
        assert (await client.get(f"/v1/citizens/{b.id}/{path}", headers=auth)).status_code == 404
    put = await client.put(f"/v1/citizens/{b.id}/record/other", json={"text": "x"}, headers=auth)
    assert put.status_code == 404


async def test_allergies_are_added_paged_and_removed(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    citizen, account = await person(session, "+84906000008")
    auth = await login(session, settings, account.id)
    ids = []
    for substance in ("penicillin", "tôm", "bụi nhà"):
        response = await client.post(
            f"/v1/citizens/{citizen.id}/record/allergies",
            json={"category": "food", "substance": substance},
            headers=auth,
        )
        assert response.status_code == 201
        ids.append(response.json()["id"])
    first = (await client.get(f"/v1/citizens/{citizen.id}/record/sections/allergies?limit=2", headers=auth)).json()
    assert len(first["items"]) == 2
    page_two = f"/v1/citizens/{citizen.id}/record/sections/allergies?limit=2&cursor={first['next_cursor']}"
    second = (await client.get(page_two, headers=auth)).json()
    assert {i["id"] for i in first["items"] + second["items"]} == set(ids)
    assert second["next_cursor"] is None
    removed = await client.delete(f"/v1/citizens/{citizen.id}/record/sections/allergies/{ids[0]}", headers=auth)
    assert removed.status_code == 204
    left = (await client.get(f"/v1/citizens/{citizen.id}/record/sections/allergies", headers=auth)).json()
    assert ids[0] not in {i["id"] for i in left["items"]}


async def test_contact_details_patch_with_if_match(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    citizen, account = await person(session, "+84906000009")
    auth = await login(session, settings, account.id)
    url = f"/v1/citizens/{citizen.id}/record/contact"
    assert (await client.patch(url, json={"email": "a@example.vn"}, headers=auth)).status_code == 428
    ok = await client.patch(url, json={"email": "a@example.vn"}, headers=auth | {"If-Match": '"1"'})
    assert ok.status_code == 200
    assert ok.json()["email"] == "a@example.vn"
    assert ok.json()["cur_street"] is None, "fields not sent stay as they were"
    refused = await client.patch(url, json={"full_name": "Người khác"}, headers=auth | {"If-Match": '"2"'})
    assert refused.status_code == 400, "part A identity is not self-editable"


async def test_fhir_export_is_a_valid_r4_bundle(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    citizen, account = await person(session, "+84906000010")
    service = RecordService(session)
    await service.add_item(
        citizen.id,
        "allergies",
        {"category": "drug", "substance": "penicillin"},
        actor=Actor(Source.self, account_id=account.id),
        path="test",
    )
    await service.add_item(
        citizen.id, "conditions", {"kind": "hypertension", "icd10": "I10"}, actor=CLINICIAN, path="test"
    )
    await service.add_item(
        citizen.id,
        "vaccinations",
        {"vaccine_code": "BCG", "given_on": dt.date(1980, 5, 6)},
        actor=CLINICIAN,
        path="test",
    )
    await service.add_item(
        citizen.id,
        "vitals",
        {
            "kind": "blood_pressure",
            "value": 135,
            "value2": 85,
            "unit": "mm[Hg]",
            "measured_at": dt.datetime.now(dt.UTC),
        },
        actor=Actor(Source.self, account_id=account.id),
        path="test",
    )
    await service.add_examination(
        citizen.id,
        {"examined_on": dt.date(2026, 6, 1), "weight_kg": 60, "height_cm": 165, "bp_systolic": 120, "bp_diastolic": 80},
        [{"icd10": "J06.9", "text": "Viêm họng cấp", "main": True}],
        actor=CLINICIAN,
        path="test",
    )
    auth = await login(session, settings, account.id)
    response = await client.get(f"/v1/citizens/{citizen.id}/record.fhir", headers=auth)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    bundle = Bundle.model_validate(response.json())
    kinds = sorted({e.resource.get_resource_type() for e in bundle.entry})
    assert kinds == ["AllergyIntolerance", "Condition", "Encounter", "Immunization", "Observation", "Patient"]
    bmi = [
        e.resource
        for e in bundle.entry
        if e.resource.get_resource_type() == "Observation" and e.resource.code.coding[0].code == "39156-5"
    ]
    assert float(bmi[0].valueQuantity.value) == 22.0


@contextmanager
def count_queries(engine: AsyncEngine) -> Iterator[list[str]]:
    statements: list[str] = []

    def on_execute(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", on_execute)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", on_execute)


async def test_the_summary_costs_the_same_queries_whatever_the_record_size(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, engine: AsyncEngine
) -> None:
    small, small_account = await person(session, "+84906000011")
    large, large_account = await person(session, "+84906000012")
    service = RecordService(session)
    for citizen, n in ((small, 1), (large, 40)):
        for i in range(n):
            await service.add_item(
                citizen.id,
                "vaccinations",
                {"vaccine_code": "FLU", "given_on": dt.date(2000 + i % 26, 1, 1)},
                actor=CLINICIAN,
                path="test",
            )
            await service.add_item(
                citizen.id, "conditions", {"kind": "other", "detail": f"ghi chú {i}"}, actor=CLINICIAN, path="test"
            )
    counts = []
    for citizen, account in ((small, small_account), (large, large_account)):
        auth = await login(session, settings, account.id)
        with count_queries(engine) as statements:
            assert (await client.get(f"/v1/citizens/{citizen.id}/record", headers=auth)).status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1], "no N+1: the number of queries does not grow with the record"
    assert counts[1] <= 25


async def test_corrections_go_to_the_station_and_back(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    citizen, account = await person(session, "+84906000013")
    condition = await RecordService(session).add_item(
        citizen.id, "conditions", {"kind": "asthma", "icd10": "J45"}, actor=CLINICIAN, path="test"
    )
    auth = await login(session, settings, account.id)
    created = await client.post(
        f"/v1/citizens/{citizen.id}/corrections",
        json={"section": "conditions", "item_id": str(condition.id), "description": "Tôi không bị hen suyễn"},
        headers=auth,
    )
    assert created.status_code == 201
    assert created.json()["status"] == "open"
    wrong_item = await client.post(
        f"/v1/citizens/{citizen.id}/corrections",
        json={"section": "conditions", "item_id": str(uuid.uuid4()), "description": "không có"},
        headers=auth,
    )
    assert wrong_item.status_code == 404
    listed = (await client.get(f"/v1/citizens/{citizen.id}/corrections", headers=auth)).json()
    assert [c["correction_id"] for c in listed["items"]] == [created.json()["correction_id"]]


async def test_the_database_refuses_excluded_codes_even_past_the_service(session: AsyncSession) -> None:
    citizen, _ = await person(session, "+84906000014")
    session.add(Condition(citizen_id=citizen.id, kind="other", icd10="b20.1", source=Source.clinician))
    with pytest.raises(Exception, match="icd10_not_excluded"):
        await session.flush()


async def test_vaccine_catalogue_is_seeded(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _, account = await person(session, "+84906000015")
    catalogue = (await client.get("/v1/vaccines", headers=await login(session, settings, account.id))).json()
    codes = {v["code"] for v in catalogue}
    assert {"BCG", "HEPB0", "DPT-VGB-HIB", "MR", "JE", "TD", "ROTA", "HPV"} <= codes
    assert await session.scalar(select(func.count()).select_from(Vaccination)) == 0
