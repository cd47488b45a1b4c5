"""The immunization feed: doses administered, as JSON lines, from the province's immunization system.

One line is one dose. Each line stands alone: a line that cannot be imported is reported by its number and a reason
code, and the others go on. Nothing in the report or the logs repeats a value from the feed.

- Idempotent on the source's dose id (``record_vaccinations.source_ref`` = ``imm:<dose_id>``, unique): a dose
  already imported is counted as a duplicate and changes nothing, even if the line differs.
- The person is matched on CCCD first, then on the BHXH number. Nobody found, or the two identifiers naming two
  different people, rejects the line: a dose is never attached to a guessed person and no person is created.
- Free texts (reaction, reason not given, place, lot) go through the exclusion policy first. A hit drops the
  dose (exclusion.md: "immunization import: drop the item") and leaves only a content-free receipt, with a keyed
  hash of the dose id so a re-sent dose is recognised rather than counted twice.
- Doses are inserted in one statement and the schedule engine re-evaluates the people concerned once, in the
  same transaction (``core.immunization.service.refresh``): the station's due lists see the doses at once.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Annotated, Any

import msgspec
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.crypto import keyed_hash
from core.errors import BadRequest
from core.identifiers import InvalidIdentifier, bhxh_number_from, parse_cccd, parse_facility_code
from core.ids import uuid7
from core.immunization.service import Programme, refresh
from core.logging import get_logger
from core.models import Citizen, ExclusionReceipt, Facility, RecordChange, Source, Vaccination, Vaccine
from core.outbox import local_date
from core.records.exclusion import DEFAULT_POLICY, POLICY_VERSION, ExclusionPolicy
from core.records.guard import Actor

log = get_logger("phr.interop.immunization_feed")

PATH = "POST /v1/integration/immunizations"
SOURCE_REF_PREFIX = "imm:"  # source_ref is unique across every source; this one's dose ids live under it
RECORD_KEY_PURPOSE = "immunization-dose-key"
FREE_TEXT_FIELDS = ("reaction", "not_given_reason", "place", "lot")

Text = Annotated[str, msgspec.Meta(max_length=2000)]


class DoseLine(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One line of the feed."""

    dose_id: Annotated[str, msgspec.Meta(min_length=1, max_length=116)]
    cccd: Annotated[str, msgspec.Meta(max_length=20)] | None = None
    bhxh_number: Annotated[str, msgspec.Meta(max_length=20)] | None = None  # or the whole 15-character BHYT card
    vaccine_code: Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
    given_on: dt.date | None = None
    dose_number: Annotated[int, msgspec.Meta(ge=1, le=20)] | None = None
    lot: Annotated[str, msgspec.Meta(max_length=60)] | None = None
    place: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    facility_code: Annotated[str, msgspec.Meta(max_length=10)] | None = None
    reaction: Text | None = None
    not_given_reason: Text | None = None
    next_due_on: dt.date | None = None
    pregnancy_month: Annotated[int, msgspec.Meta(ge=1, le=10)] | None = None


@dataclass(frozen=True, slots=True)
class LineIssue:
    line: int
    reason: str
    field: str | None = None  # a field of DoseLine, never a name the sender made up


@dataclass(frozen=True, slots=True)
class LineExclusion:
    line: int
    rule_id: str


@dataclass
class FeedReport:
    received: int = 0  # non-blank lines
    created: int = 0
    duplicates: int = 0  # already imported (earlier, or earlier in this body)
    rejected: list[LineIssue] = field(default_factory=list)
    excluded: list[LineExclusion] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A line that parsed and passed the checks that need no database."""

    line: int
    dose: DoseLine
    cccd: str | None
    bhxh: str | None
    facility_code: str | None


_AT_FIELD = re.compile(r" - at `\$\.([a-z_]+)`$")
_MISSING_FIELD = re.compile(r"^Object missing required field `([a-z_]+)`")


def decode_line(raw: bytes, line: int) -> DoseLine | LineIssue:
    try:
        return msgspec.json.decode(raw, type=DoseLine)
    except msgspec.ValidationError as exc:
        message = str(exc)
        if message.startswith("Expected `object`"):
            return LineIssue(line, "not_an_object")
        if message.startswith("Object contains unknown field"):
            return LineIssue(line, "unknown_field")  # the sender's key could be anything: not repeated
        if missing := _MISSING_FIELD.match(message):
            return LineIssue(line, "missing_field", missing[1])
        at = _AT_FIELD.search(message)
        return LineIssue(line, "invalid_value", at[1] if at else None)
    except msgspec.DecodeError:
        return LineIssue(line, "invalid_json")


def decoded_object(decoded: DoseLine | LineIssue) -> bool:
    """Whether the line was at least a JSON object (the body is JSON lines, even if this line is wrong)."""
    return not isinstance(decoded, LineIssue) or decoded.reason not in ("invalid_json", "not_an_object")


def split_lines(body: bytes) -> list[tuple[int, bytes]]:
    """Non-blank lines with their 1-based numbers (``\\n`` or ``\\r\\n`` line ends, a byte-order mark ignored)."""
    body = body.removeprefix(b"\xef\xbb\xbf")
    return [(number, raw) for number, raw in enumerate(body.split(b"\n"), start=1) if raw.strip()]


def check_line(line: int, dose: DoseLine, today: dt.date) -> Candidate | LineIssue:
    """The checks that need no database: identifiers' formats, dates, the given-or-reason rule."""
    cccd = bhxh = facility = None
    try:
        if dose.cccd is not None:
            cccd = parse_cccd(dose.cccd).value
        if dose.bhxh_number is not None:
            bhxh = bhxh_number_from(dose.bhxh_number)
        if dose.facility_code is not None:
            facility = parse_facility_code(dose.facility_code)
    except InvalidIdentifier as exc:
        return LineIssue(line, "invalid_identifier", exc.field if exc.field != "bhyt_card" else "bhxh_number")
    if cccd is None and bhxh is None:
        return LineIssue(line, "no_identifier")
    if dose.given_on is None and not (dose.not_given_reason or "").strip():
        return LineIssue(line, "given_on_or_reason_required")
    if dose.given_on is not None and dose.given_on > today:
        return LineIssue(line, "given_on_in_future", "given_on")
    return Candidate(line, dose, cccd, bhxh, facility)


def excluded_rules(dose: DoseLine, policy: ExclusionPolicy = DEFAULT_POLICY) -> Counter[str]:
    """Rule ids the dose's free texts hit (ids and codes are not free text: "PREP-17" is a dose id, not PrEP)."""
    hits: Counter[str] = Counter()
    for name in FREE_TEXT_FIELDS:
        value = getattr(dose, name)
        if value and (hit := policy.check_text(value, field=name)) is not None:
            hits[hit.rule_id] += 1
    return hits


@dataclass(frozen=True, slots=True)
class FeedClient:
    """The machine client sending the feed: receipts name it, and its facility is the default place of care."""

    machine_id: uuid.UUID
    facility_id: uuid.UUID | None


class ImmunizationFeed:
    def __init__(
        self,
        session: AsyncSession,
        *,
        secret_key: str,
        programme: Programme,
        now: dt.datetime | None = None,
        policy: ExclusionPolicy = DEFAULT_POLICY,
    ) -> None:
        self.session = session
        self.secret_key = secret_key
        self.programme = programme
        self.now = now or dt.datetime.now(dt.UTC)
        self.policy = policy

    async def ingest(self, body: bytes, client: FeedClient) -> FeedReport:
        """Import a body of JSON lines. A body with no JSON object on any line is refused whole (400)."""
        lines = split_lines(body)
        if not lines:
            raise BadRequest("the body has no lines", code="empty_feed")
        report = FeedReport(received=len(lines))
        today = local_date(self.now)
        candidates: list[Candidate] = []
        excluded: dict[int, tuple[DoseLine, Counter[str]]] = {}
        objects = 0
        for number, raw in lines:
            decoded = decode_line(raw, number)
            if decoded_object(decoded):
                objects += 1
            if isinstance(decoded, LineIssue):
                report.rejected.append(decoded)
                continue
            # Exclusion before any other check: an excluded text never reaches a lookup, a row or a log.
            if hits := excluded_rules(decoded, self.policy):
                excluded[number] = (decoded, hits)
                continue
            checked = check_line(number, decoded, today)
            if isinstance(checked, LineIssue):
                report.rejected.append(checked)
            else:
                candidates.append(checked)
        if not objects:
            raise BadRequest("no line of the body is a JSON object", code="not_json_lines")
        await self._receipts(excluded, client, report)
        await self._import(candidates, client, report, today)
        report.rejected.sort(key=lambda issue: issue.line)
        log.info(
            "immunization feed imported",
            machine_id=str(client.machine_id),
            received=report.received,
            created=report.created,
            duplicates=report.duplicates,
            rejected=len(report.rejected),
            excluded=len(report.excluded),
        )
        return report

    async def _receipts(
        self, excluded: dict[int, tuple[DoseLine, Counter[str]]], client: FeedClient, report: FeedReport
    ) -> None:
        """One content-free receipt per rule per dropped dose; a dose sent again finds its receipt and adds none."""
        if not excluded:
            return
        keys = {number: self._record_key(dose.dose_id) for number, (dose, _) in excluded.items()}
        known = set(
            (
                await self.session.scalars(
                    select(ExclusionReceipt.record_key_hash).where(
                        ExclusionReceipt.path == PATH, ExclusionReceipt.record_key_hash.in_(set(keys.values()))
                    )
                )
            ).all()
        )
        for number, (_, hits) in sorted(excluded.items()):
            report.excluded += [LineExclusion(number, rule_id) for rule_id in sorted(hits)]
            if keys[number] in known:
                continue
            known.add(keys[number])
            self.session.add_all(
                ExclusionReceipt(
                    policy_version=POLICY_VERSION,
                    rule_id=rule_id,
                    path=PATH,
                    source=Source.immunization_import.value,
                    facility_id=client.facility_id,
                    client_id=client.machine_id,
                    record_key_hash=keys[number],
                    count=count,
                )
                for rule_id, count in sorted(hits.items())
            )

    def _record_key(self, dose_id: str) -> bytes:
        return keyed_hash(self.secret_key, RECORD_KEY_PURPOSE, SOURCE_REF_PREFIX + dose_id)

    async def _import(
        self, candidates: list[Candidate], client: FeedClient, report: FeedReport, today: dt.date
    ) -> None:
        if not candidates:
            return
        refs = {SOURCE_REF_PREFIX + c.dose.dose_id for c in candidates}
        existing = set(
            (await self.session.scalars(select(Vaccination.source_ref).where(Vaccination.source_ref.in_(refs)))).all()
        )
        vaccines = set((await self.session.scalars(select(Vaccine.code))).all())
        by_cccd, by_bhxh = await self._people(candidates)
        facilities = await self._facilities(candidates)
        rows: list[dict[str, Any]] = []
        taken: set[str] = set()
        for candidate in candidates:
            ref = SOURCE_REF_PREFIX + candidate.dose.dose_id
            if ref in existing or ref in taken:
                report.duplicates += 1
                continue
            outcome = self._row(candidate, vaccines, by_cccd, by_bhxh, facilities, client)
            if isinstance(outcome, LineIssue):
                report.rejected.append(outcome)
                continue
            taken.add(ref)
            rows.append(outcome | {"source_ref": ref})
        await self._insert(rows, report, today)

    def _row(
        self,
        candidate: Candidate,
        vaccines: set[str],
        by_cccd: dict[str, tuple[uuid.UUID, dt.date]],
        by_bhxh: dict[str, tuple[uuid.UUID, dt.date]],
        facilities: dict[str, uuid.UUID],
        client: FeedClient,
    ) -> dict[str, Any] | LineIssue:
        dose, line = candidate.dose, candidate.line
        code = dose.vaccine_code.strip().upper()
        if code not in vaccines:
            return LineIssue(line, "unknown_vaccine", "vaccine_code")
        via_cccd = by_cccd.get(candidate.cccd) if candidate.cccd else None
        via_bhxh = by_bhxh.get(candidate.bhxh) if candidate.bhxh else None
        if via_cccd and via_bhxh and via_cccd[0] != via_bhxh[0]:
            return LineIssue(line, "identifier_conflict")  # two people: a human must look, never a silent merge
        person = via_cccd or via_bhxh
        if person is None:
            return LineIssue(line, "unknown_person")
        if dose.given_on is not None and dose.given_on < person[1]:
            return LineIssue(line, "given_before_birth", "given_on")
        # The place of care: the facility the line names if we know it, else the sending client's own.
        facility_id = facilities.get(candidate.facility_code or "", client.facility_id)
        values = {
            "vaccine_code": code,
            "dose_number": dose.dose_number,
            "given_on": dose.given_on,
            "not_given_reason": _text(dose.not_given_reason),
            "reaction": _text(dose.reaction),
            "next_due_on": dose.next_due_on,
            "place": _text(dose.place),
            "lot": _text(dose.lot),
            "pregnancy_month": dose.pregnancy_month,
        }
        actor = Actor(Source.immunization_import, facility_id=facility_id)
        return {"citizen_id": person[0], **values, **actor.provenance()}

    async def _people(
        self, candidates: list[Candidate]
    ) -> tuple[dict[str, tuple[uuid.UUID, dt.date]], dict[str, tuple[uuid.UUID, dt.date]]]:
        cccds = {c.cccd for c in candidates if c.cccd}
        bhxhs = {c.bhxh for c in candidates if c.bhxh}
        found = await self.session.execute(
            select(Citizen.id, Citizen.cccd, Citizen.bhxh_number, Citizen.date_of_birth).where(
                Citizen.cccd.in_(cccds) | Citizen.bhxh_number.in_(bhxhs)
            )
        )
        by_cccd: dict[str, tuple[uuid.UUID, dt.date]] = {}
        by_bhxh: dict[str, tuple[uuid.UUID, dt.date]] = {}
        for person in found:
            if person.cccd in cccds:
                by_cccd[person.cccd] = (person.id, person.date_of_birth)
            if person.bhxh_number in bhxhs:
                by_bhxh[person.bhxh_number] = (person.id, person.date_of_birth)
        return by_cccd, by_bhxh

    async def _facilities(self, candidates: list[Candidate]) -> dict[str, uuid.UUID]:
        codes = {c.facility_code for c in candidates if c.facility_code}
        if not codes:
            return {}
        found = await self.session.execute(select(Facility.code, Facility.id).where(Facility.code.in_(codes)))
        return {row.code: row.id for row in found}

    async def _insert(self, rows: list[dict[str, Any]], report: FeedReport, today: dt.date) -> None:
        if not rows:
            return
        for row in rows:
            row["id"] = uuid7()
        # A concurrent request may have imported the same dose since the lookup: ON CONFLICT makes it a duplicate.
        statement = (
            insert(Vaccination)
            .on_conflict_do_nothing(index_elements=["source_ref"], index_where=Vaccination.source_ref.is_not(None))
            .returning(Vaccination.id)
        )
        created = set((await self.session.scalars(statement, rows)).all())
        report.created += len(created)
        report.duplicates += len(rows) - len(created)
        written = [row for row in rows if row["id"] in created]
        if not written:
            return
        await self.session.execute(
            insert(RecordChange),
            [
                {
                    "id": uuid7(),
                    "citizen_id": row["citizen_id"],
                    "section": "vaccinations",
                    "item_id": row["id"],
                    "action": "create",
                    "changes": {key: [None, _plain(row[key])] for key in HISTORY_FIELDS if row[key] is not None},
                }
                for row in written
            ],
        )
        await refresh(
            self.session, sorted({row["citizen_id"] for row in written}), today=today, programme=self.programme
        )


# What a vaccination's history entry shows, as RecordService.add_item would record it.
HISTORY_FIELDS = (
    "vaccine_code",
    "dose_number",
    "given_on",
    "not_given_reason",
    "reaction",
    "next_due_on",
    "place",
    "lot",
    "pregnancy_month",
)


def _text(value: str | None) -> str | None:
    stripped = (value or "").strip()
    return stripped or None


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value
