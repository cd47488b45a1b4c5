"""Keyed hashes and sealed values, both derived from the one service secret (``PHR_SECRET_KEY``).

Each purpose gets its own key through HKDF, so a hash made for one purpose (refresh tokens) can never be
confused with another (OTP codes), and rotating the secret invalidates all of them together.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def derive_key(secret: str, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"phr:{purpose}".encode()).derive(secret.encode())


def keyed_hash(secret: str, purpose: str, value: str) -> bytes:
    return hmac.new(derive_key(secret, purpose), value.encode(), hashlib.sha256).digest()


def seal(secret: str, purpose: str, plaintext: bytes) -> bytes:
    """AES-256-GCM with a random nonce; the purpose is bound as associated data."""
    nonce = os.urandom(12)
    return nonce + AESGCM(derive_key(secret, purpose)).encrypt(nonce, plaintext, purpose.encode())


def unseal(secret: str, purpose: str, blob: bytes) -> bytes:
    return AESGCM(derive_key(secret, purpose)).decrypt(blob[:12], blob[12:], purpose.encode())
