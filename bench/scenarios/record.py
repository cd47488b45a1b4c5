"""Scenario 1: a citizen reads their own record summary, against raw asyncpg running the same queries."""

from __future__ import annotations

import httpx

from bench.results import headline
from bench.scenarios import BenchContext, Figures
from bench.tokens import citizen_tokens, write_tokens
from bench.wrk import rotating_get_script

PEOPLE = 2000  # rotated through, so PostgreSQL's cache holds a realistic spread of records, not one


async def same_rows(ctx: BenchContext, citizen: str, token: str) -> dict[str, int]:
    """Items per list section from both routes: the baseline must serve the same rows, or the ratio lies."""
    async with httpx.AsyncClient(base_url=ctx.server_url or "") as http:
        app = (await http.get(f"/v1/citizens/{citizen}/record", headers={"Authorization": f"Bearer {token}"})).json()
        raw = (await http.get(f"/bench/raw-record/{citizen}")).json()
    counts = {}
    for name, items in app["sections"].items():
        if isinstance(items, list):
            counts[name] = len(items)
            if len(raw["sections"][name]) != len(items):
                raise RuntimeError(f"the raw baseline disagrees with the record route on {name}")
    return counts


async def run(ctx: BenchContext) -> Figures:
    pairs = await citizen_tokens(ctx.db, ctx.settings, PEOPLE)
    path = write_tokens(ctx.workdir / "record-tokens.txt", pairs)
    sample = await same_rows(ctx, str(pairs[0][0]), pairs[0][1])

    app_script = rotating_get_script(path, "/v1/citizens/{citizen}/record")
    raw_script = rotating_get_script(path, "/bench/raw-record/{citizen}")
    # A short warm-up of each: pools filled, plans cached, pages in shared buffers, on both sides alike.
    await ctx.wrk_run(raw_script, seconds=2)
    await ctx.wrk_run(app_script, seconds=2)
    raw = await ctx.wrk_run(raw_script)
    app = await ctx.wrk_run(app_script)
    return {
        "headlines": [
            headline(
                "record summary req/s",
                round(app.ok_per_second),
                "req/s",
                baseline=round(raw.ok_per_second),
                goal="≥ 60 % of raw",
                met=app.ok_per_second >= 0.6 * raw.ok_per_second,
            ),
            headline(
                "record summary p99",
                app.p99_ms,
                "ms",
                baseline=raw.p99_ms,
                goal="≤ 50 ms",
                met=app.p99_ms <= 50 and app.non_2xx == 0,
            ),
            headline("record summary p50", app.p50_ms, "ms", baseline=raw.p50_ms),
        ],
        "figures": {
            "connections": ctx.connections,
            "people_rotated": len(pairs),
            "sample_items_per_section": sample,
            "app": app.figures(),
            "raw_asyncpg": raw.figures(),
        },
    }
