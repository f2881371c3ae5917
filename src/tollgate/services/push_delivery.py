"""Push delivery (RFC 8935): each server process sends the due SETs of push streams to
their receivers, retrying with exponential backoff until one answers 202 Accepted.

Events are claimed from the store with a lease, so workers and replicas never send one
event at the same time; a process that dies mid-send leaves the event to be sent again
when the lease ends (a receiver may see a SET twice; RFC 8935 §2 receivers dedupe by
`jti`). Redirects are not followed and the allow-list is checked again before every send:
an endpoint allowed when its stream was made may have been removed from the list since.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import timedelta

import httpx

from tollgate.clock import Clock
from tollgate.metrics import Metrics
from tollgate.services.push_targets import PushTargets
from tollgate.services.security_events import SetSigner
from tollgate.settings import Settings
from tollgate.store.interfaces import SecurityEventStore
from tollgate.store.records import SecurityEventRecord, StoreError, StreamRecord

log = logging.getLogger("tollgate.push_delivery")

BATCH = 50
LEASE_SECONDS = 60


class PushDelivery:
    def __init__(
        self,
        store: SecurityEventStore,
        signer: SetSigner,
        targets: PushTargets,
        settings: Settings,
        metrics: Metrics,
        clock: Clock,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._store = store
        self._signer = signer
        self._targets = targets
        self._interval = settings.ssf_push_interval
        self._timeout = settings.ssf_push_timeout
        self._first_retry = settings.ssf_push_first_retry
        self._max_backoff = settings.ssf_push_max_backoff
        self._metrics = metrics
        self._clock = clock
        self._transport = transport

    async def run(self) -> None:
        """Deliver due events forever (the app's lifespan runs and cancels this)."""
        async with self._client() as client:
            while True:
                try:
                    sent = await self.deliver_due(client)
                except StoreError:
                    log.warning("push delivery: the database is unavailable; trying again")
                    sent = 0
                if sent < BATCH:
                    await asyncio.sleep(self._interval)

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            follow_redirects=False, timeout=self._timeout, transport=self._transport
        )

    async def deliver_due(self, client: httpx.AsyncClient | None = None) -> int:
        """Send the events due now, once each; how many were claimed."""
        now = self._clock.now()
        due = await self._store.claim_pushes(now, now + timedelta(seconds=LEASE_SECONDS), BATCH)
        if not due:
            return 0
        if client is None:
            async with self._client() as own:
                await self._send_all(own, due)
        else:
            await self._send_all(client, due)
        return len(due)

    async def _send_all(self, client: httpx.AsyncClient, due: list[SecurityEventRecord]) -> None:
        streams: dict[str, StreamRecord | None] = {}
        for event in due:
            if event.stream_id not in streams:
                streams[event.stream_id] = await self._store.stream(event.stream_id)
            stream = streams[event.stream_id]
            if stream is None:
                continue  # deleted meanwhile: its events went with it
            if await self._send(client, stream, event):
                await self._store.pushed(event.jti)
                self._metrics.ssf_delivered.labels(method="push").inc()
            else:
                self._metrics.ssf_push_failures.inc()
                await self._store.push_failed(event.jti, self._clock.now() + self._backoff(event))

    async def _send(
        self, client: httpx.AsyncClient, stream: StreamRecord, event: SecurityEventRecord
    ) -> bool:
        url = stream.endpoint_url
        if url is None or not self._targets.allows(url):
            log.warning("push delivery: %s is not an allowed receiver; not sent", url)
            return False
        token = await self._signer.sign(event.claims, stream.client_id)
        try:
            response = await client.post(
                url,
                content=token,
                headers={"Content-Type": "application/secevent+jwt", "Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            log.warning("push delivery to %s failed: %s", url, type(exc).__name__)
            return False
        if response.status_code == 202:  # RFC 8935 §2.2
            return True
        # RFC 8935 §2.3: a 400 with an error code means the receiver refused this SET;
        # trying it again as it is cannot help, but a later fix on its side may.
        log.warning("push delivery to %s answered %s", url, response.status_code)
        return False

    def _backoff(self, event: SecurityEventRecord) -> timedelta:
        """Exponential, capped, with jitter so receivers coming back are not all hit at
        once."""
        seconds = min(self._first_retry * 2**event.attempts, self._max_backoff)
        return timedelta(seconds=seconds * (0.8 + secrets.randbelow(201) / 1000))
