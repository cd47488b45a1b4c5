"""Who is writing (the actor), the exclusion check every write goes through, and the change history."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Excluded
from core.models import ExclusionReceipt, RecordChange, Source
from core.records.exclusion import DEFAULT_POLICY, POLICY_VERSION, ExclusionPolicy, Hit

# Fields holding ICD-10 codes: checked as codes, not as text.
CODE_FIELDS = frozenset({"icd10"})


@dataclass(frozen=True, slots=True)
class Actor:
    """The writer of a change: a citizen (or guardian / delegate) through the app, a clinician, a station, an import."""

    source: Source
    account_id: uuid.UUID | None = None
    clinician_id: uuid.UUID | None = None
    facility_id: uuid.UUID | None = None

    @property
    def verified(self) -> bool:
        # What a clinician or a station writes is verified; what a person says about themself is shown as such.
        return self.source in (Source.clinician, Source.station)

    def provenance(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "verified": self.verified,
            "author_account_id": self.account_id,
            "author_clinician_id": self.clinician_id,
            "facility_id": self.facility_id,
        }


def find_excluded(payload: Any, policy: ExclusionPolicy = DEFAULT_POLICY) -> list[Hit]:
    """Every free text and every code field of a write, through the exclusion policy."""
    return policy.scan(payload, code_fields=CODE_FIELDS)


async def refuse_excluded(
    session: AsyncSession, payload: Any, *, path: str, actor: Actor, policy: ExclusionPolicy = DEFAULT_POLICY
) -> None:
    """Reject the whole write if anything in it is excluded; leave only content-free receipts behind."""
    hits = find_excluded(payload, policy)
    if not hits:
        return
    for rule_id in sorted({hit.rule_id for hit in hits}):
        session.add(
            ExclusionReceipt(
                policy_version=POLICY_VERSION,
                rule_id=rule_id,
                path=path,
                source=actor.source.value,
                facility_id=actor.facility_id,
                count=sum(1 for hit in hits if hit.rule_id == rule_id),
            )
        )
    raise Excluded(
        "the submitted data contains an excluded category",
        code="excluded_category",
        field=hits[0].field,
        keep_changes=True,  # the receipts are kept; the data never was
    )


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


def record_change(
    session: AsyncSession,
    *,
    citizen_id: uuid.UUID,
    section: str,
    item_id: uuid.UUID,
    action: str,
    actor: Actor,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Append to the history: for each field that changed, its value before and after."""
    before, after = before or {}, after or {}
    changes = {
        key: [_plain(before.get(key)), _plain(after.get(key))]
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }
    session.add(
        RecordChange(
            citizen_id=citizen_id,
            section=section,
            item_id=item_id,
            action=action,
            actor_account_id=actor.account_id,
            actor_clinician_id=actor.clinician_id,
            changes=changes,
        )
    )
