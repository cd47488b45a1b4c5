"""``/v1/auth``: SMS-code login, device-key login, refresh and logout. These are how a token is obtained, so
they are public; the per-account parts (link, keys, sessions) are in ``api/citizen/account.py``."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import authenticate
from api.citizen.schemas import (
    DeviceChallengeIn,
    DeviceChallengeOut,
    DeviceSessionIn,
    LoginOut,
    OtpChallengeOut,
    OtpRequest,
    OtpVerify,
    RefreshIn,
)
from api.errors import problem_spec
from api.tokens import TokensOut, client_label, tokens_out
from core.identity.device_keys import DeviceKeyService
from core.identity.otp import OtpService
from core.identity.sessions import SessionService
from core.settings import Settings


class OtpController(Controller):
    path = "/v1/auth/otp"
    tags = ["auth"]  # noqa: RUF012 - Litestar reads the class attribute

    @post(
        "/",
        status_code=202,
        summary="Send a login code by SMS",
        description="The same answer for every Vietnamese mobile number, registered or not.",
        responses={
            422: problem_spec("Not a Vietnamese mobile number"),
            429: problem_spec("Too many codes asked for; Retry-After says when to try again"),
        },
    )
    async def request_code(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[OtpRequest],
        settings: NamedDependency[Settings],
        db_session: NamedDependency[AsyncSession],
    ) -> OtpChallengeOut:
        issued = await OtpService(db_session, settings).request_code(
            data.phone, client_ip=request.client.host if request.client else None
        )
        return OtpChallengeOut(
            challenge_id=issued.challenge_id, expires_in=issued.expires_in, resend_after=issued.resend_after
        )

    @post(
        "/verify",
        status_code=200,
        summary="Exchange the SMS code for tokens",
        responses={401: problem_spec("Wrong or expired code; remaining_attempts tells how many tries are left")},
    )
    async def verify(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[OtpVerify],
        settings: NamedDependency[Settings],
        db_session: NamedDependency[AsyncSession],
    ) -> LoginOut:
        login = await OtpService(db_session, settings).verify(
            data.challenge_id, data.code, client_label=client_label(request)
        )
        return LoginOut(**msgspec.structs.asdict(tokens_out(login.tokens)), needs_link=login.needs_link)


class DeviceLoginController(Controller):
    path = "/v1/auth/device"
    tags = ["auth"]  # noqa: RUF012 - Litestar reads the class attribute

    @post("/challenge", status_code=200, summary="A nonce for the device key to sign")
    async def challenge(
        self,
        data: JSONBody[DeviceChallengeIn],
        settings: NamedDependency[Settings],
        db_session: NamedDependency[AsyncSession],
    ) -> DeviceChallengeOut:
        issued = await DeviceKeyService(db_session, settings).challenge(data.key_id)
        return DeviceChallengeOut(challenge_id=issued.challenge_id, nonce=issued.nonce, expires_in=issued.expires_in)

    @post(
        "/session",
        status_code=200,
        summary="Open a session with the signed challenge (no SMS)",
        responses={401: problem_spec("Unknown or expired challenge, revoked key, or a signature that does not verify")},
    )
    async def session(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[DeviceSessionIn],
        settings: NamedDependency[Settings],
        db_session: NamedDependency[AsyncSession],
    ) -> TokensOut:
        pair = await DeviceKeyService(db_session, settings).open_session(
            data.challenge_id, data.signature, client_label=client_label(request)
        )
        return tokens_out(pair)


class TokenController(Controller):
    path = "/v1/auth"
    tags = ["auth"]  # noqa: RUF012 - Litestar reads the class attribute

    @post(
        "/refresh",
        status_code=200,
        summary="Rotate the refresh token",
        description="A refresh token works once. Presenting a spent one ends the whole session.",
        responses={401: problem_spec("Unknown, expired or already spent refresh token (a spent one ends the session)")},
    )
    async def refresh(
        self,
        data: JSONBody[RefreshIn],
        settings: NamedDependency[Settings],
        db_session: NamedDependency[AsyncSession],
    ) -> TokensOut:
        return tokens_out(await SessionService(db_session, settings).refresh(data.refresh_token))

    @post(
        "/logout",
        status_code=204,
        summary="End this session: its access and refresh tokens stop working",
        security=[{"bearer": []}],
    )
    async def logout(
        self,
        request: Request[Any, Any, Any],
        settings: NamedDependency[Settings],
        db_session: NamedDependency[AsyncSession],
    ) -> None:
        principal = await authenticate(request, settings, db_session)
        if principal.session_id is not None:
            await SessionService(db_session, settings).revoke(principal.session_id, reason="logout")


AUTH_ROUTES = [OtpController, DeviceLoginController, TokenController]
