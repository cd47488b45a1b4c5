"""``POST /v1/integration/his/episodes`` over HTTP, and ``phr import his DIR`` over the samples folder."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from asyncio.subprocess import PIPE
from pathlib import Path

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core.db import Database
from core.identity.tokens import mint_access_token
from core.interop.xml130 import MAX_FILE_BYTES
from core.models import Facility, FacilityKind
from core.settings import Settings
from tests.core.identity.factories import make_machine_client
from tests.core.interop.his_world import row_counts, seed_world
from tests.core.interop.test_xml130 import BILLION_LAUGHS, EXTERNAL_ENTITY, XML1
from tests.core.interop.xml130_builder import envelope, table_xml
from tests.core.interop.xml130_samples import SAMPLES, SAMPLES_DIR, sample_bytes
from tests.support import login, scan_every_column

URL = "/v1/integration/his/episodes"
XML = {"Content-Type": "application/xml"}
ROOT = Path(__file__).resolve().parents[3]


def machine_headers(settings: Settings, client_id: uuid.UUID, scope: str, facility: uuid.UUID | None = None) -> dict:
    extra: dict[str, str] = {"scope": scope} | ({"fac": str(facility)} if facility else {})
    token = mint_access_token(settings.jwt_private_key_pem, client_id, kind="machine", extra=extra)
    return {"Authorization": f"Bearer {token}", **XML}


@pytest.fixture
async def world(session: AsyncSession) -> dict[str, uuid.UUID]:
    ids = await seed_world(session)
    his = await make_machine_client(session, client_id="his-test", scopes=("his:episodes:write",))
    other = await make_machine_client(session, client_id="immunization-test", scopes=("immunization:write",))
    return ids | {"client": his.id, "other_client": other.id}


@pytest.fixture
def his(settings: Settings, world: dict[str, uuid.UUID]) -> dict[str, str]:
    return machine_headers(settings, world["client"], "his:episodes:write")


async def test_an_episode_is_imported_once_and_the_citizen_reads_it(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    world: dict[str, uuid.UUID],
    his: dict[str, str],
) -> None:
    first = await client.post(URL, content=sample_bytes("01_tang_huyet_ap_ngoai_tru"), headers=his)
    assert first.status_code == 201, first.text
    report = first.json()
    assert (report["status"], report["matched_by"], report["already_imported"]) == ("imported", "cccd", False)
    second = await client.post(URL, content=sample_bytes("01_tang_huyet_ap_ngoai_tru"), headers=his)
    assert second.status_code == 200
    assert second.json() | {"already_imported": False} == report, "the same report, the same encounter id"
    assert second.json()["already_imported"] is True

    citizen = await login(session, settings, world["account_an"])
    base = f"/v1/citizens/{world['an']}/record"
    page = (await client.get(f"{base}/sections/encounters", headers=citizen)).json()
    [encounter] = page["items"]
    assert encounter["id"] == report["encounter_id"]
    assert (encounter["main_icd10"], encounter["secondary_icd10"], encounter["source"]) == (
        "I10",
        "E78.5",
        "his_import",
    )
    assert [m["name"] for m in encounter["medications"]] == ["Amlodipin", "Atorvastatin"]
    assert encounter["follow_up_on"] == "2026-12-15"
    whole = (await client.get(base, headers=citizen)).json()
    assert [e["id"] for e in whole["sections"]["encounters"]] == [report["encounter_id"]]
    fhir = (await client.get(f"{base}.fhir", headers=citizen)).json()
    Bundle.model_validate(fhir)
    encounters = [e["resource"] for e in fhir["entry"] if e["resource"]["id"] == report["encounter_id"]]
    assert [c["coding"][0]["code"] for c in encounters[0]["reasonCode"]] == ["I10", "E78.5"]
    removal = await client.delete(f"{base}/sections/encounters/{report['encounter_id']}", headers=citizen)
    assert removal.status_code == 403, "a citizen disputes a hospital's episode by correction request, not deletion"


@pytest.mark.parametrize("name", [n for n, (_t, expected) in SAMPLES.items() if expected["status"] != "imported"])
async def test_quarantined_and_pending_episodes(
    client: httpx.AsyncClient, world: dict[str, uuid.UUID], his: dict[str, str], name: str
) -> None:
    response = await client.post(URL, content=sample_bytes(name), headers=his)
    expected = SAMPLES[name][1]
    assert response.status_code == (201 if expected["status"] == "pending_match" else 200)
    body = response.json()
    assert (body["status"], body["excluded"], body["encounter_id"]) == (expected["status"], expected["excluded"], None)


XML1_FILE = table_xml("XML1", [XML1])
HOSTILE = {
    "billion laughs": (BILLION_LAUGHS, 400, "xml_dtd_forbidden"),
    "external entity": (EXTERNAL_ENTITY, 400, "xml_dtd_forbidden"),
    "entity in a table": (envelope([("XML1", XML1_FILE), ("XML2", EXTERNAL_ENTITY)]), 400, "xml_dtd_forbidden"),
    "malformed": (b"<GIAMDINHHS><HOSO>", 400, "xml_malformed"),
    "deep": (b"<a>" * 200 + b"</a>" * 200, 400, "xml_too_deep"),
    "not base64": (
        envelope([("XML1", XML1_FILE)]).replace(b"<NOIDUNGFILE>", b"<NOIDUNGFILE>%"),
        400,
        "table_not_base64",
    ),
    "not XML 130": (b"<?xml version='1.0'?><hoso/>", 422, "not_xml130"),
    "no XML1": (envelope([("XML2", table_xml("XML2", [{"TEN_THUOC": "x"}]))]), 422, "xml1_missing"),
    "oversized": (b"<GIAMDINHHS>" + b" " * MAX_FILE_BYTES + b"</GIAMDINHHS>", 413, None),
}


@pytest.mark.parametrize("case", list(HOSTILE))
async def test_hostile_and_broken_files_get_a_problem_and_nothing_is_stored(
    client: httpx.AsyncClient, connection: AsyncConnection, his: dict[str, str], case: str
) -> None:
    data, status, code = HOSTILE[case]
    before = await row_counts(connection)
    response = await client.post(URL, content=data, headers=his | {"Accept-Language": "en"})
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json().get("code") == code
    assert await row_counts(connection) == before
    assert "passwd" not in response.text and "lol" not in response.text


async def test_the_body_must_be_xml(client: httpx.AsyncClient, his: dict[str, str]) -> None:
    response = await client.post(URL, json={"file": "x"}, headers={"Authorization": his["Authorization"]})
    assert response.status_code == 415
    assert response.json()["type"] == "urn:phr:problem:unsupported-media-type"


async def test_only_machine_clients_with_the_scope_and_their_own_facility(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, world: dict[str, uuid.UUID]
) -> None:
    data = sample_bytes("01_tang_huyet_ap_ngoai_tru")
    assert (await client.post(URL, content=data, headers=XML)).status_code == 401
    citizen = await login(session, settings, world["account_an"])
    assert (await client.post(URL, content=data, headers=citizen | XML)).status_code == 401
    no_scope = machine_headers(settings, world["other_client"], "immunization:write")
    refused = await client.post(URL, content=data, headers=no_scope)
    assert (refused.status_code, refused.json()["code"]) == (403, "insufficient_scope")
    other = Facility(code="51009", name="Bệnh viện khác", kind=FacilityKind.hospital)
    session.add(other)
    await session.flush()
    bound = machine_headers(settings, world["client"], "his:episodes:write", facility=other.id)
    refused = await client.post(URL, content=data, headers=bound)
    assert (refused.status_code, refused.json()["code"]) == (403, "facility_mismatch")
    own = machine_headers(settings, world["client"], "his:episodes:write", facility=world["hospital"])
    assert (await client.post(URL, content=data, headers=own)).status_code == 201


async def test_after_every_sample_over_http_no_column_holds_anything_excluded(
    client: httpx.AsyncClient, connection: AsyncConnection, world: dict[str, uuid.UUID], his: dict[str, str]
) -> None:
    for name in sorted(SAMPLES):
        response = await client.post(URL, content=sample_bytes(name), headers=his)
        assert response.status_code in (200, 201), (name, response.text)
    assert await scan_every_column(connection) == []


async def phr(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "api.cli", *args, cwd=ROOT, env=env, stdout=PIPE, stderr=PIPE
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_the_cli_imports_a_folder_with_a_progress_bar_and_prints_the_totals(
    committed: Database, database_url: str, tmp_path: Path
) -> None:
    async with committed.transaction() as session:
        await seed_world(session)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHR_")}
    env |= {"PHR_DATABASE_URL": database_url, "PHR_DATA_DIR": str(tmp_path), "PHR_LOG_FORMAT": "json"}
    (tmp_path / "episodes").mkdir()
    for sample in SAMPLES_DIR.glob("*.xml"):
        (tmp_path / "episodes" / sample.name).write_bytes(sample.read_bytes())
    (tmp_path / "episodes" / "99_hong.xml").write_bytes(BILLION_LAUGHS)

    status, out, err = await phr("import", "his", str(tmp_path / "episodes"), env=env)
    assert status == 1, err  # one file was refused
    assert f"100.0% {len(SAMPLES) + 1} tệp" in err, "the progress bar reaches the end on stderr"
    totals = out.strip().splitlines()[-1]
    for part in (
        f"tệp {len(SAMPLES) + 1}",
        "đã nhập 8",
        "chờ trạm xác định người 1",
        "cách ly 3",
        "đã nhập trước đó 0",
        "bị từ chối 1 (xml_dtd_forbidden=1)",
        "med.oat.methadone=1",
        "his.xml6=1",
    ):
        assert part in totals, (part, totals)

    status, out, _err = await phr("import", "his", str(tmp_path / "episodes"), "--no-progress", env=env)
    assert "đã nhập 0" in out and f"đã nhập trước đó {len(SAMPLES)}" in out, "a second run changes nothing"
    async with committed.engine.connect() as conn:
        assert await scan_every_column(conn) == []
