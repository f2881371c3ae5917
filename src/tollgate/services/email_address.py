"""Email addresses compared as one: case-folded (issue 17).

RFC 5321 §2.4 lets a server treat the local part case-sensitively; in practice none of
the big providers does, and two accounts differing only in the case of an address would
be one person's (or an impersonation). So uniqueness among verified accounts and the
login by email compare `email_key`.
"""

from __future__ import annotations


def email_key(email: str) -> str:
    return email.strip().casefold()
