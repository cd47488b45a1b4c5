"""Optional single sign-on with the province's OIDC identity provider (authlib client)."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
