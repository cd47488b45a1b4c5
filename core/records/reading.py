"""The record summary's hot read path: the app's home screen, read on every launch (issue 10's first benchmark).

Through the ORM, the sixteen queries of a summary cost ~0.9 ms of CPU each (identity map, instance state, one
object per row); through the asyncpg connection the request's session already holds, ~0.1 ms. So the summary's
reads go to that connection with SQL written once per table at import, inside the request's transaction, and
each row comes back as a read-only :class:`RowView`, which answers attribute access the way the mapped object
would (enum columns as their enum), so the completeness score, the FHIR export and the response builders take
either. Writes and single-section reads stay on the ORM. The benchmark's raw-asyncpg baseline runs exactly these
statements (``bench/app.py`` imports them), so the ratio it reports is the cost of everything else.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Enum, Table
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Citizen
from core.records.sections import SECTIONS

SUMMARY_LIMIT = 50  # newest items per list section in the summary; the section routes page through the rest


class RowView:
    """One row of a record table, read-only, with the mapped class's attribute names (= column names here)."""

    __slots__ = ("__table__", "_values")

    def __init__(self, table: Table, values: dict[str, Any]) -> None:
        self.__table__ = table
        self._values = values

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)

    def __repr__(self) -> str:
        return f"RowView({self.__table__.name}, id={self._values.get('id')})"


@dataclass(frozen=True, slots=True)
class TableRead:
    """How one table is read for the summary: its SQL (``$1`` = the citizen id) and the enum columns to wrap."""

    table: Table
    sql: str
    single: bool
    enums: tuple[tuple[str, Callable[[Any], enum.Enum]], ...]

    def view(self, record: Any) -> RowView:
        values = dict(record.items())
        for name, make in self.enums:
            if values[name] is not None:
                values[name] = make(values[name])
        return RowView(self.table, values)


def _enums(table: Table) -> tuple[tuple[str, Callable[[Any], enum.Enum]], ...]:
    return tuple(
        (column.name, column.type.enum_class)
        for column in table.columns
        if isinstance(column.type, Enum) and column.type.enum_class is not None
    )


def _read(table: Table, where: str, *, single: bool, order: str = "") -> TableRead:
    columns = ", ".join(column.name for column in table.columns)
    # Table and column names come from the models, never from input; the only value is the bound $1.
    sql = f"SELECT {columns} FROM {table.name} WHERE {where}{order}"  # noqa: S608
    return TableRead(table, sql, single, _enums(table))


CITIZEN_READ = _read(Citizen.__table__, "id = $1", single=True)  # type: ignore[arg-type]
SECTION_READS: dict[str, TableRead] = {
    name: _read(
        section.model.__table__,  # type: ignore[arg-type]
        "citizen_id = $1" if section.single else "citizen_id = $1 AND deleted_at IS NULL",
        single=section.single,
        order="" if section.single else f" ORDER BY {section.order_by} DESC, id DESC LIMIT {SUMMARY_LIMIT}",
    )
    for name, section in SECTIONS.items()
}


async def driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under the session's current transaction (begun if it was not yet)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


async def read_citizen(connection: Any, citizen_id: uuid.UUID) -> RowView | None:
    record = await connection.fetchrow(CITIZEN_READ.sql, citizen_id)
    return CITIZEN_READ.view(record) if record is not None else None


async def read_section(connection: Any, name: str, citizen_id: uuid.UUID) -> RowView | list[RowView] | None:
    read = SECTION_READS[name]
    if read.single:
        record = await connection.fetchrow(read.sql, citizen_id)
        return read.view(record) if record is not None else None
    return [read.view(record) for record in await connection.fetch(read.sql, citizen_id)]
