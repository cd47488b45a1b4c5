"""Scenario 8: hospital episodes (XML 130) imported one file per transaction, against parsing alone.

The twelve synthetic samples of ``samples/xml130`` (ordinary, quarantined for an excluded diagnosis, with XML6,
…) are imported in turn, each under a fresh MA_LK so none is an idempotent repeat: parse, exclusion filter,
match by CCCD/BHXH (the samples' people are not in the seeded province, so they wait as pending matches for a
station: the slower path), store. The baseline is ``parse_episode`` alone on the same bytes, same process.
In-process (no HTTP): the endpoint adds only what every write route adds.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import msgspec

from bench.results import ROOT, headline
from bench.scenarios import BenchContext, Figures
from core.errors import DomainError
from core.interop.episodes import Client, HisImportService
from core.interop.xml130 import parse_episode

SAMPLES = ROOT / "samples" / "xml130"


def sample_files() -> list[bytes]:
    files = []
    for path in sorted(SAMPLES.glob("*.xml")):
        data = path.read_bytes()
        try:
            parse_episode(data)
        except DomainError:
            continue  # a sample of a refused file: not an episode to time
        files.append(data)
    return files


def parse_only(files: list[bytes], seconds: float) -> tuple[int, float]:
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for data in files:
            parse_episode(data)
            done += 1
    return done, time.perf_counter() - started


async def run(ctx: BenchContext) -> Figures:
    files = sample_files()
    if not files:
        raise RuntimeError(f"no XML 130 samples in {SAMPLES}")
    budget = max(5.0, ctx.seconds / 2)
    parsed, parse_seconds = await asyncio.to_thread(parse_only, files, budget)
    run_id = uuid.uuid4().hex[:10]
    imported, statuses, started = 0, dict[str, int](), time.perf_counter()
    while time.perf_counter() - started < budget:
        for data in files:
            episode = parse_episode(data)
            unique = msgspec.structs.replace(episode.summary, ma_lk=f"BENCH-{run_id}-{imported}")
            async with ctx.db.transaction() as session:
                report = await HisImportService(session, ctx.settings).import_episode(
                    msgspec.structs.replace(episode, summary=unique), Client()
                )
            statuses[report.status] = statuses.get(report.status, 0) + 1
            imported += 1
    import_seconds = time.perf_counter() - started
    parse_rate, import_rate = parsed / parse_seconds, imported / import_seconds
    return {
        "headlines": [
            headline(
                "HIS import episodes/s (one file per transaction)",
                round(import_rate, 1),
                "episodes/s",
                baseline=round(parse_rate, 1),
            ),
        ],
        "figures": {
            "sample_files": len(files),
            "mean_file_bytes": round(sum(len(f) for f in files) / len(files)),
            "parse_only": {"episodes": parsed, "seconds": round(parse_seconds, 2), "per_s": round(parse_rate, 1)},
            "import": {"episodes": imported, "seconds": round(import_seconds, 2), "per_s": round(import_rate, 1)},
            "import_statuses": statuses,
        },
    }
