"""All tables, imported here so ``Base.metadata`` is complete for migrations and tests."""

from core.models.base import Base
from core.models.identity import Account, AccountStatus, Clinician, StaffRole
from core.models.people import Citizen, Household, InsuranceCard, Sex
from core.models.places import AdminUnit, Facility, FacilityKind, UnitLevel

__all__ = [
    "Account",
    "AccountStatus",
    "AdminUnit",
    "Base",
    "Citizen",
    "Clinician",
    "Facility",
    "FacilityKind",
    "Household",
    "InsuranceCard",
    "Sex",
    "StaffRole",
    "UnitLevel",
]
