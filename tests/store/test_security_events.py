"""SecurityEventStore: streams, and events kept until their receiver acknowledges them."""

from __future__ import annotations

import asyncio
import uuid

from tests.store.builders import add_app, at
from tollgate.store.records import SecurityEventRecord, StreamRecord
from tollgate.store.stores import Stores

POLL = "urn:ietf:rfc:8936"
PUSH = "urn:ietf:rfc:8935"
REVOKED = ("https://schemas.openid.net/secevent/caep/event-type/session-revoked",)


async def a_stream(
    stores: Stores, client_id: str, method: str = POLL, *, seconds: float = 0
) -> StreamRecord:
    stream = StreamRecord(
        stream_id=uuid.uuid4().hex,
        client_id=client_id,
        delivery_method=method,
        endpoint_url="https://rs.example/events" if method == PUSH else None,
        events_delivered=REVOKED,
        status="enabled",
        created_at=at(seconds),
    )
    await stores.security_events.add_stream(stream)
    return stream


def an_event(stream: StreamRecord, jti: str, seconds: float) -> SecurityEventRecord:
    return SecurityEventRecord(jti, stream.stream_id, at(seconds), f'{{"n": "{jti}"}}')


async def test_streams_are_stored_as_given_and_listed_per_client(stores: Stores) -> None:
    shop = await add_app(stores, "shop")
    board = await add_app(stores, "board")
    first = await a_stream(stores, shop.client_id, PUSH)
    second = await a_stream(stores, shop.client_id, seconds=1)
    other = await a_stream(stores, board.client_id, seconds=2)
    assert await stores.security_events.stream(first.stream_id) == first
    assert await stores.security_events.streams(shop.client_id) == [first, second]
    assert await stores.security_events.streams() == [first, second, other]
    assert await stores.security_events.stream("nope") is None
    assert await stores.security_events.set_status(second.stream_id, "paused") is True
    assert (await stores.security_events.stream(second.stream_id)).status == "paused"  # type: ignore[union-attr]
    assert await stores.security_events.set_status("nope", "paused") is False


async def test_a_poll_gives_the_oldest_events_until_they_are_acknowledged(stores: Stores) -> None:
    app = await add_app(stores)
    stream = await a_stream(stores, app.client_id)
    other = await a_stream(stores, app.client_id)
    await stores.security_events.add_events(
        [an_event(stream, f"e{i}", i) for i in (3, 1, 2)] + [an_event(other, "x", 0)]
    )
    batch = await stores.security_events.poll(stream.stream_id, [], 2, at(10))
    assert [e.jti for e in batch.events] == ["e1", "e2"]
    assert batch.more_available is True
    assert batch.events[0].claims == '{"n": "e1"}'
    assert batch.events[0].created_at == at(1)
    # Not acknowledged: given again.
    again = await stores.security_events.poll(stream.stream_id, [], 2, at(11))
    assert [e.jti for e in again.events] == ["e1", "e2"]
    # Acknowledged ones are forgotten before the next ones are chosen; another stream's
    # jti acknowledged here changes nothing.
    rest = await stores.security_events.poll(stream.stream_id, ["e1", "e2", "x"], 2, at(12))
    assert [e.jti for e in rest.events] == ["e3"]
    assert rest.more_available is False
    polled = await stores.security_events.stream(stream.stream_id)
    assert polled is not None
    assert polled.polled_at == at(12)
    assert [
        e.jti for e in (await stores.security_events.poll(other.stream_id, [], 5, at(12))).events
    ] == ["x"]
    assert await stores.security_events.backlog() == 2


async def test_a_jti_is_stored_once(stores: Stores) -> None:
    app = await add_app(stores)
    stream = await a_stream(stores, app.client_id)
    await stores.security_events.add_events([an_event(stream, "same", 1)])
    await stores.security_events.add_events([an_event(stream, "same", 5)])
    batch = await stores.security_events.poll(stream.stream_id, [], 10, at(10))
    assert [(e.jti, e.created_at) for e in batch.events] == [("same", at(1))]


async def test_push_claims_are_taken_once_and_retried_after_a_failure(stores: Stores) -> None:
    app = await add_app(stores)
    push = await a_stream(stores, app.client_id, PUSH)
    poll = await a_stream(stores, app.client_id, POLL)
    await stores.security_events.add_events(
        [an_event(push, "p1", 1), an_event(push, "p2", 2), an_event(poll, "q", 1)]
    )
    claims = await asyncio.gather(
        *(stores.security_events.claim_pushes(at(10), at(40), 10) for _ in range(4))
    )
    taken = sorted(e.jti for batch in claims for e in batch)
    assert taken == ["p1", "p2"]  # each once, and never a poll stream's event
    assert await stores.security_events.claim_pushes(at(20), at(50), 10) == []  # leased
    await stores.security_events.pushed("p1")
    await stores.security_events.push_failed("p2", at(100))
    assert await stores.security_events.claim_pushes(at(99), at(130), 10) == []
    retried = await stores.security_events.claim_pushes(at(100), at(130), 10)
    assert [(e.jti, e.attempts) for e in retried] == [("p2", 1)]
    assert await stores.security_events.backlog() == 2  # p2 and q


async def test_a_paused_push_stream_is_not_pushed(stores: Stores) -> None:
    app = await add_app(stores)
    push = await a_stream(stores, app.client_id, PUSH)
    await stores.security_events.add_events([an_event(push, "p1", 1)])
    await stores.security_events.set_status(push.stream_id, "paused")
    assert await stores.security_events.claim_pushes(at(10), at(40), 10) == []


async def test_deleting_a_stream_or_its_client_forgets_its_events(stores: Stores) -> None:
    app = await add_app(stores, "shop")
    stream = await a_stream(stores, app.client_id)
    kept_app = await add_app(stores, "board")
    kept = await a_stream(stores, kept_app.client_id)
    await stores.security_events.add_events([an_event(stream, "a", 1), an_event(kept, "k", 1)])
    assert await stores.security_events.delete_stream(stream.stream_id) is True
    assert await stores.security_events.delete_stream(stream.stream_id) is False
    assert await stores.security_events.backlog() == 1
    again = await a_stream(stores, app.client_id)
    await stores.security_events.add_events([an_event(again, "b", 1)])
    assert await stores.clients.delete_by_name("shop") is True
    assert await stores.security_events.streams(app.client_id) == []
    assert await stores.security_events.backlog() == 1


async def test_purge_forgets_old_events_only(stores: Stores) -> None:
    app = await add_app(stores)
    stream = await a_stream(stores, app.client_id)
    await stores.security_events.add_events(
        [an_event(stream, "old", 1), an_event(stream, "new", 9)]
    )
    assert await stores.security_events.purge(before=at(5)) == 1
    batch = await stores.security_events.poll(stream.stream_id, [], 10, at(10))
    assert [e.jti for e in batch.events] == ["new"]


async def test_waiting_tells_whether_a_stream_holds_events(stores: Stores) -> None:
    app = await add_app(stores)
    stream = await a_stream(stores, app.client_id)
    other = await a_stream(stores, app.client_id)
    assert await stores.security_events.waiting(stream.stream_id) is False
    await stores.security_events.add_events([an_event(other, "x", 1)])
    assert await stores.security_events.waiting(stream.stream_id) is False
    await stores.security_events.add_events([an_event(stream, "e", 1)])
    assert await stores.security_events.waiting(stream.stream_id) is True
    await stores.security_events.poll(stream.stream_id, ["e"], 10, at(2))
    assert await stores.security_events.waiting(stream.stream_id) is False
