"""Request and response bodies of the clinician routes."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from api.tokens import TokensOut

LoginToken = Annotated[str, msgspec.Meta(min_length=1, max_length=100, description="from POST /login")]
TotpCode = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{6}$", description="the 6 digits the authenticator shows")]


class LoginIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    # No control characters: PostgreSQL refuses a NUL in text, which would otherwise surface as a 500.
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=60, pattern=r"^[^\x00-\x1f\x7f]+$")]
    # argon2 takes any length; the cap keeps a request from making the server hash megabytes.
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


class LoginStepOut(msgspec.Struct, kw_only=True):
    login_token: str
    next: Literal["totp", "enrol_totp"]
    expires_in: int


class LoginTokenIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    login_token: LoginToken


class TotpCodeIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    login_token: LoginToken
    code: TotpCode


class RecoveryCodeIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    login_token: LoginToken
    recovery_code: Annotated[str, msgspec.Meta(min_length=1, max_length=40, description="e.g. abcd-efgh-jkmn")]


class TotpEnrolmentOut(msgspec.Struct, kw_only=True):
    otpauth_uri: str
    qr_svg: str


class EnrolledTokensOut(TokensOut, kw_only=True):
    """Tokens plus the recovery codes, which are shown this once and never again (only hashes are kept)."""

    recovery_codes: list[str]
