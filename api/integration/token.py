"""``POST /v1/integration/token``: OAuth 2.0 client credentials for machine clients (RFC 6749 §4.4)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.params import HeaderParameter, URLEncodedBody
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import problem_spec
from api.integration.schemas import TokenOut, TokenRequestIn
from core.identity.machines import MachineClientService, client_credentials
from core.settings import Settings

BasicAuthorization = Annotated[
    str | None,
    HeaderParameter(name="Authorization", required=False, description="Basic base64(client_id:client_secret)"),
]


class TokenController(Controller):
    path = "/token"
    tags = ["integration"]  # noqa: RUF012 - Litestar reads the class attribute

    @post(
        "/",
        status_code=200,
        summary="Client credentials → a short-lived access token with the granted scopes",
        # RFC 6749 §5.1: token responses must not be cached (no-store is set application-wide).
        response_headers=[ResponseHeader(name="Pragma", value="no-cache")],
        responses={
            400: problem_spec("code is invalid_request, unsupported_grant_type or invalid_scope"),
            401: problem_spec("code is invalid_client: unknown client, wrong secret or inactive client"),
        },
    )
    async def token(
        self,
        data: URLEncodedBody[TokenRequestIn],
        settings: NamedDependency[Settings],
        db_session: NamedDependency[AsyncSession],
        authorization: BasicAuthorization = None,
    ) -> TokenOut:
        credentials = client_credentials(authorization, data.client_id, data.client_secret)
        token = await MachineClientService(db_session, settings).issue_token(data.grant_type, credentials, data.scope)
        return TokenOut(
            access_token=token.access_token, token_type=token.token_type, expires_in=token.expires_in, scope=token.scope
        )


ROUTES: list[Any] = [TokenController]
