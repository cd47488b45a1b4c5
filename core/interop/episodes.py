"""Importing HIS episodes (XML 130): parse, screen, match the citizen, then record, hold for a station, or quarantine.

Idempotent on (facility code, ``MA_LK``), known only through a keyed hash: the ledger (``his_imports``) has a row
for every episode kept or pending, and a quarantined episode's receipts carry the same hash. Concurrent copies of
one episode queue on a transaction-scoped advisory lock taken on that hash, so the second sees the first's rows.

Matching (shared/domain/his-xml130.md): the CCCD, then the 10-digit BHXH number of any BHYT card. Anything else -
nobody found, or the identifiers pointing at different people - waits for the station of the person's commune as a
``PendingEpisode``; a same name + birth date + sex record is only suggested. Never a silent merge, never a new
person from an import.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, cast

import anyio.to_thread
import msgspec
from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.crypto import keyed_hash
from core.errors import Excluded, Forbidden, NotFound
from core.interop.episode import Episode, ParseWarning, Patient
from core.interop.recording import EpisodeWriter, encounter_values
from core.interop.reports import Exclusion, ImportReport, MatchedBy, exclusions
from core.interop.screening import RULE_QUARANTINED, Screened, screen
from core.interop.xml130 import parse_episode
from core.logging import get_logger
from core.models import (
    Citizen,
    ExclusionReceipt,
    Facility,
    FacilityKind,
    HisImport,
    HisImportStatus,
    PendingEpisode,
    PendingStatus,
    Source,
)
from core.records.exclusion import DEFAULT_POLICY, POLICY_VERSION, ExclusionPolicy, Hit
from core.records.guard import CODE_FIELDS, Actor
from core.settings import Settings

log = get_logger("phr.interop.his")
KEY_PURPOSE = "his-episode-key"
RECEIPT_PREFIX = "his/"  # receipts' path: "his/XML2.TEN_THUOC"
RULE_GUARD = "his.guard"  # the record service refused what screening let through (a bug): the episode is quarantined
GUARD_FIELD = "stored"  # where the last look found a stray hit: the form about to be stored


@dataclass(frozen=True, slots=True)
class Client:
    """Who sends: a machine client (its facility, if bound to one), or None for the operator's CLI."""

    client_id: uuid.UUID | None = None
    facility_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class Match:
    citizen_id: uuid.UUID | None
    by: Literal["cccd", "bhxh"] | None = None
    reason: str | None = None  # why nobody was chosen


def _name(value: str | None) -> str:
    return " ".join(unicodedata.normalize("NFC", value or "").casefold().split())


class HisImportService:
    def __init__(
        self,
        session: AsyncSession,
        settings: Settings,
        *,
        now: dt.datetime | None = None,
        policy: ExclusionPolicy = DEFAULT_POLICY,
    ) -> None:
        self.session = session
        self.settings = settings
        self.now = now or dt.datetime.now(dt.UTC)
        self.policy = policy

    async def import_file(self, data: bytes, client: Client) -> ImportReport:
        """One XML 130 file; parsing (pure, CPU-bound) runs off the event loop."""
        episode = await anyio.to_thread.run_sync(parse_episode, data)
        return await self.import_episode(episode, client)

    async def import_episode(self, episode: Episode, client: Client) -> ImportReport:
        s = episode.summary
        facility_id = await self.session.scalar(select(Facility.id).where(Facility.code == s.facility_code))
        if client.facility_id is not None and facility_id != client.facility_id:
            raise Forbidden("a client bound to a facility sends that facility's episodes", code="facility_mismatch")
        key = keyed_hash(self.settings.secret_key, KEY_PURPOSE, f"{s.facility_code}\n{s.ma_lk}")
        await self.session.execute(select(func.pg_advisory_xact_lock(int.from_bytes(key[:8], "big", signed=True))))
        if (repeat := await self._repeat(key, s.facility_code)) is not None:
            return repeat
        # Screening a 10 MiB episode takes about a second of CPU: off the event loop, like the parsing.
        screened = await anyio.to_thread.run_sync(screen, episode, self.policy)
        receipts = _Receipts(self.session, key, facility_id, client.client_id)
        ledger = HisImport(
            record_key_hash=key,
            facility_code=s.facility_code,
            facility_id=facility_id,
            client_id=client.client_id,
            status=HisImportStatus.pending_match,
            policy_version=POLICY_VERSION,
        )
        report = None if screened.quarantined else await self._keep(screened, ledger)
        if report is None:
            return await self._quarantine(receipts, screened, s.facility_code)
        self.session.add(ledger)
        receipts.add(screened.hits)
        await self.session.flush()
        log.info("his episode", status=report.status, excluded=len(screened.hits), warnings=len(report.warnings))
        return report

    async def _keep(self, screened: Screened, ledger: HisImport) -> ImportReport | None:
        """Record the screened episode for its citizen, or hold it for a station; None if it must be quarantined
        after all (``screened`` then carries why)."""
        episode, warnings = screened.episode, list(screened.episode.warnings)
        values = encounter_values(episode, warnings)
        ledger.warnings = [msgspec.to_builtins(w) for w in warnings]
        report = ImportReport(
            status="pending_match", facility_code=ledger.facility_code, excluded=exclusions(screened.hits)
        )
        report.warnings = warnings
        match = await self._match(episode.summary.patient)
        stored = values if match.citizen_id else msgspec.to_builtins(episode)
        if await anyio.to_thread.run_sync(self._stray, screened, stored):
            return None
        if match.citizen_id is None:
            ledger.pending_id = report.pending_match_id = await self._hold(episode, match)
            return report
        actor = Actor(Source.his_import, facility_id=ledger.facility_id)
        writer = EpisodeWriter(self.session, now=self.now, actor=actor, key_tag=ledger.record_key_hash[:8].hex())
        try:
            async with self.session.begin_nested():
                written = await writer.write(match.citizen_id, episode, values)
        except Excluded:  # the record service's own check caught what screening missed: fail closed
            screened.hits.append(_guard_hit())
            screened.reasons.append(_guard_hit())
            return None
        ledger.status, ledger.encounter_id, ledger.kept = HisImportStatus.imported, written.encounter_id, written.kept
        report.status, report.encounter_id, report.kept = "imported", written.encounter_id, written.kept
        report.matched_by = ledger.matched_by = match.by
        return report

    def _stray(self, screened: Screened, stored: object) -> bool:
        """A last look at exactly what would be stored: any hit is a screening gap, and quarantines the episode."""
        # Paths would name our own columns; the report cites one field for all of them.
        stray = [Hit(h.rule_id, h.category, GUARD_FIELD) for h in self.policy.scan(stored, code_fields=CODE_FIELDS)]
        screened.hits.extend(stray)
        screened.reasons.extend(stray)
        return bool(stray)

    async def _quarantine(self, receipts: _Receipts, screened: Screened, facility_code: str) -> ImportReport:
        receipts.add([*screened.hits, Hit(RULE_QUARANTINED, screened.reasons[0].category, "episode")])
        await self.session.flush()
        log.info("his episode quarantined", excluded=len(screened.hits))
        return ImportReport(status="quarantined", facility_code=facility_code, excluded=exclusions(screened.hits))

    async def _repeat(self, key: bytes, facility_code: str) -> ImportReport | None:
        """The report of an episode seen before, rebuilt from the ledger and the receipts; None if it is new."""
        ledger = await self.session.scalar(select(HisImport).where(HisImport.record_key_hash == key))
        quarantined = ledger is None and await self.session.scalar(
            select(
                exists().where(ExclusionReceipt.record_key_hash == key, ExclusionReceipt.rule_id == RULE_QUARANTINED)
            )
        )
        if ledger is None and not quarantined:
            return None
        rows = await self.session.execute(
            select(ExclusionReceipt.rule_id, ExclusionReceipt.path, func.sum(ExclusionReceipt.count))
            .where(ExclusionReceipt.record_key_hash == key, ExclusionReceipt.rule_id != RULE_QUARANTINED)
            .group_by(ExclusionReceipt.rule_id, ExclusionReceipt.path)
        )
        excluded = sorted(Exclusion(rule, path.removeprefix(RECEIPT_PREFIX), int(n)) for rule, path, n in rows)
        report = ImportReport(
            status="quarantined", facility_code=facility_code, already_imported=True, excluded=excluded
        )
        if ledger is not None:
            report.status = ledger.status.value
            report.encounter_id, report.pending_match_id = ledger.encounter_id, ledger.pending_id
            report.matched_by = cast(MatchedBy | None, ledger.matched_by)
            report.kept = dict(ledger.kept)
            report.warnings = [msgspec.convert(w, ParseWarning) for w in ledger.warnings]
        return report

    async def _match(self, patient: Patient) -> Match:
        by_cccd = None
        if patient.cccd:
            by_cccd = await self.session.scalar(select(Citizen.id).where(Citizen.cccd == patient.cccd))
        numbers = {card[-10:] for card in patient.bhyt_cards}
        by_card: Sequence[uuid.UUID] = []
        if numbers:
            by_card = (await self.session.scalars(select(Citizen.id).where(Citizen.bhxh_number.in_(numbers)))).all()
        if by_cccd is not None:
            if any(found != by_cccd for found in by_card):
                return Match(None, reason="identifiers_disagree")
            return Match(by_cccd, "cccd")
        if len(set(by_card)) == 1:
            return Match(by_card[0], "bhxh")
        if by_card:
            return Match(None, reason="identifiers_disagree")
        return Match(None, reason="not_found" if patient.cccd or numbers else "no_identifier")

    async def _hold(self, episode: Episode, match: Match) -> uuid.UUID:
        patient = episode.summary.patient
        station = None
        if patient.commune_code:
            station = await self.session.scalar(
                select(Facility.id)
                .where(Facility.commune_code == patient.commune_code, Facility.kind == FacilityKind.health_station)
                .order_by(Facility.code)
                .limit(1)
            )
        pending = PendingEpisode(
            facility_id=station,
            source_facility_code=episode.summary.facility_code,
            reason=match.reason or "not_found",
            episode=msgspec.to_builtins(episode),
            suggested_citizen_id=await self._suggest(patient),
        )
        self.session.add(pending)
        await self.session.flush()
        return pending.id

    async def _suggest(self, patient: Patient) -> uuid.UUID | None:
        """One record with the same name, birth date and (when known) sex: a hint for the station, nothing more."""
        if not patient.full_name or patient.date_of_birth is None:
            return None
        query = select(Citizen.id, Citizen.full_name, Citizen.sex).where(Citizen.date_of_birth == patient.date_of_birth)
        rows = (await self.session.execute(query.limit(200))).all()
        same = [
            row.id
            for row in rows
            if _name(row.full_name) == _name(patient.full_name)
            and (patient.sex not in ("male", "female") or row.sex.value == patient.sex)
        ]
        return same[0] if len(same) == 1 else None

    # -- the station's side ----------------------------------------------------------------------------------------
    async def resolve_pending(
        self, pending_id: uuid.UUID, citizen_id: uuid.UUID, *, facility_id: uuid.UUID, clinician_id: uuid.UUID | None
    ) -> uuid.UUID:
        """A station confirms whose episode it is: the encounter is written now and the held copy wiped."""
        pending = await self.session.scalar(
            select(PendingEpisode)
            .where(
                PendingEpisode.id == pending_id,
                PendingEpisode.facility_id == facility_id,
                PendingEpisode.status == PendingStatus.open,
            )
            .with_for_update()
        )
        ledger = await self.session.scalar(select(HisImport).where(HisImport.pending_id == pending_id))
        if pending is None or ledger is None:
            raise NotFound("no such pending episode", code="pending_episode_not_found")
        episode = msgspec.convert(pending.episode, Episode)
        actor = Actor(Source.his_import, facility_id=ledger.facility_id)
        writer = EpisodeWriter(self.session, now=self.now, actor=actor, key_tag=ledger.record_key_hash[:8].hex())
        written = await writer.write(citizen_id, episode, encounter_values(episode, []))
        pending.status, pending.resolved_citizen_id, pending.resolved_by = (
            PendingStatus.resolved,
            citizen_id,
            clinician_id,
        )
        pending.resolved_at, pending.episode = self.now, {}
        ledger.status, ledger.encounter_id, ledger.kept = HisImportStatus.imported, written.encounter_id, written.kept
        ledger.matched_by = "station"
        await self.session.flush()
        return written.encounter_id


def _guard_hit() -> Hit:
    return Hit(RULE_GUARD, "hiv", GUARD_FIELD)


class _Receipts:
    """Content-free exclusion receipts of one episode, grouped per (rule, field)."""

    def __init__(self, session: AsyncSession, key: bytes, facility_id: uuid.UUID | None, client: uuid.UUID | None):
        self.session = session
        self.key = key
        self.facility_id = facility_id
        self.client_id = client

    def add(self, hits: list[Hit]) -> None:
        for line in exclusions(hits):
            self.session.add(
                ExclusionReceipt(
                    policy_version=POLICY_VERSION,
                    rule_id=line.rule_id,
                    path=(RECEIPT_PREFIX + line.field)[:120],
                    source=Source.his_import.value,
                    facility_id=self.facility_id,
                    client_id=self.client_id,
                    record_key_hash=self.key,
                    count=line.count,
                )
            )
