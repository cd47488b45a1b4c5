"""A body over the limit is a 413 problem on every route that takes one, announced or streamed.

The limit is ``PHR_MAX_BODY_BYTES`` (JSON, form and JSON-lines bodies) and 10 MiB for an XML 130 file. A body is
refused whether its ``Content-Length`` says so up front or it arrives chunked with no length at all: the server
counts what it reads and stops at the limit, so a large body never sits in memory whole.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core.interop.xml130 import MAX_FILE_BYTES
from core.settings import Settings
from tests.api.test_authorization_matrix import (
    ALLOW,
    PRINCIPALS,
    ROWS,
    SAME_FOR_ALL,
    World,
    add_immunization_feed,
    build_world,
)
from tests.support import serving

pytestmark = pytest.mark.reliability

LIMIT = 4096  # the configured limit in these tests: small, so every route is tried quickly
XML_ROUTE = ("POST", "/v1/integration/his/episodes")
FEED_ROUTE = ("POST", "/v1/integration/immunizations")
# Routes that read their body themselves, and so document no JSON requestBody: (media type, limit).
RAW_BODIES = {XML_ROUTE: ("application/xml", MAX_FILE_BYTES), FEED_ROUTE: ("application/x-ndjson", LIMIT)}


def oversized(media_type: str, size: int) -> bytes:
    """A body of exactly ``size`` bytes that would otherwise be well-formed for its media type."""
    if media_type == "application/xml":
        head, tail = b"<GIAMDINHHS><!--", b"--></GIAMDINHHS>"
    elif media_type == "application/x-ndjson":
        head, tail = b'{"dose_id": "', b'"}\n'
    elif media_type == "application/x-www-form-urlencoded":
        head, tail = b"grant_type=client_credentials&client_id=", b""
    else:
        head, tail = b'{"description": "', b'"}'
    return head + b"a" * (size - len(head) - len(tail)) + tail


async def chunks(body: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """The body with no Content-Length: httpx sends it with Transfer-Encoding: chunked."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def caller(method: str, template: str, world: World) -> str:
    """A principal that gets past the route's guard (the body is read after the guard)."""
    row = ROWS[(method, template)]
    for target in row.targets:
        for principal in PRINCIPALS:
            if row.expect(principal, target) in (ALLOW, SAME_FOR_ALL, 404, 409, 422):
                return principal
    raise AssertionError(f"no principal passes the guard of {method} {template}")


def body_routes(schema: dict[str, Any]) -> dict[tuple[str, str], str]:
    """Every write route that takes a body, with the media type it takes."""
    routes: dict[tuple[str, str], str] = {}
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            key = (method.upper(), path)
            if key in RAW_BODIES:
                routes[key] = RAW_BODIES[key][0]
            elif method in ("post", "put", "patch", "delete") and "requestBody" in operation:
                routes[key] = next(iter(operation["requestBody"]["content"]))
    return routes


@pytest.fixture
async def world(session: AsyncSession, settings: Settings) -> World:
    world = await build_world(session, settings)
    await add_immunization_feed(session, settings, world, "limits-feed")
    await session.flush()
    return world


async def test_every_body_route_refuses_an_oversized_body_with_413(
    make_app: Callable[..., Litestar], connection: AsyncConnection, world: World
) -> None:
    refused: list[str] = []
    wrong: list[str] = []
    async with serving(make_app(max_body_bytes=LIMIT)) as http:
        routes = body_routes((await http.get("/schema/openapi.json")).json())
        assert len(routes) >= 40 and XML_ROUTE in routes and FEED_ROUTE in routes, sorted(routes)
        for (method, template), media_type in sorted(routes.items()):
            principal = "feed" if (method, template) == FEED_ROUTE else caller(method, template, world)
            row = ROWS[(method, template)]
            path = template.format(**row.params(world, row.targets[0]))
            limit = RAW_BODIES.get((method, template), (media_type, LIMIT))[1]
            body = oversized(media_type, limit + 1)
            headers = world.headers[principal] | {"Content-Type": media_type, "Idempotency-Key": "limits"}
            for how, content in (("announced", body), ("chunked", chunks(body))):
                savepoint = await connection.begin_nested()
                try:
                    response = await http.request(method, path, content=content, headers=headers)
                finally:
                    await savepoint.rollback()
                problem = response.headers.get("content-type", "").startswith("application/problem+json")
                if response.status_code == 413 and problem and response.json()["type"].endswith("payload-too-large"):
                    refused.append(f"{method} {template} {how}")
                else:
                    wrong.append(f"{method} {template} ({how}, {len(body)} bytes): {response.status_code}")
    print(f"\n413 problem for {len(refused)} oversized bodies on {len(routes)} routes")
    assert wrong == []


async def test_the_limit_is_the_configured_one(make_app: Callable[..., Litestar], settings: Settings) -> None:
    """At the default limit (1 MiB): one byte more is refused, the limit itself is read (and judged on content)."""
    json = {"Content-Type": "application/json"}
    async with serving(make_app()) as http:
        for size, statuses in ((settings.max_body_bytes + 1, {413}), (settings.max_body_bytes, {400, 422})):
            body = b'{"phone": "' + b"9" * (size - len(b'{"phone": ""}')) + b'"}'
            assert len(body) == size
            for content in (body, chunks(body)):
                response = await http.post("/v1/auth/otp", content=content, headers=json)
                assert response.status_code in statuses, (size, response.status_code)
                assert response.headers["content-type"] == "application/problem+json"


async def test_a_lying_content_length_does_not_get_a_larger_body_in(make_app: Callable[..., Litestar]) -> None:
    """The count is of bytes received: a small announced length with a larger body is still cut at the limit."""

    async def app_sees(body: bytes, announced: int) -> int:
        application = make_app(max_body_bytes=LIMIT)
        async with serving(application):
            messages = [{"type": "http.request", "body": body, "more_body": False}]
            sent: list[dict[str, Any]] = []

            async def receive() -> dict[str, Any]:
                return messages.pop(0) if messages else {"type": "http.disconnect"}

            async def send(message: dict[str, Any]) -> None:
                sent.append(message)

            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "POST",
                "scheme": "http",
                "path": "/v1/auth/otp",
                "raw_path": b"/v1/auth/otp",
                "query_string": b"",
                "root_path": "",
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(announced).encode())],
                "client": ("127.0.0.1", 40000),
                "server": ("phr.test", 80),
                "state": {},
            }
            await application(scope, receive, send)  # type: ignore[arg-type]
            return int(next(m["status"] for m in sent if m["type"] == "http.response.start"))

    assert await app_sees(oversized("application/json", LIMIT + 1), announced=10) == 413
    assert await app_sees(b'{"phone": "0905000123"}', announced=LIMIT + 1) == 413


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="nested arrays"),
        pytest.param(b'{"a":' * 100_000 + b"1" + b"}" * 100_000, id="nested objects"),
        pytest.param(b"[" * 4000, id="unclosed nesting"),
        pytest.param(b'{"phone": "\xff\xfe\xc3\x28"}', id="invalid utf-8"),
    ],
)
async def test_a_body_that_cannot_be_decoded_is_a_400_not_a_500(make_app: Callable[..., Litestar], body: bytes) -> None:
    async with serving(make_app(), raise_app_exceptions=False) as http:
        response = await http.post("/v1/auth/otp", content=body, headers={"Content-Type": "application/json"})
    assert (response.status_code, response.headers["content-type"]) == (400, "application/problem+json")


async def test_a_refused_body_is_freed_at_once_not_by_the_garbage_collector(
    make_app: Callable[..., Litestar], world: World
) -> None:
    """A refused 7 MB XML file (150,000 records) leaves no reference cycle behind: nothing waits for a full GC."""
    wide = b"<GIAMDINHHS>" + b"<FILEHOSO><LOAIHOSO>XML1</LOAIHOSO></FILEHOSO>" * 150_000 + b"</GIAMDINHHS>"
    headers = world.headers["machine"] | {"Content-Type": "application/xml"}
    async with serving(make_app()) as http:
        await http.post("/v1/integration/his/episodes", content=wide, headers=headers)
        gc.collect()
        gc.disable()
        try:
            response = await http.post("/v1/integration/his/episodes", content=wide, headers=headers)
            left_in_cycles = gc.collect()
        finally:
            gc.enable()
    assert response.status_code == 422
    assert left_in_cycles < 5_000, f"{left_in_cycles} objects were only reachable through reference cycles"
