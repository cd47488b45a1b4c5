"""Administrative units and health facilities: codes from the national lists, names for display."""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import CheckConstraint, Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, created_at, uuid_pk


class UnitLevel(enum.StrEnum):
    province = "province"
    district = "district"
    commune = "commune"


class AdminUnit(Base):
    """Province / district / commune, keyed by its numeric code (store codes, show names)."""

    __tablename__ = "admin_units"
    __table_args__ = (CheckConstraint("code ~ '^[0-9]{2,5}$'", name="code_digits"),)

    code: Mapped[str] = mapped_column(String(5), primary_key=True)
    level: Mapped[UnitLevel] = mapped_column(Enum(UnitLevel, name="unit_level"))
    name: Mapped[str] = mapped_column(String(120))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("admin_units.code", ondelete="RESTRICT"), index=True)


class FacilityKind(enum.StrEnum):
    health_station = "health_station"  # trạm y tế xã/phường
    district_center = "district_center"  # trung tâm y tế huyện
    hospital = "hospital"
    clinic = "clinic"


class Facility(Base):
    """A place care is given, identified by its 5-character MA_CSKCB code (QĐ 384/QĐ-BYT)."""

    __tablename__ = "facilities"
    __table_args__ = (CheckConstraint("code ~ '^[0-9A-Z]{5}$'", name="code_format"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    code: Mapped[str] = mapped_column(String(5), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[FacilityKind] = mapped_column(Enum(FacilityKind, name="facility_kind"))
    commune_code: Mapped[str | None] = mapped_column(ForeignKey("admin_units.code"), index=True)
    address: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = created_at()
