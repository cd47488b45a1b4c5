"""Test data for clinician and machine-client sign-in."""

from __future__ import annotations

import datetime as dt

import pyotp
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.crypto import seal
from core.identity.clinicians import TOTP_PURPOSE
from core.models import Clinician, Facility, FacilityKind, MachineClient, StaffRole
from core.settings import Settings

PASSWORD = "mật-khẩu-đúng-2026"
# Cheap parameters keep the tests fast; a successful login rehashes them with the service's real parameters.
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
NOW = dt.datetime(2026, 11, 24, 1, 30, tzinfo=dt.UTC)  # 08:30 in Quảng Ngãi


async def make_facility(session: AsyncSession, code: str = "51T01") -> Facility:
    found = await session.scalar(select(Facility).where(Facility.code == code))
    if found is not None:
        return found
    facility = Facility(code=code, name=f"Trạm Y tế {code}", kind=FacilityKind.health_station)
    session.add(facility)
    await session.flush()
    return facility


async def make_clinician(
    session: AsyncSession,
    settings: Settings,
    *,
    username: str = "bs.nguyen",
    password: str | None = PASSWORD,
    totp_secret: str | None = None,
    role: StaffRole = StaffRole.clinician,
    active: bool = True,
) -> Clinician:
    """A clinician; with ``totp_secret`` TOTP is already enrolled with that (base32) secret."""
    facility = await make_facility(session)
    clinician = Clinician(
        facility_id=facility.id,
        full_name="BS. Nguyễn Văn Thử",
        role=role,
        username=username,
        password_hash=CHEAP.hash(password) if password else None,
        totp_sealed=seal(settings.secret_key, TOTP_PURPOSE, totp_secret.encode()) if totp_secret else None,
        totp_enabled_at=NOW if totp_secret else None,
        active=active,
    )
    session.add(clinician)
    await session.flush()
    return clinician


def wrong_code(secret: str, at: dt.datetime | None = None) -> str:
    """Six digits that are not the code of the previous, current or next time step."""
    totp = pyotp.TOTP(secret)
    at = at or dt.datetime.now(dt.UTC)
    valid = {totp.at(at, counter_offset=offset) for offset in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


async def make_machine_client(
    session: AsyncSession,
    *,
    client_id: str = "his-bvdk",
    secret: str = "s3cret:with%odd chars",
    scopes: tuple[str, ...] = ("his:episodes:write", "immunization:write"),
    facility: Facility | None = None,
    active: bool = True,
) -> MachineClient:
    client = MachineClient(
        client_id=client_id,
        secret_hash=CHEAP.hash(secret),
        name="HIS Bệnh viện (thử)",
        facility_id=facility.id if facility else None,
        scopes=list(scopes),
        active=active,
    )
    session.add(client)
    await session.flush()
    return client


async def reload(session: AsyncSession, clinician: Clinician) -> Clinician:
    """The clinician as the database has it now (requests write through their own sessions)."""
    fresh = await session.scalar(
        select(Clinician).where(Clinician.id == clinician.id).execution_options(populate_existing=True)
    )
    assert fresh is not None
    return fresh
