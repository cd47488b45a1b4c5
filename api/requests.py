"""How the app takes requests apart when they are malformed or refused.

- An undecodable JSON body is the client's error (400), never a 500. Litestar decodes a body with msgspec before
  converting it to the handler's Struct and turns msgspec's ``DecodeError`` into a 400 itself; two inputs escape
  that: nesting deeper than the decoder's recursion limit (``[[[[…`` 100,000 deep fits in a small body) raises
  ``RecursionError``, and bytes that are not UTF-8 inside a string raise ``UnicodeDecodeError``.
- A refused request lets go of its memory at once. The exception that refuses it (a domain error, a 4xx) holds
  its traceback, whose frames hold the request's body and what was parsed from it; Litestar's dependency cleanup
  re-raises the exception from a frame that keeps it in a local, which closes a reference cycle. Only the
  garbage collector frees a cycle, and big buffers do not prompt it: under a stream of refused 10 MiB XML files
  the resident memory grew by hundreds of MB before a full collection. Client errors never log their traceback,
  so it is dropped before the problem is written; a 5xx keeps it for the log.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.exceptions import ClientException, HTTPException
from litestar.types import Scope

from core.errors import DomainError


class BodyRequest(Request[Any, Any, Any]):
    async def json(self) -> Any:
        try:
            return await super().json()
        except (RecursionError, UnicodeDecodeError) as exc:
            raise ClientException("the body is not JSON this service can read") from exc


async def release_refused_request(exc: Exception, _scope: Scope) -> None:
    """``after_exception`` hook: a client error's traceback (and the body its frames hold) is dropped."""
    if isinstance(exc, DomainError) or (isinstance(exc, HTTPException) and exc.status_code < 500):
        exc.__traceback__ = None
