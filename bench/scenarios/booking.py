"""Scenario 2: many people booking the same 50 slots at once; afterwards, not one seat too many."""

from __future__ import annotations

import random
import uuid
from pathlib import Path

from sqlalchemy import text

from bench.results import headline
from bench.scenarios import BenchContext, Figures
from bench.tokens import citizen_tokens, write_tokens
from bench.wrk import THREADS

HOT_SLOTS = 50
# Where the hot slots are: the first ``:n`` two days or more ahead (bench/profile.py keeps off their day).
HOT_SLOT_ROWS = "FROM slots WHERE starts_at > now() + interval '2 days' ORDER BY starts_at, id LIMIT :n"
SMALL = 25  # slots left with 40 free seats: they fill during the run, so the "full" path is raced too
SMALL_SEATS = 40
PEOPLE = 20_000  # each books once; more requests than people only add 409 already_booked answers
# A random stripe of the 540,000 accounts past the record scenario's: people who booked in an earlier run would
# only get 409 already_booked.
SKIP_RANGE = (100_000, 500_000)


def booking_script(tokens_file: Path, slots_file: Path, run_id: str, threads: int = THREADS) -> str:
    """POST a booking as the next person for the next hot slot, each with its own Idempotency-Key."""
    return f"""
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("offset", threads)
end
local people, slots, counter = {{}}, {{}}, 0
function init(args)
  for line in io.lines("{tokens_file}") do
    local citizen, token = line:match("^(%S+) (%S+)$")
    if citizen then table.insert(people, {{citizen, token}}) end
  end
  for line in io.lines("{slots_file}") do table.insert(slots, line) end
end
function request()
  counter = counter + 1
  -- Threads take disjoint stripes of the people, so nobody books twice while people last.
  local index = ((counter - 1) * {threads} + offset - 1) % #people + 1
  local person = people[index]
  local slot = slots[(index - 1) % #slots + 1]
  return wrk.format("POST", "/v1/citizens/" .. person[1] .. "/appointments/", {{
    ["Authorization"] = "Bearer " .. person[2],
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = "bench-{run_id}-" .. offset .. "-" .. counter,
  }}, '{{"slot_id":"' .. slot .. '"}}')
end
"""


async def hot_slots(ctx: BenchContext) -> list[uuid.UUID]:
    """50 slots two days or more ahead (all reminders are schedulable), some nearly full, some wide open."""
    async with ctx.db.transaction() as session:
        ids = list(
            (
                await session.scalars(
                    text(f"SELECT id {HOT_SLOT_ROWS}"),
                    {"n": HOT_SLOTS},
                )
            ).all()
        )
        await session.execute(
            text("UPDATE slots SET capacity = booked + :seats WHERE id = ANY(:ids)"),
            {"seats": SMALL_SEATS, "ids": ids[:SMALL]},
        )
        await session.execute(
            text("UPDATE slots SET capacity = booked + 1000000 WHERE id = ANY(:ids)"), {"ids": ids[SMALL:]}
        )
    return ids


async def seat_counts(ctx: BenchContext, ids: list[uuid.UUID]) -> list[tuple[int, int, int]]:
    """(capacity, booked, active appointments) of each slot."""
    async with ctx.db.transaction() as session:
        rows = await session.execute(
            text(
                "SELECT s.capacity, s.booked, (SELECT count(*) FROM appointments a WHERE a.slot_id = s.id "
                "AND a.status IN ('booked', 'checked_in')) FROM slots s WHERE s.id = ANY(:ids)"
            ),
            {"ids": ids},
        )
        return [(r[0], r[1], r[2]) for r in rows]


async def run(ctx: BenchContext) -> Figures:
    ids = await hot_slots(ctx)
    slots_file = ctx.workdir / "hot-slots.txt"
    slots_file.write_text("".join(f"{i}\n" for i in ids))
    pairs = await citizen_tokens(ctx.db, ctx.settings, PEOPLE, skip=random.randrange(*SKIP_RANGE))  # noqa: S311
    tokens_file = write_tokens(ctx.workdir / "booking-tokens.txt", pairs)
    before = await seat_counts(ctx, ids)
    # Keys unique to the run: a key seen before (same account) would replay that run's stored answer.
    run_ = await ctx.wrk_run(booking_script(tokens_file, slots_file, uuid.uuid4().hex[:8]))
    after = await seat_counts(ctx, ids)

    made = sum(active for _, _, active in after) - sum(active for _, _, active in before)
    overbooked = sum(1 for capacity, booked, active in after if booked > capacity or active > capacity)
    drift = sum(1 for _, booked, active in after if booked != active)
    full = sum(1 for capacity, booked, _ in after if booked >= capacity)
    per_second = made / run_.seconds
    return {
        "headlines": [
            headline(
                "bookings/s on 50 hot slots",
                round(per_second),
                "bookings/s",
                goal="≥ 1,000/s",
                met=per_second >= 1000,
            ),
            headline("overbooked slots", overbooked, "slots", goal="0", met=overbooked == 0),
            headline("booking p99", run_.p99_ms, "ms"),
        ],
        "figures": {
            "connections": ctx.connections,
            "bookings_made": made,
            "slots_full_at_end": full,
            "slots_where_booked_differs_from_active_appointments": drift,
            "people": len(pairs),
            "wrk": run_.figures(),
        },
    }
