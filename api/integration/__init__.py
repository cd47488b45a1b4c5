"""Routes for machine clients (HIS, immunization system) under ``/v1/integration``."""

from __future__ import annotations

from litestar import Router

from api.integration import his, immunizations, token

integration_router = Router(path="/v1/integration", route_handlers=[*token.ROUTES, *his.ROUTES, *immunizations.ROUTES])
