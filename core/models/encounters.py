"""Hospital episodes imported from HIS (XML 130): the encounter in the record, the import ledger, pending matches.

What is stored here has already been through the exclusion filter (``core/interop/screening.py``). The ICD-10
columns also carry the database CHECK of migration 0004 (added in migration 0009), so an excluded code cannot be
stored even by a bug. A quarantined episode leaves nothing here: only content-free exclusion receipts.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import Date, Enum, ForeignKey, Index, LargeBinary, SmallInteger, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, created_at, updated_at, uuid_pk
from core.models.records import ExclusionReceipt, Provenance, Removable


class Encounter(Provenance, Removable, Base):
    """One hospital episode as the citizen's record keeps it: header, diagnoses, texts, drug and lab lines."""

    __tablename__ = "record_encounters"
    __table_args__ = (Index("ix_record_encounters_citizen_admitted", "citizen_id", "admitted_at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    facility_code: Mapped[str] = mapped_column(String(5))  # MA_CSKCB of the hospital that sent it
    kind: Mapped[str | None] = mapped_column(String(4))  # MA_LOAI_KCB: outpatient visit, day care, inpatient …
    department: Mapped[str | None] = mapped_column(String(50))  # MA_KHOA
    admitted_at: Mapped[dt.datetime] = mapped_column()
    discharged_at: Mapped[dt.datetime | None] = mapped_column()
    treatment_days: Mapped[int | None] = mapped_column(SmallInteger)
    outcome: Mapped[str | None] = mapped_column(String(4))  # KET_QUA_DTRI
    discharge_type: Mapped[str | None] = mapped_column(String(4))  # MA_LOAI_RV
    main_icd10: Mapped[str | None] = mapped_column(String(10))
    secondary_icd10: Mapped[str | None] = mapped_column(String(200))  # "I10;E11.9", as MA_BENH_KT writes them
    reason: Mapped[str | None] = mapped_column(Text)  # LY_DO_VV
    admission_diagnosis: Mapped[str | None] = mapped_column(Text)  # CHAN_DOAN_VAO
    discharge_diagnosis: Mapped[str | None] = mapped_column(Text)  # CHAN_DOAN_RV
    treatment: Mapped[str | None] = mapped_column(Text)  # PP_DIEU_TRI
    note: Mapped[str | None] = mapped_column(Text)  # GHI_CHU
    follow_up_on: Mapped[dt.date | None] = mapped_column(Date)  # XML14 NGAY_HEN_KL (the earliest)
    # Papers of the episode, texts only: discharge (XML7), record summary (XML8), referral (XML13), TB (XML15).
    documents: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    medications: Mapped[list[Any]] = mapped_column(JSONB, default=list, server_default=text("'[]'::jsonb"))
    services: Mapped[list[Any]] = mapped_column(JSONB, default=list, server_default=text("'[]'::jsonb"))
    lab_results: Mapped[list[Any]] = mapped_column(JSONB, default=list, server_default=text("'[]'::jsonb"))


class HisImportStatus(enum.StrEnum):
    imported = "imported"
    pending_match = "pending_match"  # no citizen matched yet: a station resolves it
    dismissed = "dismissed"  # the station said it is none of its people; sending it again changes nothing


class HisImport(Base):
    """The idempotency ledger: one row per (facility, MA_LK) kept, found by a keyed hash of that pair.

    Quarantined episodes have no row here; their exclusion receipts carry the same hash instead.
    """

    __tablename__ = "his_imports"

    id: Mapped[uuid.UUID] = uuid_pk()
    record_key_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    facility_code: Mapped[str] = mapped_column(String(5))
    facility_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("facilities.id", ondelete="SET NULL"))
    client_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("machine_clients.id", ondelete="SET NULL"))
    status: Mapped[HisImportStatus] = mapped_column(Enum(HisImportStatus, name="his_import_status"))
    encounter_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("record_encounters.id", ondelete="SET NULL"))
    pending_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("his_pending_episodes.id", ondelete="SET NULL"), index=True
    )
    matched_by: Mapped[str | None] = mapped_column(String(10))  # cccd, bhxh, station (a pending match resolved)
    policy_version: Mapped[str] = mapped_column(String(20))
    kept: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)  # counts per kind of item
    warnings: Mapped[list[Any]] = mapped_column(JSONB, default=list)  # [{code, field}]: no values
    created_at: Mapped[dt.datetime] = created_at()
    updated_at: Mapped[dt.datetime] = updated_at()


class PendingStatus(enum.StrEnum):
    open = "open"
    resolved = "resolved"
    dismissed = "dismissed"


class PendingEpisode(Base):
    """An episode (already filtered) whose person matched nobody, or more than one record: a station decides.

    Never a silent merge: ``suggested_citizen_id`` (same name, date of birth and sex) is only a hint. Once resolved
    or dismissed the episode's content is wiped; the ledger keeps the outcome.
    """

    __tablename__ = "his_pending_episodes"
    __table_args__ = (Index("ix_his_pending_episodes_facility_status", "facility_id", "status"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    # The health station of the person's commune (MAXA_CU_TRU), when the province has one in the register.
    facility_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("facilities.id", ondelete="SET NULL"))
    source_facility_code: Mapped[str] = mapped_column(String(5))
    reason: Mapped[str] = mapped_column(String(30))  # no_identifier, not_found, identifiers_disagree
    episode: Mapped[dict[str, Any]] = mapped_column(JSONB)
    suggested_citizen_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("citizens.id", ondelete="SET NULL"))
    status: Mapped[PendingStatus] = mapped_column(
        Enum(PendingStatus, name="his_pending_status"), default=PendingStatus.open, server_default="open"
    )
    resolved_citizen_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("citizens.id", ondelete="SET NULL"))
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("clinicians.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = created_at()
    resolved_at: Mapped[dt.datetime | None] = mapped_column()


# Receipts are looked up by the source record's hash when an episode comes again (a quarantined repeat has no
# ledger row). Declared here, next to the only code that needs it, so records.py stays as it is.
Index("ix_exclusion_receipts_record_key_hash", ExclusionReceipt.__table__.c.record_key_hash)
