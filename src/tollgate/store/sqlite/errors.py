"""sqlite3's exceptions as the store's: Conflict, StoreUnavailable, Unstorable."""

from __future__ import annotations

import sqlite3

from tollgate.store.records import Conflict, StoreUnavailable, Unstorable

# "UNIQUE constraint failed: <table>.<column>" names what was taken; the seam's names.
_CONFLICTS = {
    "users.username_key": "username",
    "users.username_skeleton": "username_skeleton",
    "clients.name": "client_name",
    "authorization_codes.id": "code_id",
}
_UNIQUE_PREFIX = "UNIQUE constraint failed: "

# Primary result codes (https://sqlite.org/rescode.html) meaning the file cannot be used
# now, whatever the statement: answer 503 and let the client try later.
_UNAVAILABLE = {
    sqlite3.SQLITE_BUSY,  # still locked by another process after busy_timeout
    sqlite3.SQLITE_READONLY,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_CORRUPT,
    sqlite3.SQLITE_FULL,
    sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_NOTADB,
}


def translate(exc: BaseException) -> BaseException:
    """The store error `exc` stands for, or `exc` itself when it is not one of them."""
    if isinstance(exc, sqlite3.IntegrityError):
        message = str(exc)
        if message.startswith(_UNIQUE_PREFIX):
            target = message.removeprefix(_UNIQUE_PREFIX)
            return Conflict(_CONFLICTS.get(target, target))
        return exc
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None and code & 0xFF in _UNAVAILABLE:  # extended codes: low byte
            return StoreUnavailable(str(exc))
        if code == sqlite3.SQLITE_TOOBIG:
            return Unstorable(str(exc))
        return exc
    # sqlite3 refuses to bind a str with lone surrogates (not UTF-8) or an int beyond 64 bits.
    if isinstance(exc, UnicodeEncodeError | OverflowError):
        return Unstorable(str(exc))
    return exc
