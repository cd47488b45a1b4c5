"""Everything about consent, whichever audience calls it (DESIGN.md): the citizen's shares, grants and access log
on the citizen router; redeeming, scoped access and break-glass on the clinician router; review for stations."""

from __future__ import annotations

from litestar import Router
from litestar.di import Provide

from api.consent import citizen, clinician, station

CITIZEN_ROUTES = citizen.ROUTES
STATION_ROUTES = station.ROUTES
clinician_consent_router = Router(
    path="/v1/clinician",
    route_handlers=[*clinician.ROUTES],
    dependencies={"clinician": Provide(clinician.provide_clinician_row)},
    security=[{"bearer": []}],
)
