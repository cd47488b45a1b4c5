"""Part A for the whole province from the population register's CSV: ``phr import population FILE.csv``.

The file is read as a stream, ``chunk_size`` rows at a time: each chunk is parsed and validated in Python (the pure
``RowParser``), copied into a temporary table with binary COPY, and written with one ``INSERT … SELECT … ON CONFLICT``
per table, each chunk in its own transaction. The next chunk is parsed in a thread while the database writes the
current one. Re-importing a file changes nothing: a citizen is updated only when a value really differs, and that
update bumps ``version`` (the ETag) and appends to ``record_history``.

Rows that cannot be imported are reported by line number and reason code, never by content: names, phones and
CCCDs stay out of the report and the logs. The CSV format is documented in the README ("Imports: population CSV").
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime as dt
import io
import os
import re
import time
import unicodedata
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio.to_thread
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from core.db import Database
from core.errors import Invalid
from core.identifiers import InvalidIdentifier, Sex, cccd_warnings, normalize_vn_mobile
from core.logging import get_logger
from core.outbox import local_date

log = get_logger("phr.interop.population")

# Header names (case-insensitive) and the Vietnamese names the register's exports use for the same columns.
COLUMNS: dict[str, tuple[str, ...]] = {
    "cccd": ("so_dinh_danh",),
    "full_name": ("ho_ten",),
    "date_of_birth": ("ngay_sinh",),
    "sex": ("gioi_tinh",),
    "perm_commune_code": ("ma_xa_thuong_tru",),
    "household_code": ("ma_ho",),
    "relation_to_head": ("quan_he_chu_ho",),
    "perm_hamlet": ("thon_thuong_tru",),
    "perm_street": ("dia_chi_thuong_tru",),
    "cur_commune_code": ("ma_xa_hien_tai",),
    "cur_hamlet": ("thon_hien_tai",),
    "cur_street": ("dia_chi_hien_tai",),
    "phone": ("so_dien_thoai",),
}
REQUIRED = ("cccd", "full_name", "date_of_birth", "sex", "perm_commune_code")
# Longest value each text column takes (the citizens and households columns).
MAX_LENGTH = {
    "full_name": 120,
    "household_code": 20,
    "relation_to_head": 40,
    "perm_hamlet": 120,
    "perm_street": 200,
    "cur_hamlet": 120,
    "cur_street": 200,
}
SEX_CODES: dict[str, Sex] = {
    "nam": "male",
    "male": "male",
    "1": "male",
    "nữ": "female",
    "nu": "female",
    "female": "female",
    "2": "female",
}
OLDEST_BIRTH = dt.date(1900, 1, 1)
# The staging table's columns: RowParser's tuples, then the two ids CsvChunks adds.
STAGE_COLUMNS = (
    "line",
    "cccd",
    "full_name",
    "sex",
    "date_of_birth",
    "perm_commune_code",
    "household_code",
    "relation_to_head",
    "perm_hamlet",
    "perm_street",
    "cur_commune_code",
    "cur_hamlet",
    "cur_street",
    "phone",
    "id",  # the citizen's id if the row creates one
    "household_new_id",  # the household's id if the row creates one
)
_CCCD = re.compile(r"[0-9]{12}")
_DMY = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")
_YMD = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")

Record = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class RowIssue:
    """A row refused (``rejected``) or imported with a remark (``warning``): where and why, never what."""

    line: int
    code: str
    kind: str = "rejected"


def header_layout(header: list[str]) -> dict[str, int]:
    """Column name → index. Unknown columns are ignored; a missing required one refuses the whole file."""
    names = {alias: name for name, aliases in COLUMNS.items() for alias in (name, *aliases)}
    layout: dict[str, int] = {}
    for index, raw in enumerate(header):
        name = names.get(raw.strip().lower())
        if name is None:
            continue
        if name in layout:
            raise Invalid(f"column {name} appears twice in the header", code="csv_duplicate_column")
        layout[name] = index
    missing = [name for name in REQUIRED if name not in layout]
    if missing:
        raise Invalid(f"missing required columns: {', '.join(missing)}", code="csv_missing_columns")
    return layout


def parse_date(raw: str) -> dt.date:
    """``dd/mm/yyyy`` (as the register prints it, one-digit day and month allowed) or ISO ``yyyy-mm-dd``."""
    # ASCII digits only: int() would also read Arabic-Indic or full-width digits.
    if match := _DMY.fullmatch(raw):
        return dt.date(int(match[3]), int(match[2]), int(match[1]))
    if match := _YMD.fullmatch(raw):
        return dt.date(int(match[1]), int(match[2]), int(match[3]))
    raise ValueError("not a dd/mm/yyyy or yyyy-mm-dd date")


def _clean(raw: str) -> str:
    """Trimmed, inner runs of spaces collapsed, NFC (the same name typed two ways is one name)."""
    value = " ".join(raw.split())
    return value if value.isascii() else unicodedata.normalize("NFC", value)


class RowParser:
    """Validates one CSV row into a staging tuple, or says why it cannot be imported. Pure; no database."""

    def __init__(self, layout: dict[str, int], width: int, communes: frozenset[str], today: dt.date) -> None:
        self.layout = layout
        self.width = width
        self.communes = communes
        self.today = today
        self._optional = [(name, layout.get(name)) for name in STAGE_COLUMNS[6:13]]
        self._phone = layout.get("phone")

    def parse(self, row: list[str], line: int, warnings: list[RowIssue]) -> Record | str | None:
        """The staging tuple, a reason code, or None for a row with nothing in it (spreadsheets add ",,,,")."""
        joined = "".join(row)
        if not joined.strip():
            return None
        if len(row) != self.width:
            return "column_count"
        try:
            joined.encode()  # bytes that were not UTF-8 were kept as lone surrogates by the decoder
        except UnicodeEncodeError:
            return "encoding_invalid"
        if "\x00" in joined:
            return "encoding_invalid"
        at = self.layout
        cccd = row[at["cccd"]].strip()
        if not _CCCD.fullmatch(cccd):
            return "cccd_missing" if not cccd else "cccd_format"
        name = _clean(row[at["full_name"]])
        if not name:
            return "name_missing"
        if len(name) > MAX_LENGTH["full_name"]:
            return "field_too_long"
        raw_birth = row[at["date_of_birth"]].strip()
        if not raw_birth:
            return "dob_missing"
        try:
            birth = parse_date(raw_birth)
        except ValueError:
            return "dob_invalid"
        if not OLDEST_BIRTH <= birth <= self.today:
            return "dob_out_of_range"
        sex = SEX_CODES.get(unicodedata.normalize("NFC", row[at["sex"]].strip()).lower())
        if sex is None:
            return "sex_invalid"
        commune = row[at["perm_commune_code"]].strip()
        if not commune:
            return "commune_missing"
        if commune not in self.communes:
            return "commune_unknown"
        values: list[Any] = [line, cccd, name, sex, birth, commune]
        for column, index in self._optional:
            value = _clean(row[index]) if index is not None else ""
            if not value:
                values.append(None)
            elif column == "cur_commune_code":
                if value not in self.communes:
                    return "commune_unknown"
                values.append(value)
            elif len(value) > MAX_LENGTH[column]:
                return "household_code_too_long" if column == "household_code" else "field_too_long"
            else:
                values.append(value)
        values.append(self._phone_of(row, line, warnings))
        for code in cccd_warnings(cccd, date_of_birth=birth, sex=sex):
            warnings.append(RowIssue(line, code, "warning"))
        return tuple(values)

    def _phone_of(self, row: list[str], line: int, warnings: list[RowIssue]) -> str | None:
        # A bad phone does not cost the person their record: the row is kept without it (and the phone on record,
        # if any, stays), with a warning on the line.
        raw = row[self._phone].strip() if self._phone is not None else ""
        if not raw:
            return None
        try:
            return normalize_vn_mobile(raw)
        except InvalidIdentifier:
            warnings.append(RowIssue(line, "phone_invalid", "warning"))
            return None


@dataclass
class Chunk:
    records: list[Record] = field(default_factory=list)
    issues: list[RowIssue] = field(default_factory=list)
    rows: int = 0
    position: int = 0  # bytes of the file read so far


@dataclass
class PopulationReport:
    rows: int = 0  # data rows read (blank lines aside)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    warnings: int = 0
    households_created: int = 0
    seconds: float = 0.0
    rejected_by_reason: Counter[str] = field(default_factory=Counter)
    warnings_by_reason: Counter[str] = field(default_factory=Counter)
    issues: list[RowIssue] = field(default_factory=list)  # the first ones, in file order (up to max_listed)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


ProgressSink = Callable[[int, int, int], None]  # (bytes read, file size, rows read)
IssueSink = Callable[[RowIssue], None]


def uuid7_strings(count: int) -> list[str]:
    """``count`` UUIDv7 in their text form (asyncpg encodes those in C), sharing this millisecond.

    Five times cheaper per row than ``core.ids.uuid7``: one system call for the randomness of the whole chunk,
    and no ``uuid.UUID`` objects. 12 + 60 random bits per id (the variant digit is fixed to ``a``), sorted.
    """
    ms = f"{time.time_ns() // 1_000_000:012x}"
    prefix = f"{ms[:8]}-{ms[8:]}-7"
    digits = os.urandom(9 * count).hex()
    ids = [
        f"{prefix}{digits[i : i + 3]}-a{digits[i + 3 : i + 6]}-{digits[i + 6 : i + 18]}"
        for i in range(0, 18 * count, 18)
    ]
    # Fixed-width lowercase hex sorts as the numbers do: the ids rise in file order, like core.ids.uuid7's.
    ids.sort()
    return ids


class CsvChunks:
    """The file as a stream of parsed chunks. Blocking (file reads, parsing): called from a worker thread."""

    def __init__(self, path: Path, communes: frozenset[str], today: dt.date, chunk_size: int) -> None:
        self.chunk_size = chunk_size
        self._binary = path.open("rb")
        try:
            self.size = os.fstat(self._binary.fileno()).st_size
            # utf-8-sig drops a byte-order mark; surrogateescape keeps bad bytes so that only their row is refused.
            self._text = io.TextIOWrapper(self._binary, encoding="utf-8-sig", errors="surrogateescape", newline="")
            self._reader = csv.reader(self._text)
            header = next(self._reader, None)
            if header is None:
                raise Invalid("the file is empty", code="csv_empty")
            self.parser = RowParser(header_layout(header), len(header), communes, today)
        except BaseException:
            self._binary.close()
            raise
        self._last_line = self._reader.line_num

    def read(self) -> Chunk | None:
        """The next chunk_size data rows (None at the end of the file)."""
        chunk = Chunk()
        in_chunk: set[str] = set()  # the same CCCD twice in one INSERT … ON CONFLICT would abort the statement
        parse, records, issues = self.parser.parse, chunk.records, chunk.issues
        ids = uuid7_strings(2 * self.chunk_size)
        try:
            for row in self._reader:
                line, self._last_line = self._last_line + 1, self._reader.line_num  # the line the row starts on
                result = parse(row, line, issues)
                if result is None:
                    continue  # a blank line
                chunk.rows += 1
                if isinstance(result, str):
                    issues.append(RowIssue(line, result))
                elif result[1] in in_chunk:
                    issues.append(RowIssue(line, "cccd_duplicate"))
                else:
                    in_chunk.add(result[1])
                    records.append((*result, ids[2 * chunk.rows - 2], ids[2 * chunk.rows - 1]))
                if chunk.rows >= self.chunk_size:
                    break
        except csv.Error as exc:  # e.g. a field over the csv module's size limit: the file is not what it claims
            raise Invalid(f"unreadable CSV after line {self._last_line}", code="csv_malformed") from exc
        chunk.position = self._binary.tell()
        return chunk if chunk.rows else None

    def close(self) -> None:
        self._text.close()


STAGE = "phr_population_stage"
SEEN = "phr_population_seen"
# Fixed names are safe: temporary tables belong to the connection, so concurrent imports never share them.
_CREATE = (
    f"DROP TABLE IF EXISTS {STAGE}, {SEEN}",
    f"""CREATE TEMP TABLE {STAGE} (line integer NOT NULL, cccd text NOT NULL, full_name text NOT NULL,
        sex text NOT NULL, date_of_birth date NOT NULL, perm_commune_code text NOT NULL, household_code text,
        relation_to_head text, perm_hamlet text, perm_street text, cur_commune_code text, cur_hamlet text,
        cur_street text, phone text, id uuid NOT NULL, household_new_id uuid NOT NULL)""",
    # Every CCCD imported so far in this run: a later row with the same CCCD is refused rather than applied over
    # the first (which would make every re-import of the file flip the person back and forth). bigint keys keep
    # this index small: it lives in the session's temporary buffers.
    f"CREATE TEMP TABLE {SEEN} (cccd bigint PRIMARY KEY)",
)
# Every statement below reaches the big tables through their unique indexes only (ON CONFLICT, and correlated
# subqueries by key): the temporary table has no statistics, and a hash join the planner might choose would scan
# all of citizens or households once per chunk.
_DEDUPE = f"""
WITH fresh AS (INSERT INTO {SEEN} (cccd) SELECT cccd::bigint FROM {STAGE} ON CONFLICT DO NOTHING RETURNING cccd)
DELETE FROM {STAGE} s WHERE s.cccd::bigint NOT IN (SELECT cccd FROM fresh) RETURNING s.line"""  # noqa: S608
# A household is created with the first member seen (its commune and address); the register's later rows name it
# by code only. A household that exists is left as it is.
_HOUSEHOLDS = f"""
WITH ins AS (
    INSERT INTO households (id, code, commune_code, hamlet, street)
    SELECT DISTINCT ON (s.household_code) s.household_new_id, s.household_code, s.perm_commune_code, s.perm_hamlet,
           s.perm_street
    FROM {STAGE} s WHERE s.household_code IS NOT NULL ORDER BY s.household_code, s.line
    ON CONFLICT (code) DO NOTHING RETURNING 1)
SELECT count(*) FROM ins"""  # noqa: S608 - fixed table names, no input

# (column, required): a required column always takes the file's value; an optional one only when its cell has a
# value, so a register without phones never erases the phone a station recorded.
_CITIZEN_COLUMNS = (
    ("full_name", True),
    ("sex", True),
    ("date_of_birth", True),
    ("perm_commune_code", True),
    ("household_id", False),
    ("relation_to_head", False),
    ("perm_hamlet", False),
    ("perm_street", False),
    ("cur_commune_code", False),
    ("cur_hamlet", False),
    ("cur_street", False),
    ("phone", False),
)


def _upsert_sql() -> str:
    names = [name for name, _ in _CITIZEN_COLUMNS]
    new = {
        name: f"excluded.{name}" if required else f"COALESCE(excluded.{name}, c.{name})"
        for name, required in _CITIZEN_COLUMNS
    }
    source = {name: f"s.{name}" for name in names} | {
        "household_id": "(SELECT h.id FROM households h WHERE h.code = s.household_code)",
        "sex": "s.sex::sex",
    }
    changes = ", ".join(
        f"'{n}', CASE WHEN o.{n} IS DISTINCT FROM up.{n} THEN jsonb_build_array(o.{n}, up.{n}) END" for n in names
    )
    # The history reads ``citizens`` with the statement's snapshot, so ``o`` is the row as it was before.
    return f"""
WITH up AS (
    INSERT INTO citizens AS c (id, cccd, {", ".join(names)})
    SELECT s.id, s.cccd, {", ".join(source[n] for n in names)} FROM {STAGE} s
    ON CONFLICT (cccd) DO UPDATE
    SET {", ".join(f"{n} = {new[n]}" for n in names)}, version = c.version + 1, updated_at = now()
    WHERE ({", ".join(f"c.{n}" for n in names)}) IS DISTINCT FROM ({", ".join(new[n] for n in names)})
    RETURNING c.id, c.xmax = 0 AS created, {", ".join(f"c.{n}" for n in names)}
), history AS (
    INSERT INTO record_history (id, citizen_id, section, item_id, action, changes)
    SELECT phr_uuid7(), up.id, 'administrative', up.id, 'update',
           (SELECT jsonb_strip_nulls(jsonb_build_object({changes})) FROM citizens o WHERE o.id = up.id)
    FROM up WHERE NOT up.created
)
SELECT count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created) FROM up"""  # noqa: S608 - constants


_UPSERT = _upsert_sql()


class PopulationImporter:
    """Runs an import on one connection (its temporary tables live there).

    On a connection outside a transaction each chunk commits on its own, so a long import never holds locks for
    long and an interrupted one resumes cheaply (re-running skips what is already there). On a connection already
    in a transaction (tests), each chunk is a savepoint in it.
    """

    def __init__(
        self,
        conn: AsyncConnection,
        *,
        chunk_size: int = 20_000,
        today: dt.date | None = None,
        max_listed: int = 1000,
        on_issue: IssueSink | None = None,
        on_progress: ProgressSink | None = None,
    ) -> None:
        self.conn = conn
        self.chunk_size = max(1, chunk_size)
        self.today = today or local_date(dt.datetime.now(dt.UTC))
        self.max_listed = max_listed
        self.on_issue = on_issue
        self.on_progress = on_progress
        self._nested = conn.in_transaction()

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[None]:
        async with self.conn.begin_nested() if self._nested else self.conn.begin():
            yield

    async def run(self, path: Path) -> PopulationReport:
        started = time.perf_counter()
        report = PopulationReport()
        async with self._transaction():
            rows = await self.conn.execute(text("SELECT code FROM admin_units WHERE level = 'commune'"))
            communes = frozenset(rows.scalars().all())
        source = await anyio.to_thread.run_sync(CsvChunks, path, communes, self.today, self.chunk_size)
        try:
            async with self._transaction():
                for statement in _CREATE:
                    await self.conn.execute(text(statement))
            async for chunk in self._prefetched(source):
                await self._write(chunk, report)
                report.seconds = time.perf_counter() - started
                if self.on_progress is not None:
                    self.on_progress(chunk.position, source.size, report.rows)
        finally:
            await anyio.to_thread.run_sync(source.close)
            await self._drop()
        if report.created or report.households_created:
            # Fresh statistics at once, not whenever autovacuum gets to it: a campaign or a sweep planned on the
            # pre-import counts can pick a nested loop over the whole province and run for many minutes.
            async with self._transaction():
                await self.conn.execute(text("ANALYZE citizens, households"))
        report.seconds = time.perf_counter() - started
        log.info(
            "population import finished",
            rows=report.rows,
            created=report.created,
            updated=report.updated,
            unchanged=report.unchanged,
            rejected=report.rejected,
            households_created=report.households_created,
            rows_per_second=round(report.rows_per_second),
        )
        return report

    @staticmethod
    async def _prefetched(source: CsvChunks) -> AsyncIterator[Chunk]:
        """Chunks in order, the next one parsed in a thread while the caller writes the current one."""
        pending = asyncio.ensure_future(anyio.to_thread.run_sync(source.read))
        try:
            while (chunk := await pending) is not None:
                pending = asyncio.ensure_future(anyio.to_thread.run_sync(source.read))
                yield chunk
        finally:
            if not pending.done():  # the thread must be done with the file before it is closed
                with contextlib.suppress(Exception):
                    await pending

    async def _write(self, chunk: Chunk, report: PopulationReport) -> None:
        duplicates: list[int] = []
        if chunk.records:
            async with self._transaction():
                # A statement through SQLAlchemy first: it is what opens the transaction the COPY must run in.
                await self.conn.execute(text(f"TRUNCATE {STAGE}"))
                raw = await self.conn.get_raw_connection()
                driver: Any = raw.driver_connection
                await driver.copy_records_to_table(STAGE, records=chunk.records, columns=STAGE_COLUMNS)
                duplicates = list((await self.conn.execute(text(_DEDUPE))).scalars().all())
                report.households_created += (await self.conn.execute(text(_HOUSEHOLDS))).scalar_one()
                created, updated = (await self.conn.execute(text(_UPSERT))).one()
        else:
            created = updated = 0
        issues = chunk.issues + [RowIssue(line, "cccd_duplicate") for line in duplicates]
        if duplicates:
            issues.sort(key=lambda issue: issue.line)
        rejected = sum(1 for issue in issues if issue.kind == "rejected")
        report.rows += chunk.rows
        report.created += created
        report.updated += updated
        report.unchanged += len(chunk.records) - len(duplicates) - created - updated
        report.rejected += rejected
        report.warnings += len(issues) - rejected
        for issue in issues:
            counter = report.rejected_by_reason if issue.kind == "rejected" else report.warnings_by_reason
            counter[issue.code] += 1
            if len(report.issues) < self.max_listed:
                report.issues.append(issue)
            if self.on_issue is not None:
                self.on_issue(issue)

    async def _drop(self) -> None:
        try:
            async with self._transaction():
                await self.conn.execute(text(f"DROP TABLE IF EXISTS {STAGE}, {SEEN}"))
        except Exception as exc:  # the connection is going away anyway; its temporary tables go with it
            log.warning("population import could not drop its temporary tables", error=type(exc).__name__)


async def import_population(database: Database, path: Path, **options: Any) -> PopulationReport:
    """Import ``path`` on a connection of its own; every chunk commits (see PopulationImporter)."""
    async with database.engine.connect() as conn:
        return await PopulationImporter(conn, **options).run(path)
