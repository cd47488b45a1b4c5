"""The population CSV import: validation by line and reason, idempotent upserts on CCCD, speed reported."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
import uuid
from asyncio.subprocess import PIPE
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core.db import Database
from core.errors import Invalid
from core.interop.population import (
    PopulationImporter,
    PopulationReport,
    RowIssue,
    RowParser,
    header_layout,
    parse_date,
    uuid7_strings,
)
from core.models import AdminUnit, Citizen, Household, RecordChange, UnitLevel
from tests.conftest import LEAK_CANARIES

ROOT = Path(__file__).resolve().parents[3]
TODAY = dt.date(2026, 11, 24)
COMMUNES = ("52001", "52002", "52003")
HEADER = "cccd,full_name,date_of_birth,sex,household_code,relation_to_head,perm_commune_code,perm_hamlet,phone"


async def add_communes(session: AsyncSession) -> None:
    session.add(AdminUnit(code="52", level=UnitLevel.province, name="Tỉnh thử"))
    session.add(AdminUnit(code="520", level=UnitLevel.district, name="Huyện thử", parent_code="52"))
    await session.flush()
    session.add_all(
        [AdminUnit(code=code, level=UnitLevel.commune, name=f"Xã {code}", parent_code="520") for code in COMMUNES]
    )
    await session.flush()


def person_line(i: int, *, name: str | None = None, phone: str | None = None) -> str:
    """Row i of a made-up province: CCCDs consistent with sex and birth year, four people to a household."""
    female = i % 2
    born = dt.date(1950 + i % 70, 1 + i % 12, 1 + i % 28)
    century_sex = (0 if born.year < 2000 else 2) + female
    cccd = f"052{century_sex}{born.year % 100:02d}{i:06d}"
    sex = "nữ" if female else "nam"
    household = f"HK{i // 4:07d}"
    relation = "chủ hộ" if i % 4 == 0 else "con"
    commune = COMMUNES[i // 4 % 3]
    phone = phone if phone is not None else f"09{i % 100_000_000:08d}"
    name = name or f"Nguyễn Thị Thử {i}"
    return f"{cccd},{name},{born:%d/%m/%Y},{sex},{household},{relation},{commune},Thôn {i % 9},{phone}"


def cccd_of(i: int) -> str:
    return person_line(i).split(",", 1)[0]


def write_csv(path: Path, lines: list[str], *, bom: bool = False, newline: str = "\n") -> Path:
    path.write_bytes((("\ufeff" if bom else "") + newline.join([HEADER, *lines]) + newline).encode())
    return path


async def run(connection: AsyncConnection, path: Path, **options: object) -> PopulationReport:
    return await PopulationImporter(connection, today=TODAY, **options).run(path)  # type: ignore[arg-type]


# -- pure parsing ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("05/03/1990", dt.date(1990, 3, 5)),
        ("5/3/1990", dt.date(1990, 3, 5)),
        ("1990-03-05", dt.date(1990, 3, 5)),
    ],
)
def test_dates_are_read_in_both_formats(raw: str, expected: dt.date) -> None:
    assert parse_date(raw) == expected


@pytest.mark.parametrize("raw", ["31/02/1990", "1990/03/05", "05-03-1990", "05/03/90", "x", "1990-3-5", "٠٥/03/1990"])
def test_impossible_or_ambiguous_dates_are_refused(raw: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - any ValueError: the row is refused as dob_invalid
        parse_date(raw)


def test_batch_ids_are_distinct_rising_uuidv7() -> None:
    ids = [uuid.UUID(text) for text in uuid7_strings(20_000)]
    assert {(i.version, i.variant) for i in ids} == {(7, uuid.RFC_4122)}
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def parser() -> RowParser:
    return RowParser(header_layout(HEADER.split(",")), len(HEADER.split(",")), frozenset(COMMUNES), TODAY)


GOOD = person_line(7).split(",")


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        (0, "05209000000", "cccd_format"),
        (0, "05209000000a", "cccd_format"),
        (0, "", "cccd_missing"),
        (1, "   ", "name_missing"),
        (1, "x" * 121, "field_too_long"),
        (2, "30/02/1990", "dob_invalid"),
        (2, "", "dob_missing"),
        (2, "01/01/2027", "dob_out_of_range"),
        (3, "khác", "sex_invalid"),
        (4, "H" * 21, "household_code_too_long"),
        (6, "99999", "commune_unknown"),
        (6, "", "commune_missing"),
    ],
)
def test_a_bad_row_is_refused_with_its_reason(column: int, value: str, reason: str) -> None:
    row = list(GOOD)
    row[column] = value
    assert parser().parse(row, 9, []) == reason


@pytest.mark.parametrize(
    ("raw", "sex"), [("Nam", "male"), ("NỮ", "female"), ("nu\u031b\u0303", "female"), ("1", "male")]
)
def test_sex_is_read_in_vietnamese_english_or_digits(raw: str, sex: str) -> None:
    row = list(GOOD)
    row[3] = raw
    result = parser().parse(row, 2, [])
    assert isinstance(result, tuple)
    assert result[3] == sex


def test_a_bad_phone_keeps_the_row_without_it_and_warns() -> None:
    row = list(GOOD)
    row[8] = "024 3826 4000"  # a Hà Nội landline: not a mobile
    warnings: list[RowIssue] = []
    result = parser().parse(row, 5, warnings)
    assert isinstance(result, tuple)
    assert result[-1] is None
    assert warnings == [RowIssue(5, "phone_invalid", "warning")]


def test_a_missing_required_column_refuses_the_file() -> None:
    with pytest.raises(Invalid) as caught:
        header_layout(["cccd", "full_name", "sex"])
    assert caught.value.code == "csv_missing_columns"
    assert "date_of_birth" in caught.value.detail


def test_vietnamese_header_names_are_understood() -> None:
    layout = header_layout(["SO_DINH_DANH", "ho_ten", "ngay_sinh", "gioi_tinh", "ma_xa_thuong_tru", "ghi_chu"])
    assert layout == {"cccd": 0, "full_name": 1, "date_of_birth": 2, "sex": 3, "perm_commune_code": 4}


# -- against the database ----------------------------------------------------------------------------------------
async def test_a_province_sized_file_is_imported_once_and_reimported_as_no_change(
    tmp_path: Path, connection: AsyncConnection, session: AsyncSession
) -> None:
    await add_communes(session)
    n = 100_000
    bad_lines = {10: "05201950000", 20_000: "", 77_777: "not-a-cccd"}  # three refused rows, by line number - 2
    lines = [person_line(i) for i in range(n)]
    for index, cccd in bad_lines.items():
        lines[index] = cccd + lines[index][12:]
    path = write_csv(tmp_path / "population.csv", lines)
    LEAK_CANARIES.update({cccd_of(5), f"09{5:08d}"})

    first = await run(connection, path)
    assert (first.rows, first.created, first.updated, first.rejected) == (n, n - 3, 0, 3)
    assert first.rows_per_second > 0
    assert first.households_created == n // 4
    assert [(i.line, i.code) for i in first.issues] == [
        (12, "cccd_format"),
        (20_002, "cccd_missing"),
        (77_779, "cccd_format"),
    ]
    assert await session.scalar(select(func.count()).select_from(Citizen)) == n - 3

    again = await run(connection, path)
    assert (again.created, again.updated, again.unchanged, again.rejected) == (0, 0, n - 3, 3)
    assert again.households_created == 0

    lines[5] = person_line(5, name="Nguyễn Thị Đã Đổi Tên")
    changed = await run(connection, write_csv(tmp_path / "changed.csv", lines))
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, n - 4)
    person = await session.scalar(
        select(Citizen).where(Citizen.cccd == cccd_of(5)).execution_options(populate_existing=True)
    )
    assert person is not None
    assert (person.full_name, person.version) == ("Nguyễn Thị Đã Đổi Tên", 2)
    history = (await session.scalars(select(RecordChange).where(RecordChange.citizen_id == person.id))).all()
    assert [(h.section, h.action, h.changes) for h in history] == [
        ("administrative", "update", {"full_name": ["Nguyễn Thị Thử 5", "Nguyễn Thị Đã Đổi Tên"]})
    ]


async def test_people_land_in_their_households_and_communes(
    tmp_path: Path, connection: AsyncConnection, session: AsyncSession
) -> None:
    await add_communes(session)
    await run(connection, write_csv(tmp_path / "p.csv", [person_line(i) for i in range(8)]))
    child = await session.scalar(select(Citizen).where(Citizen.cccd == cccd_of(5)))
    assert child is not None
    household = await session.get(Household, child.household_id)
    assert household is not None
    assert (household.code, household.commune_code, household.hamlet) == ("HK0000001", "52002", "Thôn 4")
    assert (child.sex.value, child.perm_commune_code, child.relation_to_head) == ("female", "52002", "con")
    assert child.phone == "+84900000005"
    assert child.date_of_birth == dt.date(1955, 6, 6)


async def test_rejected_rows_are_listed_by_line_and_reason_never_by_content(
    tmp_path: Path, connection: AsyncConnection, session: AsyncSession
) -> None:
    await add_communes(session)
    lines = [
        person_line(1),
        person_line(2).replace(",nữ,", ",?,").replace(",nam,", ",?,"),
        ",,,, ,",  # a blank line (or one of empty cells) is skipped, not refused
        person_line(3, phone="12345"),
        "052090000004,Thiếu Cột",
        person_line(1, name="Cùng CCCD Hai Lần"),
        person_line(6).replace("52001", "99999").replace("52002", "99999").replace("52003", "99999"),
    ]
    report = await run(connection, write_csv(tmp_path / "bad.csv", lines))
    assert (report.rows, report.created, report.rejected, report.warnings) == (6, 2, 4, 1)
    assert [(i.line, i.code, i.kind) for i in report.issues] == [
        (3, "sex_invalid", "rejected"),
        (5, "phone_invalid", "warning"),
        (6, "column_count", "rejected"),
        (7, "cccd_duplicate", "rejected"),
        (8, "commune_unknown", "rejected"),
    ]
    assert report.rejected_by_reason == {"sex_invalid": 1, "column_count": 1, "cccd_duplicate": 1, "commune_unknown": 1}
    assert "Thử" not in repr(report) and cccd_of(1) not in repr(report)
    first = await session.scalar(select(Citizen.full_name).where(Citizen.cccd == cccd_of(1)))
    assert first == "Nguyễn Thị Thử 1", "the first of two rows with one CCCD wins"


async def test_a_cccd_repeated_in_a_later_chunk_is_refused_too(
    tmp_path: Path, connection: AsyncConnection, session: AsyncSession
) -> None:
    await add_communes(session)
    lines = [person_line(i) for i in range(5)] + [person_line(0, name="Người Khác")]
    path = write_csv(tmp_path / "dup.csv", lines)
    report = await run(connection, path, chunk_size=2)
    assert (report.created, report.rejected, [(i.line, i.code) for i in report.issues]) == (
        5,
        1,
        [(7, "cccd_duplicate")],
    )
    again = await run(connection, path, chunk_size=2)
    assert (again.created, again.updated, again.unchanged, again.rejected) == (0, 0, 5, 1)


async def test_a_file_with_a_bom_and_crlf_line_ends_imports(
    tmp_path: Path, connection: AsyncConnection, session: AsyncSession
) -> None:
    await add_communes(session)
    path = write_csv(tmp_path / "excel.csv", [person_line(i) for i in range(3)], bom=True, newline="\r\n")
    report = await run(connection, path)
    assert (report.created, report.rejected) == (3, 0)
    names = (await session.scalars(select(Citizen.full_name).order_by(Citizen.full_name))).all()
    assert names == ["Nguyễn Thị Thử 0", "Nguyễn Thị Thử 1", "Nguyễn Thị Thử 2"], "no BOM or CR in the values"


async def test_bytes_that_are_not_utf8_refuse_only_their_row(
    tmp_path: Path, connection: AsyncConnection, session: AsyncSession
) -> None:
    await add_communes(session)
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        (HEADER + "\n" + person_line(1) + "\n").encode() + person_line(2).encode("cp1258", "replace") + b"\n"
    )
    report = await run(connection, path)
    assert (report.created, [(i.line, i.code) for i in report.issues]) == (1, [(3, "encoding_invalid")])


async def test_an_empty_phone_cell_keeps_the_phone_on_record(
    tmp_path: Path, connection: AsyncConnection, session: AsyncSession
) -> None:
    await add_communes(session)
    await run(connection, write_csv(tmp_path / "a.csv", [person_line(1)]))
    report = await run(connection, write_csv(tmp_path / "b.csv", [person_line(1, phone="")]))
    assert (report.updated, report.unchanged) == (0, 1)
    assert await session.scalar(select(Citizen.phone).where(Citizen.cccd == cccd_of(1))) == "+84900000001"


async def test_phr_import_population_prints_counts_reasons_and_rate(
    committed: Database, database_url: str, tmp_path: Path
) -> None:
    async with committed.transaction() as session:
        await add_communes(session)
    lines = [person_line(i) for i in range(50)]
    lines[2] = "x" + lines[2][1:]
    path = write_csv(tmp_path / "register.csv", lines)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHR_")}
    env |= {"PHR_DATABASE_URL": database_url, "PHR_DATA_DIR": str(tmp_path / "data"), "PHR_LOG_FORMAT": "json"}
    rejects = tmp_path / "rejects.csv"
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "api.cli", "import", "population", str(path), "--rejects", str(rejects)),
        cwd=ROOT,
        env=env,
        stdout=PIPE,
        stderr=PIPE,
    )
    out, err = (part.decode() for part in await process.communicate())
    assert process.returncode == 0, err
    assert "49 dòng" not in out and "50 dòng trong" in out
    assert "tạo mới 49 · cập nhật 0 · không đổi 0 · bị từ chối 1" in out
    assert "dòng/giây" in out and "(0 dòng/giây)" not in out
    assert "4:cccd_format" in out
    assert rejects.read_text() == "line,kind,reason\n4,rejected,cccd_format\n"
    assert "100.0%" in err, "the progress bar (a line per 10 % when stderr is not a terminal)"
    assert "Thử" not in out + err and cccd_of(7) not in out + err
