"""The citizen app's routes under ``/v1``: public sign-in routes, and everything else behind the account guard."""

from __future__ import annotations

from litestar import Router
from litestar.di import Provide

from api.auth import provide_account
from api.citizen.account import ACCOUNT_ROUTES
from api.citizen.appointments import ROUTES as APPOINTMENT_ROUTES
from api.citizen.auth import AUTH_ROUTES
from api.citizen.devices import DeviceController
from api.citizen.immunizations import ROUTES as IMMUNIZATION_ROUTES
from api.citizen.inbox import InboxController
from api.citizen.records import RECORD_ROUTES
from api.consent import CITIZEN_ROUTES as CITIZEN_CONSENT_ROUTES

citizen_router = Router(
    path="/v1",
    route_handlers=[
        *ACCOUNT_ROUTES,
        *RECORD_ROUTES,
        *IMMUNIZATION_ROUTES,
        *CITIZEN_CONSENT_ROUTES,
        *APPOINTMENT_ROUTES,
        DeviceController,
        InboxController,
    ],
    dependencies={"account": Provide(provide_account)},
    security=[{"bearer": []}],
)

# Public: these are how a citizen gets a token in the first place.
auth_routes = AUTH_ROUTES
