"""GET /consents and DELETE /consents/{client_id}: the apps I allowed, and taking it back."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from fastapi import FastAPI

from tests.api.test_authorize import log_in
from tests.conftest import bearer, join
from tests.support.authorize import add_client, authorize_url, form_token
from tollgate.store.records import AuditQuery, ClientRecord, RefreshTokenRecord, SessionRecord


async def allow(client: httpx.AsyncClient, app_record: ClientRecord, scopes: list[str]) -> None:
    page = await client.get(authorize_url(app_record))
    consent = await log_in(client, page) if "/authorize/login" in page.text else page
    response = await client.post(
        "/authorize/consent",
        data={"request": form_token(consent.text), "action": "allow", "scope": scopes},
    )
    assert response.status_code == 303, response.text


async def app_session(app: FastAPI, user_id: uuid.UUID, client_id: str) -> uuid.UUID:
    """A session started for the app (as the code exchange does)."""
    now = app.state.services.clock.now()
    session = SessionRecord(
        id=uuid.uuid4(),
        user_id=user_id,
        scope="openid",
        created_at=now,
        last_used_at=now,
        expires_at=now + timedelta(hours=1),
        client_id=client_id,
    )
    token = RefreshTokenRecord(
        id=uuid.uuid4().hex, session_id=session.id, issued_at=now, expires_at=session.expires_at
    )
    await app.state.services.stores.sessions.start(session, token)
    return session.id


async def test_lists_the_apps_i_allowed_and_revokes_one(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    stores = app.state.services.stores
    shop = await add_client(stores.clients, name="Photo Shop")
    blog = await add_client(stores.clients, name="Blog")
    tokens = await join(client)
    user_id = uuid.UUID(tokens["user"]["id"])
    await allow(client, shop, ["profile"])
    await allow(client, blog, ["profile", "email"])
    listed = await client.get("/consents", headers=bearer(tokens["access_token"]))
    assert listed.status_code == 200
    body = listed.json()
    assert [(c["client_id"], c["client_name"], c["scope"]) for c in body] == [
        (blog.client_id, "Blog", "email openid profile"),
        (shop.client_id, "Photo Shop", "openid profile"),
    ]
    assert all(c["granted_at"] for c in body)

    shop_session = await app_session(app, user_id, shop.client_id)
    blog_session = await app_session(app, user_id, blog.client_id)
    revoked = await client.delete(
        f"/consents/{shop.client_id}", headers=bearer(tokens["access_token"])
    )
    assert revoked.status_code == 204
    now = app.state.services.clock.now()
    assert await stores.sessions.live(shop_session, now) is None
    assert await stores.sessions.live(blog_session, now) is not None
    # The account page's own session and the browser's sign-in are not the app's.
    assert (await client.get("/me", headers=bearer(tokens["access_token"]))).status_code == 200
    after = await client.get("/consents", headers=bearer(tokens["access_token"]))
    assert [c["client_id"] for c in after.json()] == [blog.client_id]
    events = [e for e in await stores.audit.events(AuditQuery()) if e.event == "consent.revoked"]
    assert len(events) == 1
    assert events[0].user_id == user_id
    assert shop.client_id in (events[0].detail or "")

    # Nothing left to revoke: 404; and the app must ask for consent again.
    again = await client.delete(
        f"/consents/{shop.client_id}", headers=bearer(tokens["access_token"])
    )
    assert again.status_code == 404
    assert again.json()["error"] == "not_found"
    page = await client.get(authorize_url(shop))
    assert "Allow Photo Shop" in page.text


async def test_consents_need_a_bearer_and_are_per_user(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    shop = await add_client(app.state.services.stores.clients)
    assert (await client.get("/consents")).status_code == 401
    assert (await client.delete(f"/consents/{shop.client_id}")).status_code == 401
    await join(client)
    await allow(client, shop, ["profile"])
    other = await join(client, "jiwoo")
    mine = await client.get("/consents", headers=bearer(other["access_token"]))
    assert mine.json() == []
    response = await client.delete(
        f"/consents/{shop.client_id}", headers=bearer(other["access_token"])
    )
    assert response.status_code == 404
