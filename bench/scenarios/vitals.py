"""Scenario 6: people writing a self-measured blood pressure (``POST /v1/citizens/{id}/record/vitals``).

A write goes through everything a record write does: the access check, the exclusion policy, the insert, the
history row, one commit. 2,000 people rotate, so no single record's lock is the measure. Absolute figures.
"""

from __future__ import annotations

import datetime as dt
import json

from bench.results import headline
from bench.scenarios import BenchContext, Figures
from bench.tokens import citizen_tokens, write_tokens
from bench.wrk import rotating_script

PEOPLE = 2000
SKIP = 60_000  # a stripe of accounts the other scenarios do not use


async def run(ctx: BenchContext) -> Figures:
    pairs = await citizen_tokens(ctx.db, ctx.settings, PEOPLE, skip=SKIP)
    path = write_tokens(ctx.workdir / "vitals-tokens.txt", pairs)
    measured = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=5)
    body = json.dumps({"kind": "blood_pressure", "measured_at": measured.isoformat(), "value": 128, "value2": 82})
    script = rotating_script(path, "/v1/citizens/{citizen}/record/vitals", method="POST", json_body=body)
    await ctx.wrk_run(script, seconds=2)
    run = await ctx.wrk_run(script)
    return {
        "headlines": [
            headline("vitals write req/s", round(run.ok_per_second), "req/s"),
            headline("vitals write p99", run.p99_ms, "ms"),
        ],
        "figures": {"connections": ctx.connections, "people_rotated": len(pairs), **run.figures()},
    }
