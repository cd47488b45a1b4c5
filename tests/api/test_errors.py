"""Every error is application/problem+json, localised, and never echoes what was sent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import msgspec
import pytest
from litestar import Litestar, post
from litestar.params import FromPath, JSONBody

from api.errors import preferred_language
from core import errors
from tests.support import serving


class Echo(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    age: int


@post("/_test/echo", sync_to_thread=False)
def echo(data: JSONBody[Echo]) -> Echo:
    return data


@post("/_test/raise/{kind:str}", sync_to_thread=False)
def raise_(kind: FromPath[str]) -> None:
    if kind == "missing":
        raise errors.NotFound("no such record", code="record_not_found")
    if kind == "invalid":
        raise errors.Invalid("date of birth in the future", code="dob_future", field="date_of_birth")
    if kind == "limited":
        raise errors.RateLimited("slow down", retry_after=42, code="otp_cooldown")
    raise RuntimeError("secret internals 0905123456")


@pytest.fixture
async def http(make_app: Callable[..., Litestar]) -> AsyncIterator[httpx.AsyncClient]:
    app = make_app(max_body_bytes=1024)
    app.register(echo)
    app.register(raise_)
    async with serving(app, raise_app_exceptions=False) as client:
        yield client


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, object]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, object] = response.json()
    assert body["type"] == f"urn:phr:problem:{slug}"
    assert body["status"] == status
    return body


async def test_unknown_route_is_a_vietnamese_problem_404(http: httpx.AsyncClient) -> None:
    body = assert_problem(await http.get("/v1/khong-co"), 404, "not-found")
    assert body["title"] == "Không tìm thấy"
    assert body["instance"] == "/v1/khong-co"


async def test_english_on_request(http: httpx.AsyncClient) -> None:
    response = await http.get("/v1/nothing", headers={"Accept-Language": "en-US,en;q=0.9"})
    body = assert_problem(response, 404, "not-found")
    assert body["title"] == "Not found"
    assert response.headers["content-language"] == "en"


async def test_wrong_method_is_405_with_allow(http: httpx.AsyncClient) -> None:
    response = await http.delete("/health/live")
    assert_problem(response, 405, "method-not-allowed")
    assert "GET" in response.headers["allow"]


async def test_oversized_body_is_413(http: httpx.AsyncClient) -> None:
    response = await http.post("/_test/echo", content=b'{"name": "' + b"x" * 4096 + b'", "age": 1}')
    assert_problem(response, 413, "payload-too-large")


async def test_validation_names_fields_without_echoing_values(http: httpx.AsyncClient) -> None:
    response = await http.post("/_test/echo", json={"name": "Nguyễn Văn A", "age": "HIV-positive-canary"})
    body = assert_problem(response, 400, "validation")
    assert "HIV-positive-canary" not in response.text
    assert "Nguyễn" not in response.text
    assert body["errors"], "field details are listed"


async def test_unknown_fields_are_rejected(http: httpx.AsyncClient) -> None:
    response = await http.post("/_test/echo", json={"name": "a", "age": 1, "is_admin": True})
    assert_problem(response, 400, "validation")


async def test_malformed_json_is_400_not_500(http: httpx.AsyncClient) -> None:
    response = await http.post("/_test/echo", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("kind", "status", "slug", "code"),
    [
        ("missing", 404, "not-found", "record_not_found"),
        ("invalid", 422, "invalid", "dob_future"),
        ("limited", 429, "rate-limited", "otp_cooldown"),
    ],
)
async def test_domain_errors_map_to_their_status(
    http: httpx.AsyncClient, kind: str, status: int, slug: str, code: str
) -> None:
    response = await http.post(f"/_test/raise/{kind}")
    body = assert_problem(response, status, slug)
    assert body["code"] == code
    if kind == "limited":
        assert response.headers["retry-after"] == "42"
        assert body["retry_after"] == 42
    if kind == "invalid":
        assert body["errors"] == [
            {"field": "date_of_birth", "message": "date of birth in the future", "code": "dob_future"}
        ]


async def test_unexpected_errors_are_a_generic_500(http: httpx.AsyncClient) -> None:
    response = await http.post("/_test/raise/boom", headers={"Accept-Language": "en"})
    body = assert_problem(response, 500, "internal")
    assert body["title"] == "Internal error; please try again later"
    assert "secret internals" not in response.text
    assert "0905123456" not in response.text


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "vi"),
        ("", "vi"),
        ("en", "en"),
        ("en-GB", "en"),
        ("vi-VN,vi;q=0.9,en;q=0.8", "vi"),
        ("fr, en;q=0.5", "en"),
        ("en;q=0.3, vi;q=0.7", "vi"),
        ("de", "vi"),
        ("en;q=abc", "vi"),
    ],
)
def test_preferred_language(header: str | None, expected: str) -> None:
    assert preferred_language(header) == expected
