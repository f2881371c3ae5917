"""The stores on SQLite: plain sqlite3 on one thread per process, one hop per operation;
the hot paths' short operations on a second connection on the event loop (loop.py).

The schema is Alembic's (`tollgate.store.migrate`); opening does not migrate.
"""

from __future__ import annotations

from tollgate.settings import Settings
from tollgate.store.records import StoreUnavailable
from tollgate.store.sqlite.audit import SqliteAuditStore
from tollgate.store.sqlite.clients import SqliteClientStore
from tollgate.store.sqlite.codes import SqliteAuthorizationCodeStore
from tollgate.store.sqlite.connection import ConnectionThread, database_path
from tollgate.store.sqlite.consents import SqliteConsentStore
from tollgate.store.sqlite.database import SqliteDatabase
from tollgate.store.sqlite.factors import SqliteSecondFactorStore
from tollgate.store.sqlite.keys import SqliteKeyStore
from tollgate.store.sqlite.loop import LoopConnection
from tollgate.store.sqlite.mail import SqliteMailOutbox, SqliteMailTokenStore
from tollgate.store.sqlite.proofs import SqliteProofReplayStore
from tollgate.store.sqlite.scopes import SqliteScopeStore
from tollgate.store.sqlite.security_events import SqliteSecurityEventStore
from tollgate.store.sqlite.sessions import SqliteSessionStore
from tollgate.store.sqlite.users import SqliteUserStore
from tollgate.store.stores import Stores

__all__ = ["open_sqlite"]


async def open_sqlite(settings: Settings) -> Stores:
    """Every store on the SQLite file `settings.database_url` names. Raises
    StoreUnavailable (and leaves no thread behind) if the file cannot be opened."""
    path = database_path(settings.database_url)
    thread = ConnectionThread(path)
    loop = LoopConnection(path, thread)
    database = SqliteDatabase(thread, loop)
    try:
        await database.ping()  # connects now, so a wrong path fails at start
    except StoreUnavailable:
        await thread.close()
        raise
    return Stores(
        database=database,
        users=SqliteUserStore(thread, loop),
        sessions=SqliteSessionStore(thread, loop),
        keys=SqliteKeyStore(thread),
        clients=SqliteClientStore(thread),
        codes=SqliteAuthorizationCodeStore(thread, loop),
        consents=SqliteConsentStore(thread, loop),
        scopes=SqliteScopeStore(thread),
        proofs=SqliteProofReplayStore(thread),
        security_events=SqliteSecurityEventStore(thread),
        factors=SqliteSecondFactorStore(thread),
        audit=SqliteAuditStore(thread),
        mail_tokens=SqliteMailTokenStore(thread),
        outbox=SqliteMailOutbox(thread),
    )
