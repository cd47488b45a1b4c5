"""All tables, imported here so ``Base.metadata`` is complete for migrations and tests."""

from core.models.base import Base
from core.models.identity import Account, AccountStatus, Clinician, StaffRole
from core.models.notifications import TERMINAL_STATUSES, Channel, DeliveryStatus, Device, Notification, Platform
from core.models.people import Citizen, Household, InsuranceCard, Sex
from core.models.places import AdminUnit, Facility, FacilityKind, UnitLevel

__all__ = [
    "TERMINAL_STATUSES",
    "Account",
    "AccountStatus",
    "AdminUnit",
    "Base",
    "Channel",
    "Citizen",
    "Clinician",
    "DeliveryStatus",
    "Device",
    "Facility",
    "FacilityKind",
    "Household",
    "InsuranceCard",
    "Notification",
    "Platform",
    "Sex",
    "StaffRole",
    "UnitLevel",
]
