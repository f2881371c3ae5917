"""Mail bodies at rest in the outbox, sealed like signing keys (keys/sealing.py, under a
key of their own) when TOLLGATE_SECRET_KEY is set.

A waiting mail holds its link (the token) until it is sent; sealed, a database dump
holds no usable link without the secret. Without the secret bodies are stored as they
are, and only for as long as the mail waits.
"""

from __future__ import annotations

import base64

from tollgate.keys.sealing import SealingError, seal, unseal

PREFIX = "tollgate-sealed-mail:v1:"
MAIL_OUTBOX = b"tollgate mail outbox"


class MailSealingError(Exception):
    """A sealed body that does not open: no secret, or another one."""


def seal_body(text: str, secret: str | None, mail_id: str) -> str:
    if not secret:
        return text
    # The mail id as associated data: a body cannot be moved onto another mail's row.
    sealed = seal(text.encode("utf-8"), secret, mail_id, purpose=MAIL_OUTBOX)
    return PREFIX + base64.b64encode(sealed).decode("ascii")


def open_body(stored: str, secret: str | None, mail_id: str) -> str:
    if not stored.startswith(PREFIX):
        return stored
    if not secret:
        raise MailSealingError("a mail is sealed; set TOLLGATE_SECRET_KEY to send it")
    raw = base64.b64decode(stored[len(PREFIX) :])
    try:
        return unseal(raw, secret, mail_id, purpose=MAIL_OUTBOX).decode("utf-8")
    except SealingError as exc:
        raise MailSealingError("a mail does not open with this TOLLGATE_SECRET_KEY") from exc
