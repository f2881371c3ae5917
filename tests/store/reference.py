"""An in-memory implementation of the store seam, beside the real ones (as fosite's
`storage/memory.go`): the docstrings of `tollgate.store.interfaces` in plain Python.

It lets the contract suite prove itself without a database, and states each rule in the
fewest lines. One asyncio.Lock around each method makes every method one transaction.
"""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import itertools
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

from tests.store.reference_factors import ReferenceSecondFactors
from tollgate.store import migrate
from tollgate.store.records import (
    ALL_AUDIT,
    AlreadyUsed,
    AuditQuery,
    AuditRecord,
    AuthorizationCodeRecord,
    ClientRecord,
    CodeExchange,
    CodeUse,
    Conflict,
    ConsentGrant,
    ConsentRecord,
    Consumed,
    EventBatch,
    KeyRecord,
    MailRecord,
    MailTokenRecord,
    NotUsable,
    PasswordChange,
    RefreshTokenRecord,
    Rotated,
    Rotation,
    RotationRequest,
    ScopeDescription,
    SecurityEventRecord,
    SessionEnd,
    SessionRecord,
    StreamRecord,
    UserRecord,
    code_use,
    merged_consent,
)
from tollgate.store.stores import Stores


def _live(session: SessionRecord, now: datetime) -> bool:
    return session.revoked_at is None and session.expires_at > now


class _Tables:
    """The rows, shared by every store of one "database"."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users: dict[uuid.UUID, UserRecord] = {}
        self.sessions: dict[uuid.UUID, SessionRecord] = {}
        self.tokens: dict[str, RefreshTokenRecord] = {}
        self.keys: dict[str, KeyRecord] = {}
        self.clients: dict[str, ClientRecord] = {}
        self.codes: dict[str, AuthorizationCodeRecord] = {}
        self.consents: dict[tuple[uuid.UUID, str], ConsentRecord] = {}
        self.scopes: dict[str, ScopeDescription] = {}
        self.proofs: dict[str, datetime] = {}
        self.streams: dict[str, StreamRecord] = {}
        self.security_events: dict[str, SecurityEventRecord] = {}
        self.audit: list[AuditRecord] = []
        self.mail_tokens: dict[str, MailTokenRecord] = {}
        self.outbox: dict[str, MailRecord] = {}
        self.audit_ids = itertools.count(1)

    def log(self, records: Sequence[AuditRecord]) -> None:
        for record in records:
            self.audit.append(dataclasses.replace(record, id=next(self.audit_ids)))

    def end_sessions(
        self, user_id: uuid.UUID, reason: str, now: datetime, keep: uuid.UUID | None, *, live: bool
    ) -> int:
        """Revoke the user's unrevoked sessions (only the live ones when `live`) but `keep`."""
        ended = 0
        for session in list(self.sessions.values()):
            if session.user_id != user_id or session.id == keep or session.revoked_at is not None:
                continue
            if live and not _live(session, now):
                continue
            self.sessions[session.id] = dataclasses.replace(
                session, revoked_at=now, revoked_reason=reason
            )
            ended += 1
        return ended

    def forget(self, doomed: Callable[[AuthorizationCodeRecord | ConsentRecord], bool]) -> None:
        """Codes and consents of a deleted user or client (ON DELETE CASCADE)."""
        self.codes = {k: c for k, c in self.codes.items() if not doomed(c)}
        self.consents = {k: c for k, c in self.consents.items() if not doomed(c)}

    def drop_stream_events(self) -> None:
        """Events of streams that are gone (ON DELETE CASCADE)."""
        self.security_events = {
            j: e for j, e in self.security_events.items() if e.stream_id in self.streams
        }

    def drop_sessions(self, doomed: set[uuid.UUID]) -> None:
        for session_id in doomed:
            del self.sessions[session_id]
        for token in list(self.tokens.values()):
            if token.session_id in doomed:
                del self.tokens[token.id]


class ReferenceUsers:
    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    async def create(self, user: UserRecord, audit: Sequence[AuditRecord] = ()) -> None:
        async with self._t.lock:
            # The same name taken is "username", even though its skeleton is taken too.
            if any(u.username_key == user.username_key for u in self._t.users.values()):
                raise Conflict("username")
            if user.username_skeleton is not None and any(
                u.username_skeleton == user.username_skeleton for u in self._t.users.values()
            ):
                raise Conflict("username_skeleton")
            self._t.users[user.id] = user
            self._t.log(audit)

    async def by_id(self, user_id: uuid.UUID) -> UserRecord | None:
        return self._t.users.get(user_id)

    async def by_username_key(self, username_key: str) -> UserRecord | None:
        found = [u for u in self._t.users.values() if u.username_key == username_key]
        return found[0] if found else None

    async def list(self) -> list[UserRecord]:
        return sorted(self._t.users.values(), key=lambda u: u.created_at)

    async def set_password(self, change: PasswordChange) -> int:
        user_id, now = change.user_id, change.now
        async with self._t.lock:
            user = self._t.users[user_id]
            self._t.users[user_id] = dataclasses.replace(
                user, password_hash=change.password_hash, password_changed_at=now
            )
            ended = 0
            if change.end_sessions is not None:
                ended = self._t.end_sessions(
                    user_id, change.end_sessions, now, change.keep_session, live=True
                )
            self._t.log(change.audit)
            return ended

    async def upgrade_password_hash(self, user_id: uuid.UUID, old_hash: str, new_hash: str) -> bool:
        async with self._t.lock:
            user = self._t.users.get(user_id)
            if user is None or user.password_hash != old_hash:
                return False
            self._t.users[user_id] = dataclasses.replace(user, password_hash=new_hash)
            return True

    async def set_disabled(
        self, user_id: uuid.UUID, disabled: bool, now: datetime, audit: Sequence[AuditRecord] = ()
    ) -> int:
        async with self._t.lock:
            user = self._t.users[user_id]
            self._t.users[user_id] = dataclasses.replace(user, disabled=disabled)
            ended = 0
            if disabled:
                ended = self._t.end_sessions(user_id, "account_disabled", now, None, live=True)
            self._t.log(audit)
            return ended

    async def set_scope(
        self, user_id: uuid.UUID, scope: str, audit: Sequence[AuditRecord] = ()
    ) -> None:
        async with self._t.lock:
            self._t.users[user_id] = dataclasses.replace(self._t.users[user_id], scope=scope)
            self._t.log(audit)

    async def delete(self, user_id: uuid.UUID, audit: Sequence[AuditRecord] = ()) -> bool:
        async with self._t.lock:
            if self._t.users.pop(user_id, None) is None:
                return False
            self._t.forget(lambda row: row.user_id == user_id)
            self._t.drop_sessions({s.id for s in self._t.sessions.values() if s.user_id == user_id})
            self._t.mail_tokens = {
                k: t for k, t in self._t.mail_tokens.items() if t.user_id != user_id
            }
            self._t.outbox = {k: m for k, m in self._t.outbox.items() if m.user_id != user_id}
            self._t.log(audit)
            return True

    async def by_email_key(self, email_key: str) -> builtins.list[UserRecord]:
        found = [u for u in self._t.users.values() if u.email_key == email_key]
        return sorted(
            found,
            key=lambda u: (
                u.email_verified_at is None,
                u.email_verified_at or u.created_at,
                u.created_at,
            ),
        )[:20]

    async def set_email(
        self,
        user_id: uuid.UUID,
        email: str | None,
        email_key: str | None,
        audit: Sequence[AuditRecord] = (),
    ) -> bool:
        async with self._t.lock:
            user = self._t.users.get(user_id)
            if user is None:
                return False
            self._t.users[user_id] = dataclasses.replace(
                user, email=email, email_key=email_key, email_verified_at=None
            )
            self._t.log(audit)
            return True

    async def verify_email(
        self, user_id: uuid.UUID, email: str, now: datetime, audit: Sequence[AuditRecord] = ()
    ) -> bool:
        async with self._t.lock:
            user = self._t.users.get(user_id)
            if user is None or user.email != email:
                return False
            if any(
                u.id != user_id
                and u.email_verified_at is not None
                and u.email_key == user.email_key
                for u in self._t.users.values()
            ):
                raise Conflict("email")
            self._t.users[user_id] = dataclasses.replace(
                user, email_verified_at=user.email_verified_at or now
            )
            self._t.log(audit)
            return True


class ReferenceSessions:
    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    async def start(
        self,
        session: SessionRecord,
        first_token: RefreshTokenRecord,
        audit: Sequence[AuditRecord] = (),
    ) -> None:
        async with self._t.lock:
            self._t.sessions[session.id] = session
            self._t.tokens[first_token.id] = first_token
            self._t.log(audit)

    async def rotate(self, request: RotationRequest) -> Rotation:
        token_id, session_id, user_id = request.token_id, request.session_id, request.user_id
        child_id, child_salt, now = request.child_id, request.child_salt, request.now
        async with self._t.lock:
            token = self._t.tokens.get(token_id)
            if token is None or token.session_id != session_id:
                return NotUsable("unknown token")
            session = self._t.sessions[session_id]
            if not _live(session, now):
                return NotUsable("session ended")
            user = self._t.users[session.user_id]
            if user.id != user_id or user.disabled:
                return NotUsable("user not usable")
            if token.used_at is not None:
                child = self._t.tokens.get(token.replaced_by or "")
                return AlreadyUsed(token=token, child=child, session=session, user=user)
            child = RefreshTokenRecord(
                id=child_id,
                session_id=session_id,
                issued_at=now,
                expires_at=min(now + request.refresh_ttl, session.expires_at),
                parent_id=token_id,
                derivation_salt=child_salt,
            )
            self._t.tokens[token_id] = dataclasses.replace(token, used_at=now, replaced_by=child_id)
            self._t.tokens[child_id] = child
            session = dataclasses.replace(session, last_used_at=now)
            self._t.sessions[session_id] = session
            return Rotated(session=session, user=user, child=child)

    async def refresh_token(self, token_id: str) -> RefreshTokenRecord | None:
        return self._t.tokens.get(token_id)

    async def live(self, session_id: uuid.UUID, now: datetime) -> SessionRecord | None:
        session = self._t.sessions.get(session_id)
        return session if session is not None and _live(session, now) else None

    async def live_for_user(self, user_id: uuid.UUID, now: datetime) -> list[SessionRecord]:
        found = [s for s in self._t.sessions.values() if s.user_id == user_id and _live(s, now)]
        return sorted(found, key=lambda s: s.last_used_at, reverse=True)

    async def ended_for_user(
        self, user_id: uuid.UUID, since: datetime, limit: int = 100
    ) -> list[SessionRecord]:
        found = [
            s
            for s in self._t.sessions.values()
            if s.user_id == user_id and s.revoked_at is not None and s.revoked_at >= since
        ]
        return sorted(found, key=lambda s: s.revoked_at or since, reverse=True)[:limit]

    async def all_live(self, now: datetime) -> list[SessionRecord]:
        found = [s for s in self._t.sessions.values() if _live(s, now)]
        return sorted(found, key=lambda s: s.created_at)

    async def revoke(
        self, session_id: uuid.UUID, end: SessionEnd, *, owner: uuid.UUID | None = None
    ) -> bool:
        now = end.now
        async with self._t.lock:
            session = self._t.sessions.get(session_id)
            if session is None or not _live(session, now):
                return False
            if owner is not None and session.user_id != owner:
                return False
            self._t.sessions[session_id] = dataclasses.replace(
                session, revoked_at=now, revoked_reason=end.reason
            )
            self._t.log(end.audit)
            return True

    async def revoke_all(
        self, user_id: uuid.UUID, end: SessionEnd, *, keep: uuid.UUID | None = None
    ) -> int:
        async with self._t.lock:
            ended = self._t.end_sessions(user_id, end.reason, end.now, keep, live=False)
            self._t.log(end.audit)
            return ended

    async def seen_from(self, username_key: str, ip: str, since: datetime) -> bool:
        user = await ReferenceUsers(self._t).by_username_key(username_key)
        return user is not None and any(
            s.user_id == user.id and s.ip == ip and s.created_at >= since
            for s in self._t.sessions.values()
        )

    async def purge(self, now: datetime, ended_before: datetime) -> tuple[int, int]:
        async with self._t.lock:
            expired = [t.id for t in self._t.tokens.values() if t.expires_at <= now]
            for token_id in expired:
                del self._t.tokens[token_id]
            ended = {
                s.id
                for s in self._t.sessions.values()
                if (s.revoked_at is not None and s.revoked_at < ended_before)
                or s.expires_at < ended_before
            }
            self._t.drop_sessions(ended)
            return len(ended), len(expired)


class ReferenceKeys:
    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    async def add(self, key: KeyRecord, audit: Sequence[AuditRecord] = ()) -> None:
        async with self._t.lock:
            self._t.keys[key.kid] = key
            self._t.log(audit)

    async def usable(self) -> list[KeyRecord]:
        return [k for k in await self.all() if k.retired_at is None]

    async def all(self) -> list[KeyRecord]:
        by_kid = sorted(self._t.keys.values(), key=lambda k: k.kid)
        return sorted(by_kid, key=lambda k: k.activates_at, reverse=True)

    async def retire(self, kid: str, now: datetime, audit: Sequence[AuditRecord] = ()) -> bool:
        async with self._t.lock:
            key = self._t.keys.get(kid)
            if key is None or key.retired_at is not None:
                return False
            self._t.keys[kid] = dataclasses.replace(key, retired_at=now)
            self._t.log(audit)
            return True


class ReferenceClients:
    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    async def add(self, client: ClientRecord) -> None:
        async with self._t.lock:
            if any(c.name == client.name for c in self._t.clients.values()):
                raise Conflict("client_name")
            self._t.clients[client.client_id] = client

    async def by_id(self, client_id: str) -> ClientRecord | None:
        return self._t.clients.get(client_id)

    async def list(self) -> list[ClientRecord]:
        return sorted(self._t.clients.values(), key=lambda c: c.created_at)

    async def delete_by_name(self, name: str) -> bool:
        async with self._t.lock:
            found = [c.client_id for c in self._t.clients.values() if c.name == name]
            if not found:
                return False
            gone = found[0]
            del self._t.clients[gone]
            self._t.forget(lambda row: row.client_id == gone)
            self._t.streams = {k: s for k, s in self._t.streams.items() if s.client_id != gone}
            self._t.drop_stream_events()
            return True


class ReferenceCodes:
    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    async def add(self, code: AuthorizationCodeRecord, audit: Sequence[AuditRecord] = ()) -> None:
        async with self._t.lock:
            if code.client_id not in self._t.clients or code.user_id not in self._t.users:
                raise AssertionError("a code's client and user must exist (foreign keys)")
            if code.id in self._t.codes:
                raise Conflict("code_id")
            self._t.codes[code.id] = code
            self._t.log(audit)

    async def consume(self, exchange: CodeExchange) -> CodeUse:
        async with self._t.lock:
            outcome = code_use(self._t.codes.get(exchange.code_id), exchange)
            if isinstance(outcome, Consumed):
                self._t.codes[exchange.code_id] = outcome.code
                self._t.sessions[exchange.session.id] = exchange.session
                if exchange.first_token is not None:
                    self._t.tokens[exchange.first_token.id] = exchange.first_token
                self._t.log(exchange.audit)
            return outcome

    async def by_id(self, code_id: str) -> AuthorizationCodeRecord | None:
        return self._t.codes.get(code_id)

    async def purge(self, before: datetime) -> int:
        async with self._t.lock:
            doomed = [c.id for c in self._t.codes.values() if c.expires_at < before]
            for code_id in doomed:
                del self._t.codes[code_id]
            return len(doomed)


class ReferenceConsents:
    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    async def grant(self, grant: ConsentGrant) -> ConsentRecord | None:
        key = (grant.user_id, grant.client_id)
        async with self._t.lock:
            if grant.client_id not in self._t.clients or grant.user_id not in self._t.users:
                raise AssertionError("a consent's client and user must exist (foreign keys)")
            held = self._t.consents.get(key)
            if grant.answering is not None and grant.answering.granted_at != (
                held.granted_at if held else None
            ):
                return None
            consent = ConsentRecord(
                user_id=grant.user_id,
                client_id=grant.client_id,
                scope=merged_consent(held.scope if held else "", grant.asked, grant.chosen),
                granted_at=grant.now,
            )
            self._t.consents[key] = consent
            self._t.log(grant.audit)
            return consent

    async def get(self, user_id: uuid.UUID, client_id: str) -> ConsentRecord | None:
        return self._t.consents.get((user_id, client_id))

    async def for_user(self, user_id: uuid.UUID) -> list[ConsentRecord]:
        found = sorted(
            (c for c in self._t.consents.values() if c.user_id == user_id),
            key=lambda c: c.client_id,
        )
        return sorted(found, key=lambda c: c.granted_at, reverse=True)

    async def revoke(self, user_id: uuid.UUID, client_id: str, end: SessionEnd) -> int | None:
        async with self._t.lock:
            if self._t.consents.pop((user_id, client_id), None) is None:
                return None
            ended = 0
            for session in list(self._t.sessions.values()):
                if (session.user_id, session.client_id) == (user_id, client_id) and _live(
                    session, end.now
                ):
                    self._t.sessions[session.id] = dataclasses.replace(
                        session, revoked_at=end.now, revoked_reason=end.reason
                    )
                    ended += 1
            self._t.log(end.audit)
            return ended


class ReferenceScopes:
    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    async def describe(self, scope: ScopeDescription, audit: Sequence[AuditRecord] = ()) -> None:
        async with self._t.lock:
            self._t.scopes[scope.name] = scope
            self._t.log(audit)

    async def list(self) -> list[ScopeDescription]:
        return sorted(self._t.scopes.values(), key=lambda s: s.name)


class ReferenceProofs:
    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    async def first_use(self, proof_id: str, expires_at: datetime, now: datetime) -> bool:
        async with self._t.lock:
            seen = self._t.proofs.get(proof_id)
            if seen is not None and seen > now:
                return False
            self._t.proofs[proof_id] = expires_at
            return True

    async def purge(self, before: datetime) -> int:
        async with self._t.lock:
            gone = [p for p, expires in self._t.proofs.items() if expires < before]
            for proof_id in gone:
                del self._t.proofs[proof_id]
            return len(gone)


class ReferenceSecurityEvents:
    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    async def add_stream(self, stream: StreamRecord) -> None:
        async with self._t.lock:
            assert stream.client_id in self._t.clients, "no such client"
            self._t.streams[stream.stream_id] = stream

    async def stream(self, stream_id: str) -> StreamRecord | None:
        return self._t.streams.get(stream_id)

    async def streams(self, client_id: str | None = None) -> list[StreamRecord]:
        found = [s for s in self._t.streams.values() if client_id in (None, s.client_id)]
        return sorted(found, key=lambda s: s.created_at)

    async def set_status(self, stream_id: str, status: str) -> bool:
        async with self._t.lock:
            stream = self._t.streams.get(stream_id)
            if stream is None:
                return False
            self._t.streams[stream_id] = dataclasses.replace(stream, status=status)
            return True

    async def delete_stream(self, stream_id: str) -> bool:
        async with self._t.lock:
            if self._t.streams.pop(stream_id, None) is None:
                return False
            self._t.drop_stream_events()
            return True

    async def add_events(self, events: Sequence[SecurityEventRecord]) -> None:
        async with self._t.lock:
            for event in events:
                if event.next_attempt_at is None:
                    event = dataclasses.replace(event, next_attempt_at=event.created_at)
                self._t.security_events.setdefault(event.jti, event)

    def _oldest(self, keep: Callable[[SecurityEventRecord], bool]) -> list[SecurityEventRecord]:
        found = [e for e in self._t.security_events.values() if keep(e)]
        return sorted(found, key=lambda e: (e.created_at, e.jti))

    async def poll(
        self, stream_id: str, acknowledged: Sequence[str], max_events: int, now: datetime
    ) -> EventBatch:
        async with self._t.lock:
            for jti in acknowledged:
                event = self._t.security_events.get(jti)
                if event is not None and event.stream_id == stream_id:
                    del self._t.security_events[jti]
            stream = self._t.streams.get(stream_id)
            if stream is not None:
                self._t.streams[stream_id] = dataclasses.replace(stream, polled_at=now)
            found = self._oldest(lambda e: e.stream_id == stream_id)
            return EventBatch(found[:max_events], len(found) > max_events)

    async def waiting(self, stream_id: str) -> bool:
        return any(e.stream_id == stream_id for e in self._t.security_events.values())

    async def claim_pushes(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[SecurityEventRecord]:
        async with self._t.lock:

            def due(event: SecurityEventRecord) -> bool:
                stream = self._t.streams.get(event.stream_id)
                return (
                    stream is not None
                    and stream.delivery_method == "urn:ietf:rfc:8935"
                    and stream.status == "enabled"
                    and event.next_attempt_at is not None
                    and event.next_attempt_at <= now
                )

            claimed = [
                dataclasses.replace(e, next_attempt_at=lease_until)
                for e in self._oldest(due)[:limit]
            ]
            for event in claimed:
                self._t.security_events[event.jti] = event
            return claimed

    async def pushed(self, jti: str) -> None:
        async with self._t.lock:
            self._t.security_events.pop(jti, None)

    async def push_failed(self, jti: str, next_attempt_at: datetime) -> None:
        async with self._t.lock:
            event = self._t.security_events.get(jti)
            if event is not None:
                self._t.security_events[jti] = dataclasses.replace(
                    event, attempts=event.attempts + 1, next_attempt_at=next_attempt_at
                )

    async def backlog(self) -> int:
        return len(self._t.security_events)

    async def purge(self, before: datetime) -> int:
        async with self._t.lock:
            gone = [j for j, e in self._t.security_events.items() if e.created_at < before]
            for jti in gone:
                del self._t.security_events[jti]
            return len(gone)


class ReferenceAudit:
    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    async def add(self, records: Sequence[AuditRecord]) -> None:
        async with self._t.lock:
            self._t.log(records)

    async def events(self, query: AuditQuery = ALL_AUDIT) -> list[AuditRecord]:
        found = [
            e
            for e in self._t.audit
            if (query.user_id is None or e.user_id == query.user_id)
            and (query.since is None or e.at >= query.since)
        ]
        return sorted(found, key=lambda e: (e.at, e.id or 0), reverse=True)[: query.limit]

    async def purge(self, before: datetime) -> int:
        async with self._t.lock:
            kept = [e for e in self._t.audit if e.at >= before]
            purged = len(self._t.audit) - len(kept)
            self._t.audit[:] = kept
            return purged


class ReferenceDatabase:
    async def ping(self) -> None:
        return None

    async def schema_revision(self) -> str | None:
        # Nothing to migrate: always at the head the real engines migrate to.
        return migrate.head_revision()

    async def close(self) -> None:
        return None


class ReferenceMailTokens:
    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    async def issue(
        self,
        token: MailTokenRecord,
        mail: MailRecord | None = None,
        audit: Sequence[AuditRecord] = (),
    ) -> None:
        async with self._t.lock:
            self._t.mail_tokens[token.id] = token
            if mail is not None:
                self._t.outbox[mail.id] = mail
            self._t.log(audit)

    def _usable(self, token_id: str, purpose: str, now: datetime) -> MailTokenRecord | None:
        token = self._t.mail_tokens.get(token_id)
        if token is None or token.user_id is None:
            return None
        return token if token.purpose == purpose and token.expires_at > now else None

    async def find(self, token_id: str, purpose: str, now: datetime) -> MailTokenRecord | None:
        return self._usable(token_id, purpose, now)

    async def consume(self, token_id: str, purpose: str, now: datetime) -> MailTokenRecord | None:
        async with self._t.lock:
            token = self._usable(token_id, purpose, now)
            if token is not None:
                del self._t.mail_tokens[token_id]
            return token

    async def purge(self, before: datetime) -> int:
        async with self._t.lock:
            kept = {k: t for k, t in self._t.mail_tokens.items() if t.expires_at >= before}
            gone = len(self._t.mail_tokens) - len(kept)
            self._t.mail_tokens = kept
            return gone


class ReferenceOutbox:
    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    async def enqueue(self, mail: MailRecord, audit: Sequence[AuditRecord] = ()) -> None:
        async with self._t.lock:
            self._t.outbox[mail.id] = dataclasses.replace(
                mail, next_attempt_at=mail.next_attempt_at or mail.created_at
            )
            self._t.log(audit)

    async def claim(self, now: datetime, lease_until: datetime, limit: int) -> list[MailRecord]:
        async with self._t.lock:
            due = sorted(
                (m for m in self._t.outbox.values() if (m.next_attempt_at or m.created_at) <= now),
                key=lambda m: (m.created_at, m.id),
            )[:limit]
            claimed = [dataclasses.replace(m, next_attempt_at=lease_until) for m in due]
            for mail in claimed:
                self._t.outbox[mail.id] = mail
            return claimed

    async def remove(self, mail_id: str, audit: Sequence[AuditRecord] = ()) -> None:
        async with self._t.lock:
            self._t.outbox.pop(mail_id, None)
            self._t.log(audit)

    async def failed(self, mail_id: str, next_attempt_at: datetime, error: str) -> None:
        async with self._t.lock:
            mail = self._t.outbox.get(mail_id)
            if mail is not None:
                self._t.outbox[mail_id] = dataclasses.replace(
                    mail,
                    attempts=mail.attempts + 1,
                    next_attempt_at=next_attempt_at,
                    last_error=error[:512],
                )

    async def backlog(self) -> int:
        return len(self._t.outbox)


def open_reference() -> Stores:
    tables = _Tables()
    return Stores(
        database=ReferenceDatabase(),
        users=ReferenceUsers(tables),
        sessions=ReferenceSessions(tables),
        keys=ReferenceKeys(tables),
        clients=ReferenceClients(tables),
        codes=ReferenceCodes(tables),
        consents=ReferenceConsents(tables),
        scopes=ReferenceScopes(tables),
        proofs=ReferenceProofs(tables),
        security_events=ReferenceSecurityEvents(tables),
        factors=ReferenceSecondFactors(),
        audit=ReferenceAudit(tables),
        mail_tokens=ReferenceMailTokens(tables),
        outbox=ReferenceOutbox(tables),
    )
