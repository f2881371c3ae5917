"""ConsentStore: which scopes a user let a client have; an answer on the consent page
narrows or widens what is held for the scopes it asked about, and keeps the rest."""

from __future__ import annotations

import asyncio

import pytest

from tests.store.builders import add_app, add_user, at, event, start_session, without_id
from tollgate.store.records import ConsentGrant, ConsentRecord, HeldConsent, SessionEnd
from tollgate.store.stores import Stores


async def test_a_first_answer_stores_the_chosen_scopes_sorted(stores: Stores) -> None:
    app = await add_app(stores)
    user = await add_user(stores)
    given = event("consent_given", at(1), user=user, detail=app.client_id)

    answer = ConsentGrant(
        user.id, app.client_id, "openid profile email", "profile  openid", at(1), [given]
    )

    consent = await stores.consents.grant(answer)

    expected = ConsentRecord(user.id, app.client_id, "openid profile", at(1))
    assert consent == expected
    assert await stores.consents.get(user.id, app.client_id) == expected
    assert [without_id(e) for e in await stores.audit.events()] == [given]


async def test_an_answer_narrows_and_widens_only_what_it_asked(stores: Stores) -> None:
    app = await add_app(stores)
    user = await add_user(stores)
    await stores.consents.grant(
        ConsentGrant(user.id, app.client_id, "openid profile email", "openid profile email", at(1))
    )

    # Asked again about email (unchecked: taken away) and calendar (checked: added);
    # profile was not asked this time and stays.
    consent = await stores.consents.grant(
        ConsentGrant(user.id, app.client_id, "openid email calendar", "openid calendar", at(2))
    )

    expected = ConsentRecord(user.id, app.client_id, "calendar openid profile", at(2))
    assert consent == expected
    assert await stores.consents.get(user.id, app.client_id) == expected
    # Everything asked and nothing chosen leaves what was not asked.
    emptied = await stores.consents.grant(
        ConsentGrant(user.id, app.client_id, "openid calendar", "", at(3))
    )
    assert emptied == ConsentRecord(user.id, app.client_id, "profile", at(3))


async def test_answers_given_at_once_all_count(stores: Stores) -> None:
    """Each answer merges with what the one before it stored (no lost update)."""
    app = await add_app(stores)
    user = await add_user(stores)
    scopes = [f"scope:{i:02}" for i in range(10)]

    await asyncio.gather(
        *(
            stores.consents.grant(ConsentGrant(user.id, app.client_id, scope, scope, at(1)))
            for scope in scopes
        )
    )

    found = await stores.consents.get(user.id, app.client_id)
    assert found is not None
    assert found.scope == " ".join(scopes)


@pytest.mark.parametrize("held_before", [False, True])
async def test_answers_to_one_page_at_once_record_only_one(
    stores: Stores, held_before: bool
) -> None:
    """A consent form posted twice at the same moment: one answer and one audit row."""
    app = await add_app(stores)
    user = await add_user(stores)
    shown = HeldConsent(None)
    if held_before:
        first = await stores.consents.grant(
            ConsentGrant(user.id, app.client_id, "openid", "openid", at(1))
        )
        assert first is not None
        shown = HeldConsent(first.granted_at)

    answers = await asyncio.gather(
        *(
            stores.consents.grant(
                ConsentGrant(
                    user.id,
                    app.client_id,
                    "openid profile",
                    "openid profile",
                    at(2 + i / 1_000_000),
                    [event("consent_given", at(2), user=user, detail=str(i))],
                    answering=shown,
                )
            )
            for i in range(10)
        )
    )

    recorded = [a for a in answers if a is not None]
    assert len(recorded) == 1
    assert await stores.consents.get(user.id, app.client_id) == recorded[0]
    assert [e.event for e in await stores.audit.events()] == ["consent_given"]
    # The page shown before that answer is stale now; the held one is not.
    assert (
        await stores.consents.grant(
            ConsentGrant(user.id, app.client_id, "openid", "", at(3), answering=shown)
        )
        is None
    )
    assert await stores.consents.grant(
        ConsentGrant(
            user.id,
            app.client_id,
            "profile",
            "",
            at(3),
            answering=HeldConsent(recorded[0].granted_at),
        )
    ) == ConsentRecord(user.id, app.client_id, "openid", at(3))


async def test_a_users_consents_newest_first_and_only_theirs(stores: Stores) -> None:
    shop = await add_app(stores, "shop")
    agenda = await add_app(stores, "agenda")
    news = await add_app(stores, "news")
    user = await add_user(stores, "minsu")
    other = await add_user(stores, "other")
    for app, when in ((shop, at(1)), (agenda, at(3)), (news, at(3))):
        await stores.consents.grant(ConsentGrant(user.id, app.client_id, "openid", "openid", when))
    await stores.consents.grant(ConsentGrant(other.id, shop.client_id, "openid", "openid", at(9)))

    found = await stores.consents.for_user(user.id)

    assert [(c.client_id, c.granted_at) for c in found] == [
        ("tgc_agenda", at(3)),  # the same time: by client id
        ("tgc_news", at(3)),
        ("tgc_shop", at(1)),
    ]
    assert await stores.consents.get(user.id, "tgc_unknown") is None


async def test_revoke_forgets_the_consent_and_ends_that_apps_sessions_once(
    stores: Stores,
) -> None:
    """Only the user's live sessions of that app end; the audit row is written once."""
    shop = await add_app(stores, "shop")
    agenda = await add_app(stores, "agenda")
    user = await add_user(stores, "minsu")
    other = await add_user(stores, "other")
    await stores.consents.grant(ConsentGrant(user.id, shop.client_id, "openid", "openid", at(1)))
    at_shop, _ = await start_session(stores, user, client_id=shop.client_id)
    second_at_shop, _ = await start_session(stores, user, client_id=shop.client_id)
    ended_before, _ = await start_session(stores, user, client_id=shop.client_id)
    assert await stores.sessions.revoke(ended_before.id, SessionEnd("logout", at(2)))
    at_agenda, _ = await start_session(stores, user, client_id=agenda.client_id)
    first_party, _ = await start_session(stores, user)
    others_at_shop, _ = await start_session(stores, other, client_id=shop.client_id)
    revoked = event("consent_revoked", at(3), user=user, detail=shop.client_id)
    end = SessionEnd("consent_revoked", at(3), [revoked])

    assert await stores.consents.revoke(user.id, shop.client_id, end) == 2
    assert await stores.consents.revoke(user.id, shop.client_id, end) is None
    assert await stores.consents.revoke(user.id, agenda.client_id, end) is None  # never given

    assert await stores.consents.get(user.id, shop.client_id) is None
    assert await stores.consents.for_user(user.id) == []
    ended = await stores.sessions.ended_for_user(user.id, at(3))
    assert {(s.id, s.revoked_reason) for s in ended} == {
        (at_shop.id, "consent_revoked"),
        (second_at_shop.id, "consent_revoked"),
    }
    live = {s.id for s in await stores.sessions.live_for_user(user.id, at(3))}
    assert live == {at_agenda.id, first_party.id}
    assert await stores.sessions.live(others_at_shop.id, at(3)) is not None
    assert [without_id(e) for e in await stores.audit.events()] == [revoked]


async def test_consents_go_with_their_client_or_user(stores: Stores) -> None:
    shop = await add_app(stores, "shop")
    agenda = await add_app(stores, "agenda")
    user = await add_user(stores, "minsu")
    other = await add_user(stores, "other")
    for who in (user, other):
        for app in (shop, agenda):
            answer = ConsentGrant(who.id, app.client_id, "openid", "openid", at(1))
            await stores.consents.grant(answer)

    assert await stores.clients.delete_by_name("agenda")
    assert await stores.users.delete(other.id)

    assert [c.client_id for c in await stores.consents.for_user(user.id)] == ["tgc_shop"]
    assert await stores.consents.for_user(other.id) == []
