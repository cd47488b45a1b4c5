"""The problems every operation can answer with, documented in the OpenAPI schema where they come from.

Some problems come from the structure of a route rather than from what its handler does: a request with inputs
can fail validation (400), a route behind the bearer guard refuses a missing or bad token (401), an object named
in the path may not exist for this caller (404), the station guard and the citizen relation guard refuse a
caller of the right kind but without the right role or relation (403), a body can be too large (413), a page
cursor can be one the list never gave out (422). They are
added here, once, to every handler; the problems only a handler knows about (409, 422, 429, …) stay declared
on the handler, and win over these.

Litestar documents a failed validation with its own JSON body; every problem here is the application/problem+json
``Problem`` the exception handlers really send.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.constants import RESERVED_KWARGS
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.routes import HTTPRoute

from api.errors import problem_spec

# Dependencies whose guard refuses a caller of the right kind: station staff only, acting for a citizen.
_ROLE_GUARDS = frozenset({"staff"})
_NOT_INPUTS = RESERVED_KWARGS - {"data", "body", "query", "headers", "cookies"}


VALIDATION = problem_spec("The request does not match this operation's parameters or body")
UNAUTHENTICATED = problem_spec("No bearer token, or one that is not valid (expired, revoked, of another kind)")
FORBIDDEN = problem_spec("The caller may not do this: a role or relation to the citizen that does not allow it")
NOT_FOUND = problem_spec("Nothing of that id exists for this caller (another person's object is 404, not 403)")
TOO_LARGE = problem_spec("The request body is larger than the server accepts")
BAD_PAGE = problem_spec("A cursor this list did not give out, or a page size outside 1..100")


def structural_problems(handler: HTTPRouteHandler, route: HTTPRoute) -> dict[int, ResponseSpec]:
    dependencies = set(handler.resolve_dependencies())
    inputs = set(handler.parsed_fn_signature.parameters) - dependencies - _NOT_INPUTS
    found: dict[int, ResponseSpec] = {}
    if inputs or route.path_parameters:
        found[400] = VALIDATION
    if handler.resolve_security():
        found[401] = UNAUTHENTICATED
        if dependencies & _ROLE_GUARDS or "citizen_id" in route.path_parameters:
            found[403] = FORBIDDEN
    if route.path_parameters:
        found[404] = NOT_FOUND
    if "data" in inputs or "body" in inputs:
        found[413] = TOO_LARGE
    if "cursor" in inputs or "limit" in inputs:
        found[422] = BAD_PAGE
    return found


def document_problems(app: Litestar) -> None:
    """Add the structural problems to every handler of ``app``; what a handler declares itself wins.

    Idempotent: handlers are shared by the apps built from the same routers, and each build merges the same set.
    """
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if handler.resolve_include_in_schema():
                handler.responses = {**structural_problems(handler, route), **(handler.responses or {})}
