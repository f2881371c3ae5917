"""MailTokenStore, MailOutbox and the users' email columns (issue 17), on every engine:
tokens are single use (one of 20 concurrent uses wins), expire, and are known by their
hash only; mail is claimed with a lease by one sender and stays until sent; an address is
verified by one account only, compared case-folded."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import secrets
import uuid

import pytest

from tests.store.builders import add_user, at, event
from tollgate.store.records import Conflict, MailRecord, MailTokenRecord, UserRecord
from tollgate.store.stores import Stores


def a_token(
    user: UserRecord | None, purpose: str = "reset", *, minutes: float = 30
) -> tuple[str, MailTokenRecord]:
    token = secrets.token_urlsafe(32)
    record = MailTokenRecord(
        id=hashlib.sha256(token.encode()).hexdigest(),
        purpose=purpose,
        user_id=user.id if user else None,
        email=(user.email if user and user.email else "nobody@example.test"),
        created_at=at(0),
        expires_at=at(minutes=minutes),
    )
    return token, record


def a_mail(
    user: UserRecord | None = None, *, seconds: float = 0, kind: str = "password_reset"
) -> MailRecord:
    return MailRecord(
        id=uuid.uuid4().hex,
        kind=kind,
        recipient="minsu@example.test",
        subject="Reset your password",
        text="Open https://tollgate.test/#reset=abc",
        html="<p>Open <a href='https://tollgate.test/#reset=abc'>this</a></p>",
        created_at=at(seconds),
        expires_at=at(seconds, minutes=30),
        user_id=user.id if user else None,
    )


async def with_email(stores: Stores, name: str, email: str) -> UserRecord:
    return await add_user(stores, name, email=email, email_key=email.casefold())


async def test_a_token_is_found_until_it_expires_and_used_once(stores: Stores) -> None:
    user = await with_email(stores, "minsu", "Minsu@Example.test")
    _, token = a_token(user)
    await stores.mail_tokens.issue(token, audit=[event("password_reset_requested", user=user)])

    assert await stores.mail_tokens.find(token.id, "reset", at(1)) == token
    assert await stores.mail_tokens.find(token.id, "verify", at(1)) is None
    assert await stores.mail_tokens.find(token.id, "reset", at(minutes=30)) is None
    assert await stores.mail_tokens.consume(token.id, "verify", at(1)) is None
    assert await stores.mail_tokens.consume(token.id, "reset", at(minutes=30)) is None

    assert await stores.mail_tokens.consume(token.id, "reset", at(2)) == token
    assert await stores.mail_tokens.consume(token.id, "reset", at(3)) is None
    assert await stores.mail_tokens.find(token.id, "reset", at(3)) is None
    assert [e.event for e in await stores.audit.events()] == ["password_reset_requested"]


async def test_a_decoy_token_is_never_usable(stores: Stores) -> None:
    _, decoy = a_token(None)
    await stores.mail_tokens.issue(decoy)
    assert await stores.mail_tokens.find(decoy.id, "reset", at(1)) is None
    assert await stores.mail_tokens.consume(decoy.id, "reset", at(1)) is None


async def test_twenty_concurrent_uses_of_one_token_one_wins(stores: Stores) -> None:
    user = await with_email(stores, "minsu", "minsu@example.test")
    _, token = a_token(user)
    await stores.mail_tokens.issue(token)

    results = await asyncio.gather(
        *(stores.mail_tokens.consume(token.id, "reset", at(1)) for _ in range(20))
    )
    assert [r for r in results if r is not None] == [token]


async def test_a_token_issued_with_its_mail_puts_both_in_one_write(stores: Stores) -> None:
    user = await with_email(stores, "minsu", "minsu@example.test")
    _, token = a_token(user)
    mail = a_mail(user)
    await stores.mail_tokens.issue(token, mail, [event("password_reset_requested", user=user)])

    assert await stores.outbox.backlog() == 1
    claimed = await stores.outbox.claim(at(1), at(61), 10)
    assert claimed == [dataclasses.replace(mail, next_attempt_at=at(61))]


async def test_purge_forgets_expired_tokens_only(stores: Stores) -> None:
    user = await with_email(stores, "minsu", "minsu@example.test")
    _, old = a_token(user, minutes=1)
    _, new = a_token(user, "verify", minutes=60)
    await stores.mail_tokens.issue(old)
    await stores.mail_tokens.issue(new)
    assert await stores.mail_tokens.purge(at(minutes=2)) == 1
    assert await stores.mail_tokens.find(new.id, "verify", at(minutes=2)) == new


async def test_deleting_a_user_takes_its_tokens_and_pending_mail(stores: Stores) -> None:
    user = await with_email(stores, "minsu", "minsu@example.test")
    _, token = a_token(user)
    await stores.mail_tokens.issue(token, a_mail(user))
    assert await stores.users.delete(user.id)
    assert await stores.outbox.backlog() == 0
    assert await stores.mail_tokens.purge(at(days=1)) == 0


async def test_mail_is_claimed_by_one_sender_for_its_lease(stores: Stores) -> None:
    first, second = a_mail(seconds=0), a_mail(seconds=1)
    later = a_mail(seconds=100)
    for mail in (second, later, first):
        await stores.outbox.enqueue(mail)

    claims = await asyncio.gather(*(stores.outbox.claim(at(5), at(65), 10) for _ in range(5)))
    taken = [m.id for claim in claims for m in claim]
    assert sorted(taken) == sorted([first.id, second.id])  # each once; `later` not due

    assert await stores.outbox.claim(at(30), at(90), 10) == []  # leased
    again = await stores.outbox.claim(at(66), at(126), 10)
    assert [m.id for m in again] == [first.id, second.id]  # the lease ran out: sent again


async def test_a_failed_mail_waits_for_its_retry_and_a_sent_one_leaves(stores: Stores) -> None:
    mail = a_mail()
    await stores.outbox.enqueue(mail)
    [claimed] = await stores.outbox.claim(at(1), at(61), 10)
    await stores.outbox.failed(claimed.id, at(10), "SMTPConnectError: refused")

    assert await stores.outbox.claim(at(9), at(69), 10) == []
    [retried] = await stores.outbox.claim(at(10), at(70), 10)
    assert retried.attempts == 1
    assert retried.last_error == "SMTPConnectError: refused"

    await stores.outbox.remove(retried.id, [event("mail_sent", at(11), detail="password_reset")])
    assert await stores.outbox.backlog() == 0
    assert await stores.outbox.claim(at(100), at(160), 10) == []
    assert [e.event for e in await stores.audit.events()] == ["mail_sent"]


async def test_users_by_email_key_verified_first(stores: Stores) -> None:
    older = await with_email(stores, "older", "Shared@Example.test")
    newer = await add_user(
        stores,
        "newer",
        email="shared@example.test",
        email_key="shared@example.test",
        created=at(10),
    )
    assert [u.id for u in await stores.users.by_email_key("shared@example.test")] == [
        older.id,
        newer.id,
    ]
    assert await stores.users.verify_email(newer.id, "shared@example.test", at(20))
    found = await stores.users.by_email_key("shared@example.test")
    assert [u.id for u in found] == [newer.id, older.id]
    assert found[0].email_verified_at == at(20)
    assert found[0].email_verified
    assert not found[1].email_verified


async def test_an_address_is_verified_by_one_account_only(stores: Stores) -> None:
    one = await with_email(stores, "one", "minsu@example.test")
    other = await with_email(stores, "other", "MINSU@example.test")
    assert await stores.users.verify_email(one.id, "minsu@example.test", at(1))
    with pytest.raises(Conflict) as taken:
        await stores.users.verify_email(other.id, "MINSU@example.test", at(2))
    assert taken.value.what == "email"
    user = await stores.users.by_id(other.id)
    assert user is not None
    assert user.email_verified_at is None
    # Verifying again keeps the first time.
    assert await stores.users.verify_email(one.id, "minsu@example.test", at(3))
    again = await stores.users.by_id(one.id)
    assert again is not None
    assert again.email_verified_at == at(1)


async def test_a_changed_address_is_unverified_and_an_old_link_cannot_verify_it(
    stores: Stores,
) -> None:
    user = await with_email(stores, "minsu", "old@example.test")
    assert await stores.users.verify_email(user.id, "old@example.test", at(1))
    assert await stores.users.set_email(
        user.id, "new@example.test", "new@example.test", [event("email_changed", user=user)]
    )
    changed = await stores.users.by_id(user.id)
    assert changed is not None
    assert (changed.email, changed.email_key, changed.email_verified_at) == (
        "new@example.test",
        "new@example.test",
        None,
    )
    assert not await stores.users.verify_email(user.id, "old@example.test", at(2))
    assert not await stores.users.set_email(uuid.uuid4(), "x@example.test", "x@example.test")
    assert [e.event for e in await stores.audit.events()] == ["email_changed"]
