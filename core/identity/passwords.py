"""Password and client-secret hashing (argon2id), off the event loop and bounded in memory."""

from __future__ import annotations

import functools
import secrets
import threading

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

PASSWORDS = PasswordHasher()  # argon2id, RFC 9106 "low memory" profile: 64 MiB, 3 passes
# Each hash takes 64 MiB; a burst of logins must not take the whole machine's memory with it.
_HASHING = threading.BoundedSemaphore(4)


@functools.cache
def _dummy_hash() -> str:
    return PASSWORDS.hash(secrets.token_urlsafe(16))


def _verify_blocking(stored: str | None, secret: str) -> bool:
    with _HASHING:
        try:
            # Without a stored hash (unknown name, no password) a dummy one is checked, so the answer takes as
            # long as for a real account and response times do not tell which names exist.
            return PASSWORDS.verify(stored or _dummy_hash(), secret) and stored is not None
        except (VerificationError, InvalidHashError):
            return False


def _hash_blocking(secret: str) -> str:
    with _HASHING:
        return PASSWORDS.hash(secret)


async def verify_secret(stored: str | None, secret: str) -> bool:
    """Check a password or client secret against its argon2 hash, off the event loop."""
    return await anyio.to_thread.run_sync(_verify_blocking, stored, secret)


async def hash_secret(secret: str) -> str:
    return await anyio.to_thread.run_sync(_hash_blocking, secret)
