"""Test data for HIS imports: the people of the samples, a hospital, a station; and the scan of every column.

The scan is the one tests/api/test_exclusion_everywhere.py runs after its property tests (every text, code and JSON
column of every table through the exclusion policy), as a function both HIS test modules call.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core.ids import uuid7
from core.models import (
    Account,
    AccountCitizen,
    AdminUnit,
    Base,
    Citizen,
    Facility,
    FacilityKind,
    Sex,
    UnitLevel,
)
from tests.core.interop.xml130_samples import HOSPITAL, PEOPLE, STRANGER_COMMUNE


async def seed_world(session: AsyncSession) -> dict[str, uuid.UUID]:
    """PEOPLE as citizens (an account for those who have one), the sending hospital, the stranger's station."""
    ids: dict[str, uuid.UUID] = {}
    if await session.get(AdminUnit, STRANGER_COMMUNE) is None:
        session.add(AdminUnit(code=STRANGER_COMMUNE, level=UnitLevel.commune, name="Xã Thử Nghiệm"))
        await session.flush()
    hospital = Facility(id=uuid7(), code=HOSPITAL, name="Bệnh viện Đa khoa Thử", kind=FacilityKind.hospital)
    station = Facility(
        id=uuid7(), code="51T09", name="Trạm Y tế Thử", kind=FacilityKind.health_station, commune_code=STRANGER_COMMUNE
    )
    session.add_all([hospital, station])
    ids |= {"hospital": hospital.id, "station": station.id}
    for person in PEOPLE:
        citizen = Citizen(
            id=uuid7(),
            full_name=person.full_name,
            sex=Sex(person.sex),
            date_of_birth=person.date_of_birth,
            cccd=person.cccd,
            bhxh_number=person.bhxh,
        )
        session.add(citizen)
        ids[person.key] = citizen.id
    await session.flush()
    for index, person in enumerate(p for p in PEOPLE if p.has_account):
        account = Account(id=uuid7(), phone=f"+8490700{index:04d}")
        session.add(account)
        await session.flush()
        session.add(AccountCitizen(account_id=account.id, citizen_id=ids[person.key]))
        ids[f"account_{person.key}"] = account.id
    await session.flush()
    return ids


async def row_counts(conn: AsyncConnection) -> dict[str, int]:
    counts = {}
    for table in Base.metadata.sorted_tables:
        counts[table.name] = (await conn.execute(select(func.count()).select_from(table))).scalar_one()
    return counts


async def receipts_for(conn: AsyncConnection) -> int:
    return int((await conn.execute(text("SELECT count(*) FROM exclusion_receipts"))).scalar_one())
