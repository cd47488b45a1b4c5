"""Every 4xx/5xx as ``application/problem+json`` (RFC 9457), titled in Vietnamese unless the client asks for English.

One handler per exception family: domain errors from services, Litestar's own HTTP exceptions (routing,
validation, body size), database outages, and anything unexpected. A problem never echoes submitted values:
they may be personal or health data.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.types import ExceptionHandlersMap
from sqlalchemy.exc import IntegrityError

from core import errors
from core.db import is_connection_failure
from core.logging import get_logger

log = get_logger("phr.api")
PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:phr:problem:"

# slug -> (Vietnamese title, English title). The slug is the stable part clients switch on.
TITLES: dict[str, tuple[str, str]] = {
    "bad-request": ("Yêu cầu không hợp lệ", "Bad request"),
    "validation": ("Dữ liệu gửi lên không hợp lệ", "The submitted data is invalid"),
    "unauthenticated": ("Bạn cần đăng nhập", "Authentication required"),
    "forbidden": ("Bạn không có quyền thực hiện thao tác này", "You are not allowed to do this"),
    "not-found": ("Không tìm thấy", "Not found"),
    "method-not-allowed": ("Phương thức không được hỗ trợ", "Method not allowed"),
    "not-acceptable": ("Không thể trả về định dạng được yêu cầu", "Not acceptable"),
    "conflict": ("Xung đột dữ liệu", "Conflict"),
    "precondition-failed": (
        "Dữ liệu đã được người khác thay đổi, vui lòng tải lại",
        "The item was changed by someone else; reload it",
    ),
    "precondition-required": ("Thiếu điều kiện If-Match", "If-Match is required"),
    "payload-too-large": ("Dữ liệu gửi lên quá lớn", "Request body too large"),
    "unsupported-media-type": ("Định dạng dữ liệu không được hỗ trợ", "Unsupported media type"),
    "invalid": ("Dữ liệu không hợp lệ", "Invalid data"),
    "excluded-category": (
        "Thông tin thuộc nhóm không được lưu trong hồ sơ sức khỏe điện tử",
        "This information belongs to a category that is not stored in the electronic health record",
    ),
    "rate-limited": ("Quá nhiều yêu cầu, vui lòng thử lại sau", "Too many requests; try again later"),
    "unavailable": ("Dịch vụ tạm thời gián đoạn, vui lòng thử lại sau", "Service temporarily unavailable"),
    "internal": ("Lỗi hệ thống, vui lòng thử lại sau", "Internal error; please try again later"),
}

_STATUS_SLUGS = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    412: "precondition-failed",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "invalid",
    428: "precondition-required",
    429: "rate-limited",
    503: "unavailable",
}

_DOMAIN_STATUS: dict[type[errors.DomainError], int] = {
    errors.NotFound: 404,
    errors.Forbidden: 403,
    errors.Unauthenticated: 401,
    errors.Conflict: 409,
    errors.PreconditionFailed: 412,
    errors.PreconditionRequired: 428,
    errors.Excluded: 422,
    errors.Invalid: 422,
    errors.BadRequest: 400,
    errors.RateLimited: 429,
    errors.Unavailable: 503,
}


class FieldError(msgspec.Struct, omit_defaults=True):
    field: str
    message: str
    code: str | None = None


class Problem(msgspec.Struct, omit_defaults=True):
    """RFC 9457 problem details, plus ``code`` (machine reason) and ``errors`` (per-field details)."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    code: str | None = None
    errors: list[FieldError] | None = None
    retry_after: int | None = None
    remaining_attempts: int | None = None


def problem_spec(description: str) -> ResponseSpec:
    """OpenAPI description of a problem+json response, for handlers that document their error cases."""
    return ResponseSpec(data_container=Problem, description=description, media_type=PROBLEM_JSON)


def preferred_language(accept_language: str | None) -> str:
    """``vi`` unless the client prefers English (RFC 9110 quality values honoured)."""
    if not accept_language:
        return "vi"
    best, best_q = "vi", -1.0
    for part in accept_language.split(","):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        lang = tag.strip().lower().split("-")[0]
        if lang in ("vi", "en") and q > 0 and q > best_q:  # q=0 means "not this one"
            best, best_q = lang, q
    return best


_QUOTED = re.compile(r"'[^']*'")


def _safe_message(message: str) -> str:
    # msgspec quotes offending values ("Invalid enum value 'x'"); keep field paths, drop values.
    return _QUOTED.sub("'…'", message)


def problem_response(
    request: Request[Any, Any, Any],
    status: int,
    slug: str,
    *,
    detail: str | None = None,
    code: str | None = None,
    field_errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response[bytes]:
    lang = preferred_language(request.headers.get("accept-language"))
    vi, en = TITLES.get(slug, TITLES["internal" if status >= 500 else "bad-request"])
    problem = Problem(
        type=TYPE_PREFIX + slug,
        title=en if lang == "en" else vi,
        status=status,
        detail=detail,
        instance=request.url.path,
        code=code,
        errors=field_errors,
        retry_after=(extra or {}).get("retry_after"),
        remaining_attempts=(extra or {}).get("remaining_attempts"),
    )
    return Response(
        content=msgspec.json.encode(problem),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers={"Cache-Control": "no-store", "Content-Language": lang, **(headers or {})},
    )


def handle_domain_error(request: Request[Any, Any, Any], exc: errors.DomainError) -> Response[bytes]:
    status = next((s for cls, s in _DOMAIN_STATUS.items() if isinstance(exc, cls)), 400)
    slug = exc.family if exc.family in TITLES else _STATUS_SLUGS.get(status, "bad-request")
    headers: dict[str, str] = {}
    extra = dict(exc.extra)
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="phr"'
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
        extra["retry_after"] = retry_after
    field_errors = [FieldError(field=exc.field, message=exc.detail or exc.code, code=exc.code)] if exc.field else None
    return problem_response(
        request, status, slug, code=exc.code, field_errors=field_errors, headers=headers, extra=extra
    )


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    status = exc.status_code
    if isinstance(exc, ValidationException):
        field_errors = [
            FieldError(
                field=str(item.get("key") or item.get("source") or "body"),
                message=_safe_message(str(item.get("message", ""))),
            )
            for item in (exc.extra if isinstance(exc.extra, list) else [])
            if isinstance(item, dict)
        ]
        return problem_response(
            request, status, "validation", detail=_safe_message(exc.detail), field_errors=field_errors or None
        )
    slug = _STATUS_SLUGS.get(status, "internal" if status >= 500 else "bad-request")
    headers = {k: v for k, v in (exc.headers or {}).items() if k.lower() in ("allow", "retry-after")}
    detail = None if status >= 500 else _safe_message(exc.detail)
    return problem_response(request, status, slug, detail=detail, headers=headers)


# Seconds a client is told to wait when the database is down: about how long a restart or failover takes.
DATABASE_RETRY_AFTER = 5


def handle_database_down(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """The database is stopped, restarting or unreachable: 503 with ``Retry-After``, never a 500."""
    log.error("database unavailable", error=type(exc).__name__)
    return problem_response(
        request,
        503,
        "unavailable",
        code="database_unreachable",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER)},
        extra={"retry_after": DATABASE_RETRY_AFTER},
    )


def handle_integrity_error(request: Request[Any, Any, Any], exc: IntegrityError) -> Response[bytes]:
    """A uniqueness race the service could not see coming (two requests creating the same thing): 409, not 500."""
    log.info("integrity conflict", constraint=getattr(getattr(exc.orig, "__cause__", None), "constraint_name", None))
    return problem_response(request, 409, "conflict", code="conflict")


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    if is_connection_failure(exc):
        return handle_database_down(request, exc)
    # The traceback goes to the log (scrubbed); the client gets a generic problem with no internals.
    log.exception("unhandled error", path=request.url.path, method=request.method)
    return problem_response(request, 500, "internal")


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    errors.DomainError: handle_domain_error,
    IntegrityError: handle_integrity_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}

__all__ = ["EXCEPTION_HANDLERS", "PROBLEM_JSON", "Problem", "preferred_language", "problem_response"]
