"""The application factory: the only place settings, database, routes and error handling are wired."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.datastructures import CacheControlHeader, ResponseHeader, State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from api.citizen import auth_routes, citizen_router
from api.clinician import clinician_router
from api.consent import clinician_consent_router
from api.deps import close_leftover_sessions, provide_database, provide_db_session, provide_settings
from api.errors import EXCEPTION_HANDLERS
from api.health import HealthController
from api.integration import integration_router
from api.openapi import document_problems
from api.requests import BodyRequest, release_refused_request
from api.station import station_router
from api.wellknown import jwks
from core.db import REQUEST_BOUNDS, Database
from core.logging import configure_logging
from core.settings import Settings, load_settings

API_VERSION = "0.1.0"


def create_app(settings: Settings, database: Database | None = None) -> Litestar:
    """Build the ASGI app. ``database`` is injected by tests; otherwise one is made from the settings."""
    owns_database = database is None
    db = database or Database.from_settings(settings, bounds=REQUEST_BOUNDS)

    @asynccontextmanager
    async def lifespan(_app: Litestar) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if owns_database:
                await db.dispose()

    app = Litestar(
        route_handlers=[
            HealthController,
            jwks,
            *auth_routes,
            citizen_router,
            clinician_router,
            clinician_consent_router,
            station_router,
            integration_router,
        ],
        state=State({"settings": settings, "db": db}),
        dependencies={
            "settings": Provide(provide_settings, sync_to_thread=False),
            "database": Provide(provide_database, sync_to_thread=False),
            "db_session": Provide(provide_db_session),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[close_leftover_sessions],
        lifespan=[lifespan],
        request_max_body_size=settings.max_body_bytes,
        request_class=BodyRequest,  # an undecodable body is a 400 (api/requests.py)
        after_exception=[release_refused_request],  # a refused request frees its body at once (ditto)
        # Health data must not sit in shared or browser caches (privacy-and-security.md).
        cache_control=CacheControlHeader(no_store=True),
        response_headers=[ResponseHeader(name="X-Content-Type-Options", value="nosniff")],
        openapi_config=OpenAPIConfig(
            title="PHR — hồ sơ sức khỏe điện tử",
            version=API_VERSION,
            description=(
                "Personal health record API. Errors are application/problem+json (RFC 9457) with a "
                "Vietnamese title by default; send `Accept-Language: en` for English."
            ),
            path="/schema",
            render_plugins=[ScalarRenderPlugin()],
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT"),
                }
            ),
        ),
        logging_config=None,  # structlog is configured by configure_logging()
        debug=False,
    )
    document_problems(app)
    return app


def create_app_from_env() -> Litestar:
    """Factory for granian workers: settings come from the environment the CLI prepared."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)
