"""``/v1/devices``: bind the app installation's push token to the logged-in account."""

from __future__ import annotations

from litestar import Controller, delete, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import AccountPrincipal
from api.citizen.schemas import DeviceOut, DeviceRegistration, InstallationId
from api.errors import problem_spec
from core.models import Platform
from notifications.devices import DeviceService


class DeviceController(Controller):
    path = "/devices"
    tags = ["devices"]  # noqa: RUF012 - Litestar reads the class attribute

    @put(
        "/{installation_id:str}",
        summary="Register or refresh this installation's push token",
        status_code=200,
        responses={422: problem_spec("An installation id that is not 8–100 letters, digits or . _ : -")},
    )
    async def register(
        self,
        installation_id: FromPath[InstallationId],
        data: JSONBody[DeviceRegistration],
        account: NamedDependency[AccountPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> DeviceOut:
        device = await DeviceService(db_session).register(
            account.account_id,
            installation_id,
            token=data.token,
            platform=Platform(data.platform),
            locale=data.locale,
            app_version=data.app_version,
        )
        return DeviceOut(
            installation_id=device.installation_id,
            platform=device.platform.value,
            locale=device.locale,
            app_version=device.app_version,
            last_seen_at=device.last_seen_at,
        )

    @delete("/{installation_id:str}", summary="Stop pushes to this installation (logout)", status_code=204)
    async def unregister(
        self,
        installation_id: FromPath[InstallationId],
        account: NamedDependency[AccountPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> None:
        await DeviceService(db_session).unregister(account.account_id, installation_id)
