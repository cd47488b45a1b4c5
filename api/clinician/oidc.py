"""Optional single sign-on with the province's OIDC identity provider: ``/v1/clinician/oidc/{login,callback}``.

The browser visits ``login``, is sent to the provider, signs in there and comes back to ``callback``, which
answers with the service's own token pair. The sign-in state rides in the ``phr_oidc`` cookie (sealed, HttpOnly,
scoped to these two routes). With ``PHR_OIDC_ISSUER`` unset both routes answer 404; they stay in the OpenAPI
document so a client can be built before the province switches the feature on.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import CookieParameter, QueryParameter
from litestar.response import Redirect
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import problem_spec
from api.tokens import TokensOut, tokens_out
from core.identity.oidc import OidcClient, OidcLoginService
from core.settings import Settings

FLOW_COOKIE = "phr_oidc"
COOKIE_PATH = "/v1/clinician/oidc"  # sent to login and callback only, never to the record routes
# Codes and states from real providers are well under this; the cap keeps junk out before any work is done.
_MAX_PARAM = 2048
ProviderParam = Annotated[str | None, QueryParameter(max_length=_MAX_PARAM)]
# "state" is a reserved handler argument in Litestar (the app state), hence the renamed argument.
StateParam = Annotated[str | None, QueryParameter(name="state", max_length=_MAX_PARAM)]


_OFF = problem_spec("Single sign-on is not configured on this deployment (code oidc_disabled)")
_DOWN = problem_spec("The identity provider cannot be reached or answered nonsense; retry after Retry-After")


class OidcController(Controller):
    path = "/oidc"
    tags = ["clinician sign-in"]  # noqa: RUF012 - Litestar reads the class attribute

    @get(
        "/login",
        summary="Start signing in with the province's identity provider (redirects there)",
        operation_id="clinicianOidcLogin",
        status_code=302,
        responses={404: _OFF, 503: _DOWN},
    )
    async def login(self, settings: NamedDependency[Settings]) -> Redirect:
        start = await OidcClient(settings).begin()
        response = Redirect(start.authorization_url, status_code=302)
        response.set_cookie(
            FLOW_COOKIE,
            start.cookie_value,
            max_age=start.max_age,
            path=COOKIE_PATH,
            secure=start.secure,
            httponly=True,
            # Lax, not Strict: the callback is a top-level navigation coming from the provider's site.
            samesite="lax",
        )
        return response

    @get(
        "/callback",
        summary="Finish signing in: the provider redirects here; answers with a clinician token pair",
        operation_id="clinicianOidcCallback",
        responses={
            401: problem_spec(
                "Sign-in failed: cancelled at the provider, state or cookie missing, expired or not matching, "
                "code refused, or ID token invalid (signature, issuer, audience, expiry, nonce)"
            ),
            403: problem_spec("The identity is not a provisioned, active clinician (code oidc_unknown_clinician)"),
            404: _OFF,
            503: _DOWN,
        },
    )
    async def callback(
        self,
        settings: NamedDependency[Settings],
        db_session: NamedDependency[AsyncSession],
        code: ProviderParam = None,
        oauth_state: StateParam = None,
        error: ProviderParam = None,
        iss: ProviderParam = None,
        cookie: Annotated[str | None, CookieParameter(name=FLOW_COOKIE, max_length=4096)] = None,
    ) -> Response[TokensOut]:
        pair = await OidcLoginService(db_session, settings).complete(
            cookie=cookie, state=oauth_state, code=code, error=error, issuer=iss
        )
        response = Response(tokens_out(pair))
        response.delete_cookie(FLOW_COOKIE, path=COOKIE_PATH)  # one sign-in per flow state
        return response


ROUTES: list[Any] = [OidcController]
