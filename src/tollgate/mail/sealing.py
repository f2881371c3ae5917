"""Mail bodies at rest in the outbox: AES-256-GCM under a key derived from
TOLLGATE_SECRET_KEY (as signing keys are, keys/sealing.py), when it is set.

A waiting mail holds its link (the token) until it is sent; sealed, a database dump
holds no usable link without the secret. Without the secret bodies are stored as they
are, and only for as long as the mail waits.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "tollgate-sealed-mail:v1:"
NONCE_BYTES = 12


class MailSealingError(Exception):
    """A sealed body that does not open: no secret, or another one."""


def _aead(secret: str) -> AESGCM:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"tollgate mail outbox"
    ).derive(secret.encode("utf-8"))
    return AESGCM(key)


def seal_body(text: str, secret: str | None, mail_id: str) -> str:
    if not secret:
        return text
    nonce = os.urandom(NONCE_BYTES)
    # The mail id as associated data: a body cannot be moved onto another mail's row.
    sealed = _aead(secret).encrypt(nonce, text.encode("utf-8"), mail_id.encode("ascii"))
    return PREFIX + base64.b64encode(nonce + sealed).decode("ascii")


def open_body(stored: str, secret: str | None, mail_id: str) -> str:
    if not stored.startswith(PREFIX):
        return stored
    if not secret:
        raise MailSealingError("a mail is sealed; set TOLLGATE_SECRET_KEY to send it")
    raw = base64.b64decode(stored[len(PREFIX) :])
    try:
        plain = _aead(secret).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], mail_id.encode("ascii"))
    except InvalidTag as exc:
        raise MailSealingError("a mail does not open with this TOLLGATE_SECRET_KEY") from exc
    return plain.decode("utf-8")
