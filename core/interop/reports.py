"""What an HIS episode import answers (``ImportReport``) and what a bulk import adds up to (``ImportTotals``).

Content-free by construction: counts, rule ids, ``TABLE.FIELD`` names and warning codes. A report may be shown to
the hospital, printed by the CLI and logged; it never carries a value from the file.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

import msgspec

from core.interop.episode import ParseWarning
from core.records.exclusion import POLICY_VERSION, Hit

# "dismissed": a station said a pending episode is none of its people; sent again, it stays that way.
Status = Literal["imported", "pending_match", "quarantined", "dismissed"]
MatchedBy = Literal["cccd", "bhxh", "station"]  # station: a pending match a station resolved


class Exclusion(msgspec.Struct, frozen=True, order=True):
    rule_id: str
    field: str  # TABLE.FIELD, or "XML6" / "episode"
    count: int


class ImportReport(msgspec.Struct, kw_only=True):
    """The outcome of one episode file."""

    status: Status
    facility_code: str
    already_imported: bool = False  # the same (facility, MA_LK) came before: nothing was changed
    encounter_id: uuid.UUID | None = None  # in the citizen's record (status "imported")
    pending_match_id: uuid.UUID | None = None  # waiting for a station (status "pending_match")
    matched_by: MatchedBy | None = None
    kept: dict[str, int] = {}
    excluded: list[Exclusion] = []
    warnings: list[ParseWarning] = []
    policy_version: str = POLICY_VERSION


def exclusions(hits: list[Hit]) -> list[Exclusion]:
    """Hits → one line per (rule, field) with its count, in a stable order."""
    counts = Counter((hit.rule_id, hit.field or "episode") for hit in hits)
    return [Exclusion(rule, where, n) for (rule, where), n in sorted(counts.items())]


@dataclass
class ImportTotals:
    """A bulk import's sums, for ``phr import his DIR``."""

    files: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    already: int = 0
    rejected: Counter[str] = field(default_factory=Counter)  # problem code → files
    kept: Counter[str] = field(default_factory=Counter)
    excluded: Counter[str] = field(default_factory=Counter)  # rule id → items

    def add(self, report: ImportReport) -> None:
        self.files += 1
        if report.already_imported:
            self.already += 1
            return  # counted the first time
        self.statuses[report.status] += 1
        self.kept.update(report.kept)
        for line in report.excluded:
            self.excluded[line.rule_id] += line.count

    def reject(self, code: str) -> None:
        self.files += 1
        self.rejected[code] += 1

    def lines(self) -> list[str]:
        def listing(counter: Counter[str]) -> str:
            return ", ".join(f"{key}={value}" for key, value in sorted(counter.items())) or "-"

        return [
            f"tệp {self.files}",
            f"đã nhập {self.statuses['imported']}",
            f"chờ trạm xác định người {self.statuses['pending_match']}",
            f"cách ly {self.statuses['quarantined']}",
            f"trạm đã loại {self.statuses['dismissed']}",
            f"đã nhập trước đó {self.already}",
            f"bị từ chối {sum(self.rejected.values())} ({listing(self.rejected)})",
            f"giữ lại: {listing(self.kept)}",
            f"loại bỏ: {listing(self.excluded)}",
        ]
