"""asyncpg's exceptions, told as the store's: Conflict, StoreUnavailable, Unstorable."""

from __future__ import annotations

import asyncpg
from asyncpg.exceptions import _base as asyncpg_base

from tollgate.store.records import Conflict, StoreError, StoreUnavailable, Unstorable

# Constraint names from the migrations (the naming convention of schema.NAMING).
CONFLICTS = {
    "uq_users_username_key": "username",
    "uq_users_username_skeleton": "username_skeleton",
    "uq_clients_name": "client_name",
    "uq_users_verified_email_key": "email",
    "uq_mfa_passkeys_credential_id": "credential_id",
    # Ids are random; a taken one means a caller reused an id, still a conflict.
    "pk_users": "user_id",
    "pk_sessions": "session_id",
    "pk_refresh_tokens": "token_id",
    "pk_signing_keys": "kid",
    "pk_clients": "client_id",
    "pk_authorization_codes": "code_id",
}

# The server is down, restarting, full or refusing us: nothing this call can fix, the
# next one may work (the pool replaces a broken connection on its next acquire).
UNREACHABLE: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable; TimeoutError too (a pool acquire timed out)
    asyncpg.PostgresConnectionError,  # class 08, with ConnectionDoesNotExistError
    asyncpg.InsufficientResourcesError,  # class 53: too many connections, disk full
    asyncpg.OperatorInterventionError,  # class 57: admin/crash shutdown, starting up
    asyncpg.InvalidAuthorizationSpecificationError,  # class 28: the login was refused
    asyncpg.InvalidCatalogNameError,  # 3D000: no such database
)

# Class 22 from the server (U+0000, too long for its column, ...) and the client-side
# error for an argument asyncpg cannot encode (a lone surrogate in a str).
UNSTORABLE: tuple[type[BaseException], ...] = (asyncpg.DataError, asyncpg_base.DataError)


def translate(error: BaseException) -> StoreError | None:
    """The store error for an asyncpg (or socket) error; None for anything else, which is
    a bug here, not a condition a caller can handle."""
    if isinstance(error, asyncpg.UniqueViolationError):
        name = error.constraint_name or ""
        return Conflict(CONFLICTS.get(name, name or "unique"))
    if isinstance(error, UNSTORABLE):
        return Unstorable(str(error))
    if isinstance(error, UNREACHABLE) or _closed(error):
        return StoreUnavailable(f"{type(error).__name__}: {error}")
    return None


def _closed(error: BaseException) -> bool:
    # "cannot perform operation: connection is closed", "pool is closing": the same
    # InterfaceError class also reports misuse, which must not pass for an outage.
    return isinstance(error, asyncpg.InterfaceError) and "clos" in str(error)
