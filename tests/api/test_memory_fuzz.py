"""Oversized and malformed input does not make a real server grow: its memory after a fuzzing run stays within a
bound of its memory after a warm-up with the same kinds of input.

The server is ``phr serve`` in a subprocess (granian, the production entry point) on the test session's database;
its resident set (the granian process and its worker, measured with psutil) is sampled during the run. Inputs:
bodies over the limit (announced and chunked), JSON just under it (a long string, thousands of fields, nesting
100,000 deep, truncated, invalid UTF-8), XML 130 over and under its 10 MiB limit (deep, wide, a DTD), a JSON-lines
feed of broken lines, a form body, long cursors, query strings and headers. No answer may be a 5xx.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from core.db import Database
from core.interop.xml130 import MAX_FILE_BYTES
from core.settings import Settings
from tests.api.test_authorization_matrix import World, add_immunization_feed, build_world
from tests.scale import scaled_seconds

pytestmark = pytest.mark.reliability

ROOT = Path(__file__).resolve().parents[2]
DURATION = scaled_seconds(20, 600)
WARM_UP = scaled_seconds(5, 60)
TIMELINE_STEP = DURATION / 20  # seconds between the peaks reported
CONCURRENCY = 4
# The allocator keeps growing its arenas for the first ~100 s of this load and then stays flat (the 10-minute run:
# +18 MB, flat after ~100 s). The CI run, 20 s long, ends inside that settling, where runs measured +1.6 to +27.5 MB:
# its bound only catches a gross leak (a 10 MiB body kept per refused request grew ~100 MB in 150 s). The long run
# is the flatness proof, with the tight bound.
MAX_GROWTH_MB = scaled_seconds(60.0, 25.0)
MIB = 1024 * 1024


@dataclass(frozen=True)
class Attack:
    name: str
    method: str
    path: str
    content: bytes | None = None
    media_type: str = "application/json"
    principal: str = "citizen_a"
    chunked: bool = False
    headers: tuple[tuple[str, str], ...] = ()
    params: tuple[tuple[str, str], ...] = ()

    @property
    def oversized(self) -> bool:
        return "over" in self.name


def attacks(world: World, limit: int) -> list[Attack]:
    a = world.ids["A"]
    record = f"/v1/citizens/{a}/record"
    deep = 100_000
    big_json = b'{"description": "' + b"x" * (2 * limit) + b'"}'
    attacks = [
        Attack("json over the limit", "POST", f"/v1/citizens/{a}/corrections", big_json),
        Attack("json over the limit, chunked", "POST", f"/v1/citizens/{a}/corrections", big_json, chunked=True),
        Attack("otp over the limit, chunked", "POST", "/v1/auth/otp", big_json, principal="anonymous", chunked=True),
        Attack("long string", "POST", f"{record}/allergies", b'{"substance": "' + b"y" * (limit - 64) + b'"}'),
        Attack(
            "many fields",
            "PATCH",
            f"{record}/contact",
            b"{" + b",".join(b'"f%d": %d' % (i, i) for i in range(limit // 20)) + b"}",
            headers=(("If-Match", '"1"'),),
        ),
        Attack("nested arrays", "POST", f"{record}/vitals", b"[" * deep + b"]" * deep),
        Attack("nested objects", "PUT", f"{record}/other", b'{"a":' * deep + b"1" + b"}" * deep),
        Attack(
            "nested under an open field",
            "POST",
            "/v1/station/campaigns",
            b'{"cohort": ' + b"[" * deep,
            principal="staff_same",
        ),
        Attack("unclosed nesting", "POST", "/v1/auth/otp/verify", b"[" * (limit - 16), principal="anonymous"),
        Attack("truncated json", "POST", f"/v1/citizens/{a}/shares", b'{"sections": ["allergies", "no'),
        Attack("invalid utf-8", "POST", f"/v1/citizens/{a}/corrections", b'{"description": "\xff\xfe\xc3\x28"}'),
        Attack("nul bytes", "PUT", f"{record}/risk-factors", b'{"smoking": "\x00' + b"\x00" * 1000 + b'"}'),
        Attack("wrong media type", "POST", f"/v1/citizens/{a}/corrections", b"x" * 10_000, media_type="text/plain"),
        Attack(
            "form over the limit",
            "POST",
            "/v1/integration/token",
            b"grant_type=client_credentials&client_id=" + b"z" * (2 * limit),
            media_type="application/x-www-form-urlencoded",
            principal="anonymous",
        ),
        Attack(
            "feed of broken lines",
            "POST",
            "/v1/integration/immunizations",
            b"\n".join(b'{"dose_id": "D-%d", "vaccine": ' % i for i in range(limit // 40)),
            media_type="application/x-ndjson",
            principal="feed",
        ),
        Attack(
            "feed over the limit, chunked",
            "POST",
            "/v1/integration/immunizations",
            b'{"dose_id": "1"}\n' * (2 * limit // 17),
            media_type="application/x-ndjson",
            principal="feed",
            chunked=True,
        ),
        Attack(
            "xml over 10 MiB",
            "POST",
            "/v1/integration/his/episodes",
            b"<GIAMDINHHS>" + b" " * MAX_FILE_BYTES,
            media_type="application/xml",
            principal="machine",
            chunked=True,
        ),
        Attack(
            "xml wide",
            "POST",
            "/v1/integration/his/episodes",
            b"<GIAMDINHHS>" + b"<FILEHOSO><LOAIHOSO>XML1</LOAIHOSO></FILEHOSO>" * 150_000 + b"</GIAMDINHHS>",
            media_type="application/xml",
            principal="machine",
        ),
        Attack(
            "xml deep",
            "POST",
            "/v1/integration/his/episodes",
            b"<a>" * 200_000 + b"</a>" * 200_000,
            media_type="application/xml",
            principal="machine",
        ),
        Attack(
            "xml entities",
            "POST",
            "/v1/integration/his/episodes",
            b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "'
            + b"a" * 1000
            + b'">'
            + b"".join(b'<!ENTITY a%d "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">' % i for i in range(10))
            + b"]><l>&a9;</l>",
            media_type="application/xml",
            principal="machine",
        ),
        Attack(
            "xml base64 garbage",
            "POST",
            "/v1/integration/his/episodes",
            b"<GIAMDINHHS><FILEHOSO><LOAIHOSO>XML1</LOAIHOSO><NOIDUNGFILE>"
            + b"!@#$" * 2_000_000
            + b"</NOIDUNGFILE></FILEHOSO></GIAMDINHHS>",
            media_type="application/xml",
            principal="machine",
        ),
        Attack("long cursor", "GET", f"/v1/citizens/{a}/access-log", params=(("cursor", "c" * 6000),)),
        Attack("huge page", "GET", f"/v1/citizens/{a}/grants", params=(("limit", "9" * 400),)),
        Attack("many query parameters", "GET", "/v1/notifications", params=tuple((f"p{i}", "v") for i in range(2000))),
        Attack("long header", "GET", "/v1/me", headers=(("X-Junk", "j" * 30_000),)),
        Attack(
            "long bearer",
            "GET",
            "/v1/me",
            principal="anonymous",
            headers=(("Authorization", "Bearer " + "e" * 60_000),),
        ),
    ]
    return attacks


@dataclass(frozen=True)
class Server:
    base_url: str
    process: psutil.Process


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_mb(root: psutil.Process) -> float:
    """Resident memory of the server: the granian process and every worker under it."""
    total = 0
    for process in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += process.memory_info().rss
    return total / MIB


@pytest.fixture
def server(committed: Database, database_url: str, settings: Settings, tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHR_")}
    env |= {
        "PHR_ENV": "test",
        "PHR_DATABASE_URL": database_url,
        "PHR_DATA_DIR": str(tmp_path / "data"),
        "PHR_PORT": str(port),
        "PHR_WORKERS": "1",
        "PHR_DB_POOL_SIZE": "4",
        "PHR_LOG_FORMAT": "json",
        "PHR_LOG_LEVEL": "WARNING",
        "PHR_SECRET_KEY": settings.secret_key,
        "PHR_JWT_PRIVATE_KEY": settings.jwt_private_key_pem,
        "PHR_MAX_BODY_BYTES": str(settings.max_body_bytes),
    }
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--no-demo"], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"{base}/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        else:
            raise AssertionError("the server never became ready: " + (tmp_path / "server.log").read_text()[-2000:])
        yield Server(base, psutil.Process(process.pid))
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
async def fuzz_world(committed: Database, settings: Settings) -> World:
    async with committed.sessionmaker() as session:
        world = await build_world(session, settings)
        await add_immunization_feed(session, settings, world, "fuzz-feed")
        await session.commit()
    return world


async def body(content: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(content), 256 * 1024):
        yield content[start : start + 256 * 1024]


async def send(http: httpx.AsyncClient, attack: Attack, world: World) -> int:
    headers = world.headers[attack.principal] | dict(attack.headers)
    if attack.oversized:
        # The server answers 413 before the body is all sent and may close: that connection is not to be reused.
        headers["Connection"] = "close"
    if attack.content is not None:
        headers["Content-Type"] = attack.media_type
    content = body(attack.content) if attack.chunked and attack.content is not None else attack.content
    try:
        response = await http.request(
            attack.method, attack.path, content=content, headers=headers, params=list(attack.params)
        )
    except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError):
        # The server answered 413 and closed the connection while the body was still being sent: the client may
        # see the close before the answer. Anywhere else it is a failure (and a crashed worker shows as a new pid).
        return 0
    return response.status_code


class Fuzzer:
    """CONCURRENCY clients sending randomly chosen attacks, counting answers; RSS sampled meanwhile."""

    def __init__(self, http: httpx.AsyncClient, cases: list[Attack], world: World, root: psutil.Process) -> None:
        self.http, self.cases, self.world, self.root = http, cases, world, root
        self.rng = random.Random(11)
        self.statuses: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
        self.sent = 0
        self.peak = 0.0
        self.timeline: list[float] = []

    async def hit(self, attack: Attack) -> None:
        self.statuses[attack.name][await send(self.http, attack, self.world)] += 1
        self.sent += 1

    async def run(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds

        async def client() -> None:
            while time.monotonic() < deadline:
                await self.hit(self.rng.choice(self.cases))

        async def sampler() -> None:
            while time.monotonic() < deadline:
                self.peak = max(self.peak, rss_mb(self.root))
                if len(self.timeline) < (seconds - (deadline - time.monotonic())) / TIMELINE_STEP:
                    self.timeline.append(self.peak)
                await asyncio.sleep(0.25)

        await asyncio.gather(sampler(), *(client() for _ in range(CONCURRENCY)))


async def settled_rss(root: psutil.Process) -> float:
    await asyncio.sleep(2)
    return rss_mb(root)


async def test_memory_stays_flat_under_oversized_and_malformed_input(
    server: Server, fuzz_world: World, settings: Settings
) -> None:
    root = server.process
    cases = attacks(fuzz_world, settings.max_body_bytes)
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60, limits=limits) as http:
        fuzz = Fuzzer(http, cases, fuzz_world, root)
        started = rss_mb(root)
        # Warm-up: every kind of input CONCURRENCY times at once (the most memory any one kind takes together), then
        # the run's own mix. What the allocator keeps after its high-water mark is the baseline, not a leak.
        for attack in cases:
            await asyncio.gather(*(fuzz.hit(attack) for _ in range(CONCURRENCY)))
        await fuzz.run(WARM_UP)
        warm = await settled_rss(root)
        workers = {p.pid for p in root.children(recursive=True)}
        warm_sent, fuzz.peak, fuzz.timeline = fuzz.sent, warm, []
        await fuzz.run(DURATION)
        after = await settled_rss(root)
        ready = (await http.get("/health/ready")).status_code
        assert {p.pid for p in root.children(recursive=True)} == workers, "a worker died and was replaced"
    report = ", ".join(f"{name}: {dict(counts)}" for name, counts in sorted(fuzz.statuses.items()))
    print(
        f"\nmemory fuzz: {fuzz.sent - warm_sent} requests in {DURATION:.0f} s after {warm_sent} in a {WARM_UP:.0f} s "
        f"warm-up; server RSS start {started:.1f} MB, warm {warm:.1f} MB, peak {fuzz.peak:.1f} MB, "
        f"after {after:.1f} MB ({after - warm:+.1f} MB); peak every {TIMELINE_STEP:.0f} s: "
        f"{[round(m) for m in fuzz.timeline]}\n{report}"
    )
    server_errors = {name: c for name, c in fuzz.statuses.items() if any(s >= 500 for s in c)}
    assert server_errors == {}, server_errors
    oversized = {a.name for a in cases if a.oversized}
    dropped = {name: c for name, c in fuzz.statuses.items() if c[0] and name not in oversized}
    assert dropped == {}, f"connections dropped on bodies within the limits: {dropped}"
    assert ready == 200, "the server is still ready after the run"
    assert after - warm <= MAX_GROWTH_MB, f"RSS grew {after - warm:.1f} MB (warm {warm:.1f}, after {after:.1f})"
