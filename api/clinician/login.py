"""Clinician sign-in: password (argon2id), then TOTP; enrolment and recovery codes."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
