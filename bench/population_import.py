"""Population CSV import throughput, against a same-run baseline (see ../shared/BENCHMARKS.md).

    .venv/bin/python bench/population_import.py --rows 300000

Generates a made-up register of ``--rows`` people, then measures in one run, on the same file and database:

- baseline: a plain ``COPY … FROM STDIN (FORMAT csv)`` of the file into an UNLOGGED table of text columns: no
  parsing in Python, no validation, no indexes; the floor of what loading these bytes costs;
- import: ``PopulationImporter`` into empty citizens and households tables (every row created);
- re-import: the same file again (every row compared, nothing written).

Each figure is rows/s and the ratio to the baseline. The report goes to ``bench/results/population_import.json``
and ``.md``. It runs against ``PHR_DATABASE_URL`` if that names a database called ``phr_bench…`` (it empties the
citizens and households tables, so it refuses any other), else an embedded server in ``.phr-data/pg-bench``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.db import start_embedded_postgres  # noqa: E402
from core.interop.population import PopulationImporter  # noqa: E402
from core.migrations import upgrade  # noqa: E402

COMMUNES = [f"51{n:03d}" for n in range(1, 181)]  # about Quảng Ngãi's number of communes
COLUMNS = (
    "cccd full_name date_of_birth sex household_code relation_to_head perm_commune_code perm_hamlet perm_street phone"
)
HEADER = ",".join(COLUMNS.split())
SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Võ", "Phan", "Trương", "Bùi", "Đặng"]
GIVEN = ["An", "Bình", "Chi", "Dũng", "Hà", "Hùng", "Lan", "Linh", "Minh", "Nam", "Ngọc", "Phương", "Thảo", "Tuấn"]


def generate(path: Path, rows: int, seed: int = 51) -> None:
    rng = random.Random(seed)  # noqa: S311 - made-up people, reproducible from the seed
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER + "\n")
        for i in range(rows):
            female = rng.random() < 0.5
            born = dt.date(1930, 1, 1) + dt.timedelta(days=rng.randrange(95 * 365))
            digit = (0 if born.year < 2000 else 2) + female
            name = f"{rng.choice(SURNAMES)} {'Thị' if female else 'Văn'} {rng.choice(GIVEN)}"
            commune = COMMUNES[i // 4 % len(COMMUNES)]
            phone = f"09{rng.randrange(10**8):08d}" if rng.random() < 0.7 else ""
            # Birth-registration provinces 051, 052, … keep ten million CCCDs unique.
            cccd = f"{51 + i // 10**6:03d}{digit}{born.year % 100:02d}{i % 10**6:06d}"
            out.write(
                f"{cccd},{name},{born:%d/%m/%Y},{'nữ' if female else 'nam'},HK{i // 4:08d},"
                f"{'chủ hộ' if i % 4 == 0 else 'con'},{commune},Thôn {i % 7 + 1},"
                f"Số {i % 300} đường {rng.choice(GIVEN)},{phone}\n"
            )


async def prepare(url: str) -> None:
    engine = create_async_engine(url, poolclass=NullPool)
    await upgrade(engine)
    async with engine.begin() as conn:
        await conn.execute(text("TRUNCATE citizens, households, record_history CASCADE"))
        units = [("51", "province", "Quảng Ngãi", None), ("511", "district", "Huyện", "51")]
        units += [(code, "commune", f"Xã {code}", "511") for code in COMMUNES]
        await conn.execute(
            text(
                "INSERT INTO admin_units (code, level, name, parent_code) VALUES (:code, :level, :name, :parent) "
                "ON CONFLICT DO NOTHING"
            ),
            [dict(zip(("code", "level", "name", "parent"), unit, strict=True)) for unit in units],
        )
    await engine.dispose()


async def baseline(url: str, path: Path, rows: int) -> float:
    engine = create_async_engine(url, poolclass=NullPool)
    columns = ", ".join(f"{name} text" for name in HEADER.split(","))
    async with engine.connect() as conn:
        await conn.execute(text(f"CREATE UNLOGGED TABLE IF NOT EXISTS bench_population_copy ({columns})"))
        await conn.execute(text("TRUNCATE bench_population_copy"))
        await conn.commit()
        raw = await conn.get_raw_connection()
        started = time.perf_counter()
        with path.open("rb") as source:
            await raw.driver_connection.copy_to_table(  # type: ignore[union-attr]
                "bench_population_copy", source=source, format="csv", header=True
            )
        seconds = time.perf_counter() - started
        await conn.execute(text("DROP TABLE bench_population_copy"))
        await conn.commit()
    await engine.dispose()
    return rows / seconds


async def run_import(url: str, path: Path, chunk_size: int) -> tuple[float, dict[str, int]]:
    engine = create_async_engine(url, poolclass=NullPool)
    async with engine.connect() as conn:
        report = await PopulationImporter(conn, chunk_size=chunk_size).run(path)
    await engine.dispose()
    counts = {"created": report.created, "updated": report.updated, "unchanged": report.unchanged}
    return report.rows_per_second, counts | {"rejected": report.rejected}


def database_url() -> tuple[str, object]:
    url = os.environ.get("PHR_DATABASE_URL")
    if url:
        if not url.rsplit("/", 1)[-1].split("?")[0].startswith("phr_bench"):
            raise SystemExit("PHR_DATABASE_URL must name a database called phr_bench… (the benchmark empties tables)")
        return url.replace("postgresql://", "postgresql+asyncpg://", 1), None
    server = start_embedded_postgres(ROOT / ".phr-data" / "pg-bench", database="phr_bench")
    return server.url("phr_bench"), server


async def main(rows: int, chunk_size: int, repeat: int) -> dict[str, object]:
    url, _server = database_url()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "population.csv"
        generate(path, rows)
        results: dict[str, list[float]] = {"baseline": [], "import": [], "reimport": []}
        counts: dict[str, dict[str, int]] = {}
        for _ in range(repeat):
            await prepare(url)
            results["baseline"].append(await baseline(url, path, rows))
            rate, counts["import"] = await run_import(url, path, chunk_size)
            results["import"].append(rate)
            rate, counts["reimport"] = await run_import(url, path, chunk_size)
            results["reimport"].append(rate)
    best = {name: max(values) for name, values in results.items()}
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}",
        "rows": rows,
        "chunk_size": chunk_size,
        "rows_per_second": {name: round(value) for name, value in best.items()},
        "ratio_to_baseline": {name: round(value / best["baseline"], 3) for name, value in best.items()},
        "all_runs": {name: [round(v) for v in values] for name, values in results.items()},
        "counts": counts,
    }


def markdown(result: dict[str, object]) -> str:
    rates = result["rows_per_second"]
    ratios = result["ratio_to_baseline"]
    assert isinstance(rates, dict)
    assert isinstance(ratios, dict)
    lines = [
        f"Population import, {result['rows']:,} rows, chunks of {result['chunk_size']:,} — {result['date']}, "
        f"{result['machine']}",
        "",
        "| run | rows/s | ratio to baseline |",
        "| --- | ---: | ---: |",
    ]
    lines += [f"| {name} | {rates[name]:,} | {ratios[name]:.3f} |" for name in rates]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--chunk-size", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each measure; the best is reported")
    args = parser.parse_args()
    result = asyncio.run(main(args.rows, args.chunk_size, args.repeat))
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "population_import.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "population_import.md").write_text(markdown(result))
    print(markdown(result))
