"""Hospital episodes nobody could be matched to: the station lists, attaches to one of its people, or dismisses."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import uuid7
from core.interop.episodes import Client, HisImportService
from core.models import Citizen, Clinician, Encounter, HisImport, HisImportStatus, PendingEpisode, StaffRole
from core.settings import Settings
from tests.core.interop.his_world import seed_world
from tests.core.interop.xml130_builder import episode_file
from tests.core.interop.xml130_samples import NOW, header
from tests.support import login_clinician


async def pending_episode(session: AsyncSession, settings: Settings, ma_lk: str) -> uuid.UUID:
    data = episode_file({"XML1": [header(ma_lk, "cuong", "J06.9", SO_CCCD="", MA_THE_BHYT="")]})
    report = await HisImportService(session, settings, now=NOW).import_file(data, Client())
    assert report.status == "pending_match" and report.pending_match_id is not None
    return report.pending_match_id


async def staff_of(session: AsyncSession, facility_id: uuid.UUID, settings: Settings) -> dict[str, str]:
    staff = Clinician(
        id=uuid7(),
        facility_id=facility_id,
        full_name="YS. Thử",
        role=StaffRole.station_staff,
        username=f"staff-{uuid7().hex[-12:]}",
    )
    session.add(staff)
    await session.flush()
    return await login_clinician(session, settings, staff)


async def test_the_station_lists_and_attaches_an_episode_to_one_of_its_people(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    ids = await seed_world(session)
    pending_id = await pending_episode(session, settings, "LK-PEND-1")
    headers = await staff_of(session, ids["station"], settings)
    listed = await client.get("/v1/station/his-episodes/pending", headers=headers)
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["items"]
    assert item["id"] == str(pending_id)
    assert (item["full_name"], item["reason"], item["suggested_citizen_id"]) == (
        "Lê Văn Cường",
        "no_identifier",
        str(ids["cuong"]),
    )
    assert "J06" not in listed.text, "deciding whose episode it is needs no diagnosis"

    # Only one of the station's own people: the suggested person is not registered there yet → not found.
    refused = await client.post(
        f"/v1/station/his-episodes/pending/{pending_id}/resolve",
        json={"citizen_id": str(ids["cuong"])},
        headers=headers,
    )
    assert refused.status_code == 404
    cuong = await session.get(Citizen, ids["cuong"])
    assert cuong is not None
    cuong.home_facility_id = ids["station"]
    await session.flush()
    resolved = await client.post(
        f"/v1/station/his-episodes/pending/{pending_id}/resolve",
        json={"citizen_id": str(ids["cuong"])},
        headers=headers,
    )
    assert resolved.status_code == 200, resolved.text
    encounter = await session.get(Encounter, uuid.UUID(resolved.json()["encounter_id"]))
    assert encounter is not None and encounter.citizen_id == ids["cuong"]
    assert (await client.get("/v1/station/his-episodes/pending", headers=headers)).json()["items"] == []
    again = await client.post(
        f"/v1/station/his-episodes/pending/{pending_id}/resolve",
        json={"citizen_id": str(ids["cuong"])},
        headers=headers,
    )
    assert again.status_code == 404, "resolved once"


async def test_dismissing_wipes_the_copy_and_another_station_sees_nothing(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    ids = await seed_world(session)
    pending_id = await pending_episode(session, settings, "LK-PEND-2")
    other = await staff_of(session, ids["hospital"], settings)  # staff of another facility
    assert (await client.get("/v1/station/his-episodes/pending", headers=other)).json()["items"] == []
    assert (
        await client.post(f"/v1/station/his-episodes/pending/{pending_id}/dismiss", headers=other)
    ).status_code == 404
    headers = await staff_of(session, ids["station"], settings)
    dismissed = await client.post(f"/v1/station/his-episodes/pending/{pending_id}/dismiss", headers=headers)
    assert dismissed.status_code == 204
    pending = await session.get(PendingEpisode, pending_id)
    assert pending is not None and pending.episode == {}, "the held copy is wiped"
    ledger = await session.scalar(select(HisImport).where(HisImport.pending_id == pending_id))
    assert ledger is not None and ledger.status is HisImportStatus.dismissed
    # Sent again, the same episode changes nothing.
    count = await session.scalar(select(func.count()).select_from(PendingEpisode))
    data = episode_file({"XML1": [header("LK-PEND-2", "cuong", "J06.9", SO_CCCD="", MA_THE_BHYT="")]})
    await HisImportService(session, settings, now=NOW).import_file(data, Client())
    assert await session.scalar(select(func.count()).select_from(PendingEpisode)) == count


async def test_paging_and_bad_input(client: httpx.AsyncClient, session: AsyncSession, settings: Settings) -> None:
    ids = await seed_world(session)
    made = [await pending_episode(session, settings, f"LK-PAGE-{n}") for n in range(3)]
    headers = await staff_of(session, ids["station"], settings)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/v1/station/his-episodes/pending", params=params, headers=headers)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [str(m) for m in made]
    for params in ({"limit": 0}, {"limit": 101}, {"cursor": "nonsense"}):
        bad = await client.get("/v1/station/his-episodes/pending", params=params, headers=headers)
        assert 400 <= bad.status_code < 500 and bad.headers["content-type"].startswith("application/problem+json")
    garbage = await client.post(
        f"/v1/station/his-episodes/pending/{made[0]}/resolve", json={"citizen": "x"}, headers=headers
    )
    assert garbage.status_code == 400
