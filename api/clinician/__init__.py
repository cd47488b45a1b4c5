"""Routes for clinicians and station staff under ``/v1/clinician``: sign-in here, the record under a grant later.

Sign-in routes are public (they are how a token is obtained); everything else on this router needs a clinician
token (``provide_clinician``).
"""

from __future__ import annotations

from litestar import Router

from api.clinician import login, oidc

clinician_router = Router(path="/v1/clinician", route_handlers=[*login.ROUTES, *oidc.ROUTES])
