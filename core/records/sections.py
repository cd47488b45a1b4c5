"""The sections of the record and who may write them.

Citizens (and their guardians and delegates) may self-update contact details, lifestyle risk factors, allergies,
family history, reproductive history, "other" and self-measured vitals. Everything clinical — birth status,
conditions, disabilities, surgeries, vaccinations, examinations, diagnoses, notes — comes from clinicians, stations
or imports; a citizen who thinks it is wrong files a correction request.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.models import (
    Allergy,
    BirthStatus,
    Condition,
    Diagnosis,
    Disability,
    Encounter,
    Examination,
    FamilyHistory,
    Note,
    OtherInfo,
    Reproductive,
    RiskFactors,
    Surgery,
    Vaccination,
    Vital,
)
from core.models.base import Base


@dataclass(frozen=True, slots=True)
class Section:
    name: str
    model: type[Base]
    single: bool  # one row per citizen (PUT with If-Match) or a list (add / remove items)
    self_editable: bool
    order_by: str = "created_at"  # list order, newest first


SECTIONS: dict[str, Section] = {
    s.name: s
    for s in [
        Section("birth", BirthStatus, single=True, self_editable=False),
        Section("risk-factors", RiskFactors, single=True, self_editable=True),
        Section("reproductive", Reproductive, single=True, self_editable=True),
        Section("other", OtherInfo, single=True, self_editable=True),
        Section("allergies", Allergy, single=False, self_editable=True),
        Section("family-history", FamilyHistory, single=False, self_editable=True),
        Section("conditions", Condition, single=False, self_editable=False),
        Section("disabilities", Disability, single=False, self_editable=False),
        Section("surgeries", Surgery, single=False, self_editable=False),
        Section("vaccinations", Vaccination, single=False, self_editable=False, order_by="given_on"),
        Section("examinations", Examination, single=False, self_editable=False, order_by="examined_on"),
        Section("diagnoses", Diagnosis, single=False, self_editable=False, order_by="diagnosed_on"),
        Section("notes", Note, single=False, self_editable=False, order_by="written_on"),
        Section("vitals", Vital, single=False, self_editable=True, order_by="measured_at"),
        # Hospital episodes imported from HIS (XML 130, core/interop): read-only for citizens, like every clinical part.
        Section("encounters", Encounter, single=False, self_editable=False, order_by="admitted_at"),
    ]
}

# Columns a writer never sets through a section's values: identity, provenance, bookkeeping.
PROTECTED = frozenset(
    {
        "id",
        "citizen_id",
        "source",
        "verified",
        "author_account_id",
        "author_clinician_id",
        "facility_id",
        "version",
        "created_at",
        "updated_at",
        "deleted_at",
    }
)
