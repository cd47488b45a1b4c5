"""Request and response bodies of the machine-client routes."""

from __future__ import annotations

from typing import Annotated

import msgspec

FormValue = Annotated[str, msgspec.Meta(max_length=500)]


# Not forbid_unknown_fields, on purpose: RFC 6749 §3.2 says the token endpoint MUST ignore parameters it does not
# recognise, and nothing here is written to a row, so there is no mass assignment to guard against.
class TokenRequestIn(msgspec.Struct, kw_only=True):
    """``application/x-www-form-urlencoded``, as OAuth 2.0 requires (RFC 6749 §4.4.2)."""

    grant_type: Annotated[str, msgspec.Meta(max_length=100, description="client_credentials")]
    client_id: FormValue | None = None
    client_secret: FormValue | None = None  # or HTTP Basic (preferred, RFC 6749 §2.3.1)
    scope: Annotated[str, msgspec.Meta(max_length=500, description="space-separated; all allowed if absent")] | None = (
        None
    )


class TokenOut(msgspec.Struct, kw_only=True):
    access_token: str
    token_type: str
    expires_in: int
    scope: str
