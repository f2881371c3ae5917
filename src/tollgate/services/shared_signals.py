"""The Shared Signals transmitter (OpenID SSF 1.0): receivers' streams, the events each
ended session and changed password put into them, and poll delivery (RFC 8936).

Events arrive from the event bus (`subscribe`), never from a service calling in. Each is
stored, one row per stream, before anything is delivered: nothing is lost across restarts,
and every worker and replica of one database delivers the same events, until the receiver
acknowledges them (or TOLLGATE_SSF_RETENTION passes).

Long polling (RFC 8936 §2.4, `returnImmediately: false`) waits on this process's own
events at once and looks at the table every `ssf_poll_check_interval` seconds for events
other workers or replicas stored: one indexed query per waiting receiver per interval, on
every database engine, with no extra service to run (a Redis or LISTEN/NOTIFY wake-up
would save those queries but adds a part that can fail; the interval bounds the delay).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime

from tollgate.clock import Clock
from tollgate.errors import InvalidRequest, NotFound
from tollgate.events import AccountChanged, EventBus, SessionsEnded
from tollgate.metrics import Metrics
from tollgate.services.push_targets import PushTargets
from tollgate.services.security_events import (
    CHANGED_PASSWORD,
    EVENTS_SUPPORTED,
    VERIFICATION,
    SetClaims,
    SetSigner,
    credential_changed,
    session_revoked,
    verification,
)
from tollgate.settings import Settings
from tollgate.store.interfaces import SecurityEventStore, SessionStore
from tollgate.store.records import ClientRecord, SecurityEventRecord, StreamRecord

log = logging.getLogger("tollgate.shared_signals")

POLL = "urn:ietf:rfc:8936"
PUSH = "urn:ietf:rfc:8935"
STATUSES = ("enabled", "paused", "disabled")
DEFAULT_MAX_EVENTS = 100
MAX_EVENTS = 1000
MAX_SESSIONS_PER_EVENT = 100_000


@dataclass(frozen=True)
class Delivery:
    """One poll's answer (RFC 8936 §2.3): signed SETs by jti, and whether more wait."""

    sets: dict[str, str]
    more_available: bool


class SharedSignals:
    def __init__(
        self,
        store: SecurityEventStore,
        sessions: SessionStore,
        signer: SetSigner,
        push_targets: PushTargets,
        settings: Settings,
        metrics: Metrics,
        clock: Clock,
    ) -> None:
        self._store = store
        self._sessions = sessions
        self._signer = signer
        self._push_targets = push_targets
        self._issuer = settings.issuer
        self._long_poll = settings.ssf_long_poll_seconds
        self._check_interval = settings.ssf_poll_check_interval
        self._metrics = metrics
        self._clock = clock
        self._stored = asyncio.Event()  # set (and replaced) when this process stores events

    # --- streams (SSF 1.0 §8.1.1) -------------------------------------------------------

    async def create_stream(
        self,
        client: ClientRecord,
        method: str,
        endpoint_url: str | None,
        events_requested: Sequence[str],
    ) -> StreamRecord:
        if method == PUSH:
            if not endpoint_url:
                raise InvalidRequest("Push delivery needs delivery.endpoint_url.")
            self._push_targets.check(endpoint_url)
        elif method == POLL:
            endpoint_url = None  # the transmitter names the poll endpoint (RFC 8936 §2)
        else:
            raise InvalidRequest(f"Supported delivery methods: {POLL}, {PUSH}.")
        stream = StreamRecord(
            stream_id=secrets.token_urlsafe(16),
            client_id=client.client_id,
            delivery_method=method,
            endpoint_url=endpoint_url,
            events_delivered=tuple(e for e in EVENTS_SUPPORTED if e in set(events_requested)),
            status="enabled",
            created_at=self._clock.now(),
        )
        await self._store.add_stream(stream)
        return stream

    async def streams_of(self, client: ClientRecord) -> list[StreamRecord]:
        return await self._store.streams(client.client_id)

    async def stream_of(self, client: ClientRecord, stream_id: str) -> StreamRecord:
        """The client's stream; NotFound for another client's (whose existence is not
        told)."""
        stream = await self._store.stream(stream_id) if len(stream_id) <= 64 else None
        if stream is None or stream.client_id != client.client_id:
            raise NotFound("No such stream.")
        return stream

    async def delete_stream(self, client: ClientRecord, stream_id: str) -> None:
        await self.stream_of(client, stream_id)
        await self._store.delete_stream(stream_id)

    async def set_status(self, client: ClientRecord, stream_id: str, status: str) -> StreamRecord:
        await self.stream_of(client, stream_id)
        if status not in STATUSES:
            raise InvalidRequest(f"status is one of {', '.join(STATUSES)}.")
        await self._store.set_status(stream_id, status)
        return await self.stream_of(client, stream_id)

    async def request_verification(
        self, client: ClientRecord, stream_id: str, state: str | None
    ) -> None:
        """SSF 1.0 §8.1.4.2: a verification event into the stream."""
        stream = await self.stream_of(client, stream_id)
        claims = verification(self._issuer, stream_id, self._clock.now(), state)
        await self._add([claims], [stream], VERIFICATION)

    # --- what goes into the streams ------------------------------------------------------

    def subscribe(self, events: EventBus) -> None:
        events.subscribe(SessionsEnded, self.sessions_ended)
        events.subscribe(AccountChanged, self.account_changed)

    async def sessions_ended(self, event: SessionsEnded) -> None:
        streams = await self._receiving()
        if streams:
            await self._record(await self._sessions_revoked(event), streams)

    async def account_changed(self, event: AccountChanged) -> None:
        streams = await self._receiving()
        if not streams:
            return
        sets = await self._sessions_revoked(event)
        if event.name in CHANGED_PASSWORD and event.user_id is not None:
            by_admin = event.name == "password_set_by_admin"
            sets.append(credential_changed(self._issuer, event.user_id, event.at, by_admin))
        await self._record(sets, streams)

    async def _receiving(self) -> list[StreamRecord]:
        """The streams that take new events (none: nothing to look up or store)."""
        return [s for s in await self._store.streams() if s.status != "disabled"]

    async def _sessions_revoked(self, event: SessionsEnded | AccountChanged) -> list[SetClaims]:
        if event.user_id is None:
            log.warning("a session ended without a known user; no security event for it")
            return []
        if isinstance(event, SessionsEnded) and event.session_id is not None:
            ended = [event.session_id]
        else:
            # Every session the event ended carries its time as `revoked_at` (the store
            # wrote them in the event's transaction): those and no others.
            ended = [
                s.id
                for s in await self._sessions.ended_for_user(
                    event.user_id, event.at, MAX_SESSIONS_PER_EVENT
                )
                if s.revoked_at == event.at
            ]
        return [
            session_revoked(self._issuer, event.user_id, sid, event.at, event.name) for sid in ended
        ]

    async def _record(self, sets: list[SetClaims], streams: Sequence[StreamRecord]) -> None:
        for event_type in {c.event_type for c in sets}:
            await self._add([c for c in sets if c.event_type == event_type], streams, event_type)

    async def _add(
        self, sets: list[SetClaims], streams: Sequence[StreamRecord], event_type: str
    ) -> None:
        now = self._clock.now()
        rows = [
            # One jti per stream: a SET names one receiver (RFC 8417 §2.2 `aud`).
            SecurityEventRecord(
                jti=c.jti if len(streams) == 1 else f"{c.jti}.{index}",
                stream_id=stream.stream_id,
                created_at=now,
                claims=c.text() if len(streams) == 1 else _with_jti(c, f"{c.jti}.{index}"),
            )
            for c in sets
            for index, stream in enumerate(streams)
            if event_type == VERIFICATION or event_type in stream.events_delivered
        ]
        if not rows:
            return
        await self._store.add_events(rows)
        self._metrics.ssf_events.inc(len(rows))
        self._stored.set()
        self._stored = asyncio.Event()

    # --- poll delivery (RFC 8936) --------------------------------------------------------

    async def poll(
        self,
        client: ClientRecord,
        stream_id: str,
        acknowledged: Sequence[str],
        max_events: int,
        return_immediately: bool,
    ) -> Delivery:
        stream = await self.stream_of(client, stream_id)
        if stream.delivery_method != POLL:
            raise InvalidRequest("This stream is delivered by push, not by poll.")
        if max_events == 0 or stream.status != "enabled":
            # Acknowledgements only (RFC 8936 §2.4.1), or a paused stream that holds its
            # events: nothing is delivered.
            held = await self._store.poll(stream_id, acknowledged, 0, self._clock.now())
            return Delivery({}, held.more_available)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._long_poll
        batch = await self._store.poll(stream_id, acknowledged, max_events, self._clock.now())
        while not (batch.events or return_immediately):
            # Wait with reads only (a poll writes: acknowledgements, `polled_at`).
            stored = self._stored
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            with suppress(TimeoutError):
                await asyncio.wait_for(stored.wait(), min(remaining, self._check_interval))
            if stored.is_set() or await self._store.waiting(stream_id):
                batch = await self._store.poll(stream_id, (), max_events, self._clock.now())
        sets = {e.jti: await self._signer.sign(e.claims, client.client_id) for e in batch.events}
        self._metrics.ssf_delivered.labels(method="poll").inc(len(sets))
        return Delivery(sets, batch.more_available)

    async def backlog(self) -> int:
        return await self._store.backlog()

    async def purge(self, before: datetime) -> int:
        return await self._store.purge(before)


def _with_jti(claims: SetClaims, jti: str) -> str:
    return SetClaims(jti, claims.event_type, {**claims.claims, "jti": jti}).text()
