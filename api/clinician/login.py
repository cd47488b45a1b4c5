"""Clinician sign-in under ``/v1/clinician/login``: password (argon2id), then TOTP; enrolment; recovery codes.

These routes are public (they are how a clinician gets a token). Every step after the password names the login
token it returned, so a code is always bound to one password check.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from api.clinician.schemas import (
    EnrolledTokensOut,
    LoginIn,
    LoginStepOut,
    LoginTokenIn,
    RecoveryCodeIn,
    TotpCodeIn,
    TotpEnrolmentOut,
)
from api.errors import problem_spec
from api.tokens import TokensOut, client_label, tokens_out
from core.identity.clinicians import ClinicianLoginService
from core.settings import Settings

CODE_ERRORS = {
    401: problem_spec("Wrong code, or the login token is unknown, used or expired; see remaining_attempts"),
    429: problem_spec("Too many failed sign-ins: the account is locked; Retry-After says for how long"),
}


class ClinicianLoginController(Controller):
    path = "/login"
    tags = ["clinician sign-in"]  # noqa: RUF012 - Litestar reads the class attribute

    @post(
        "/",
        status_code=200,
        summary="Check the password; the answer says whether to enter a TOTP code or enrol one",
        responses={
            401: problem_spec("Wrong username or password (the same answer for an unknown username)"),
            429: problem_spec("Too many failed sign-ins: the account is locked; Retry-After says for how long"),
        },
    )
    async def login(
        self, data: JSONBody[LoginIn], settings: NamedDependency[Settings], db_session: NamedDependency[AsyncSession]
    ) -> LoginStepOut:
        started = await ClinicianLoginService(db_session, settings).login(data.username, data.password)
        return LoginStepOut(login_token=started.login_token, next=started.next, expires_in=started.expires_in)

    @post("/totp", status_code=200, summary="Exchange a TOTP code for tokens", responses=CODE_ERRORS)
    async def totp(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[TotpCodeIn],
        settings: NamedDependency[Settings],
        db_session: NamedDependency[AsyncSession],
    ) -> TokensOut:
        pair = await ClinicianLoginService(db_session, settings).verify_totp(
            data.login_token, data.code, client_label=client_label(request)
        )
        return tokens_out(pair)

    @post(
        "/totp/enrol",
        status_code=200,
        summary="Start TOTP enrolment: an otpauth:// URI and its QR code (SVG) for the authenticator app",
        responses={**CODE_ERRORS, 409: problem_spec("TOTP is already set up for this clinician")},
    )
    async def enrol(
        self,
        data: JSONBody[LoginTokenIn],
        settings: NamedDependency[Settings],
        db_session: NamedDependency[AsyncSession],
    ) -> TotpEnrolmentOut:
        enrolment = await ClinicianLoginService(db_session, settings).start_enrolment(data.login_token)
        return TotpEnrolmentOut(otpauth_uri=enrolment.otpauth_uri, qr_svg=enrolment.qr_svg)

    @post(
        "/totp/confirm",
        status_code=200,
        summary="Confirm enrolment with a first code: tokens and ten recovery codes, shown once",
        responses={**CODE_ERRORS, 409: problem_spec("TOTP is already set up, or enrolment was not started")},
    )
    async def confirm(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[TotpCodeIn],
        settings: NamedDependency[Settings],
        db_session: NamedDependency[AsyncSession],
    ) -> EnrolledTokensOut:
        enrolled = await ClinicianLoginService(db_session, settings).confirm_enrolment(
            data.login_token, data.code, client_label=client_label(request)
        )
        return EnrolledTokensOut(
            **msgspec.structs.asdict(tokens_out(enrolled.tokens)), recovery_codes=enrolled.recovery_codes
        )

    @post(
        "/recovery",
        status_code=200,
        summary="Sign in with a one-time recovery code instead of TOTP (the code is spent)",
        responses=CODE_ERRORS,
    )
    async def recovery(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[RecoveryCodeIn],
        settings: NamedDependency[Settings],
        db_session: NamedDependency[AsyncSession],
    ) -> TokensOut:
        pair = await ClinicianLoginService(db_session, settings).use_recovery_code(
            data.login_token, data.recovery_code, client_label=client_label(request)
        )
        return tokens_out(pair)


ROUTES: list[Any] = [ClinicianLoginController]
