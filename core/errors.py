"""Domain errors. Services raise these; the API maps each family to one HTTP status and problem type.

Messages are for developers and logs: they never carry personal or health data. What the user reads is the
localised title chosen by the API from ``code``.
"""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    """Base class: ``code`` is a stable machine-readable reason, ``field`` names the input at fault."""

    family: ClassVar[str] = "domain-error"

    def __init__(
        self,
        detail: str = "",
        *,
        code: str | None = None,
        field: str | None = None,
        extra: dict[str, object] | None = None,
        keep_changes: bool = False,
    ) -> None:
        super().__init__(detail or self.family)
        self.detail = detail
        self.code = code or self.family
        self.field = field
        self.extra = extra or {}
        # Some refusals must still be recorded: a wrong code counts as an attempt, a reused refresh token
        # revokes its session. Those errors ask the request's transaction to commit before the 4xx goes out.
        self.keep_changes = keep_changes


class NotFound(DomainError):
    """The object does not exist *for this caller* (another person's object is not found, not forbidden)."""

    family = "not-found"


class Forbidden(DomainError):
    family = "forbidden"


class Unauthenticated(DomainError):
    family = "unauthenticated"


class Conflict(DomainError):
    family = "conflict"


class PreconditionFailed(DomainError):
    """An ``If-Match`` that no longer matches: somebody else changed the item first."""

    family = "precondition-failed"


class BadRequest(DomainError):
    """A request the server cannot act on as sent (a required header missing)."""

    family = "bad-request"


class Invalid(DomainError):
    """Input that is well-formed JSON but breaks a rule (identifier format, date in the future, …)."""

    family = "invalid"


class Excluded(Invalid):
    """Input that the exclusion policy refuses (HIV/AIDS, drug addiction, sex work). Never echo the value."""

    family = "excluded-category"


class PreconditionRequired(DomainError):
    """An update without ``If-Match``: the client must say which version it edited."""

    family = "precondition-required"


class RateLimited(DomainError):
    family = "rate-limited"

    def __init__(
        self, detail: str = "", *, retry_after: int, code: str | None = None, keep_changes: bool = False
    ) -> None:
        super().__init__(detail, code=code, keep_changes=keep_changes)
        self.retry_after = retry_after


class Unavailable(DomainError):
    """A dependency (database, gateway) is down; the caller should retry later."""

    family = "unavailable"

    def __init__(self, detail: str = "", *, retry_after: int = 30, code: str | None = None) -> None:
        super().__init__(detail, code=code)
        self.retry_after = retry_after
