"""All tables, imported here so ``Base.metadata`` is complete for migrations and tests."""

from core.models.access import (
    AccountCitizen,
    Delegation,
    DelegationStatus,
    Guardianship,
    LinkRequest,
    LinkRequestStatus,
)
from core.models.auth import (
    AuthSession,
    ClinicianLoginChallenge,
    DeviceChallenge,
    DeviceKey,
    OtpChallenge,
    PhoneGuard,
    RateCounter,
    RefreshToken,
    SubjectKind,
)
from core.models.base import Base
from core.models.identity import Account, AccountStatus, Clinician, MachineClient, RecoveryCode, StaffRole
from core.models.notifications import TERMINAL_STATUSES, Channel, DeliveryStatus, Device, Notification, Platform
from core.models.people import Citizen, Household, InsuranceCard, Sex
from core.models.places import AdminUnit, Facility, FacilityKind, UnitLevel

__all__ = [
    "TERMINAL_STATUSES",
    "Account",
    "AccountCitizen",
    "AccountStatus",
    "AdminUnit",
    "AuthSession",
    "Base",
    "Channel",
    "Citizen",
    "Clinician",
    "ClinicianLoginChallenge",
    "Delegation",
    "DelegationStatus",
    "DeliveryStatus",
    "Device",
    "DeviceChallenge",
    "DeviceKey",
    "Facility",
    "FacilityKind",
    "Guardianship",
    "Household",
    "InsuranceCard",
    "LinkRequest",
    "LinkRequestStatus",
    "MachineClient",
    "Notification",
    "OtpChallenge",
    "PhoneGuard",
    "Platform",
    "RateCounter",
    "RecoveryCode",
    "RefreshToken",
    "Sex",
    "StaffRole",
    "SubjectKind",
    "UnitLevel",
]
