"""Secrets at rest: AES-256-GCM under a key derived from TOLLGATE_SECRET_KEY.

A database dump then holds no usable signing key (nor a waiting mail's link, nor an
authenticator app's secret) without the secret, which lives in the environment (or a
secret manager) instead. `purpose` keeps each kind of secret under a key of its own.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = b"tollgate-sealed:v1:"
NONCE_BYTES = 12


class SealingError(Exception):
    """A sealed key that cannot be opened: no secret, or the wrong one."""


SIGNING_KEYS = b"tollgate signing keys"


def _aead(secret: str, purpose: bytes) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        secret.encode("utf-8")
    )
    return AESGCM(key)


def seal(
    private_key: bytes, secret: str | None, kid: str, *, purpose: bytes = SIGNING_KEYS
) -> bytes:
    if not secret:
        return private_key
    nonce = os.urandom(NONCE_BYTES)
    # The kid as associated data: a sealed key cannot be swapped onto another row.
    sealed = _aead(secret, purpose).encrypt(nonce, private_key, kid.encode("utf-8"))
    return PREFIX + nonce + sealed


def is_sealed(stored: bytes) -> bool:
    return stored.startswith(PREFIX)


def unseal(stored: bytes, secret: str | None, kid: str, *, purpose: bytes = SIGNING_KEYS) -> bytes:
    if not is_sealed(stored):
        return stored
    if not secret:
        raise SealingError(f"key {kid} is encrypted; set TOLLGATE_SECRET_KEY to use it")
    body = stored[len(PREFIX) :]
    aead = _aead(secret, purpose)
    try:
        return aead.decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:], kid.encode("utf-8"))
    except InvalidTag as exc:
        raise SealingError(f"key {kid} does not open with this TOLLGATE_SECRET_KEY") from exc
