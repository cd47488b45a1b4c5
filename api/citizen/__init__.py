"""The citizen app's routes under ``/v1``, all behind the account guard."""

from __future__ import annotations

from litestar import Router
from litestar.di import Provide

from api.auth import provide_account
from api.citizen.devices import DeviceController
from api.citizen.inbox import InboxController

citizen_router = Router(
    path="/v1",
    route_handlers=[DeviceController, InboxController],
    dependencies={"account": Provide(provide_account)},
    security=[{"bearer": []}],
)
