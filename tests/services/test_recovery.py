"""Account recovery by email, on SQLite and PostgreSQL, with a real SMTP server process:
the reset link read from the mail sets the password and ends every session; tokens work
once, expire (a moved clock), and are never stored in plain text; verification marks the
address, one account per address; unknown accounts get no mail and leave no usable token.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from tests.conftest import OTHER_PASSWORD, PASSWORD
from tests.support.db import rows
from tests.support.smtp import SmtpSink, html_of, link_in, text_of
from tollgate.clock import MovableClock
from tollgate.errors import EmailNotVerified, EmailTaken, InvalidGrant, InvalidInput, InvalidLink
from tollgate.events import ClientInfo
from tollgate.services.container import Services
from tollgate.services.passwords import PasswordHasher
from tollgate.services.recovery import token_id
from tollgate.settings import Settings
from tollgate.store.records import UserRecord
from tollgate.store.schema import AuditEventRow, MailTokenRow

CLIENT = ClientInfo(user_agent="pytest", ip="198.51.100.9")
NEW_PASSWORD = "copper-lantern-meadow-58"


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(datetime.now(UTC))


@pytest.fixture
def mail_settings(make_settings: Callable[..., Settings], smtp: SmtpSink) -> Settings:
    return make_settings(smtp_url=smtp.url, mail_first_retry=0.05)


@pytest.fixture
async def mail(
    mail_settings: Settings, hasher: PasswordHasher, clock: MovableClock
) -> AsyncIterator[Services]:
    built = await Services.open(mail_settings, hasher, clock=clock, migrate_first=True)
    await built.start()
    yield built
    await built.close()


async def deliver(services: Services) -> None:
    assert services.mail_delivery is not None
    await services.mail_delivery.send_due()


async def joined(services: Services, name: str = "minsu", email: str | None = None) -> UserRecord:
    return await services.accounts.join(name, PASSWORD, email or f"{name}@example.test")


async def verified(
    services: Services, smtp: SmtpSink, name: str = "minsu", user: UserRecord | None = None
) -> UserRecord:
    user = user or await joined(services, name)
    await services.recovery.after_join(user, CLIENT)
    await deliver(services)
    [message] = await smtp.arrived(to=user.email)
    await services.recovery.verify(link_in(message)[2], CLIENT)
    return await services.accounts.get(user.id)


async def test_a_reset_link_read_from_the_mail_sets_the_password_and_ends_every_session(
    mail: Services, smtp: SmtpSink
) -> None:
    user = await joined(mail)
    first = await mail.grants.start_session(user, None, CLIENT)
    second = await mail.grants.start_session(user, None, CLIENT)

    await mail.recovery.forgot("MINSU@example.test", None, CLIENT)
    assert smtp.messages() == []  # the request only enqueued it
    await deliver(mail)
    [message] = await smtp.arrived(to="minsu@example.test")

    body = text_of(message)
    assert message["Subject"] == "Reset your password for tollgate.test"
    assert "http://tollgate.test" in body
    assert "expires in 30 minutes" in body
    link, kind, token = link_in(message)
    assert kind == "reset"
    assert link.startswith("http://tollgate.test/#reset=")
    assert link in html_of(message)

    await mail.recovery.reset(token, NEW_PASSWORD, CLIENT)
    assert (await mail.accounts.authenticate("minsu", NEW_PASSWORD)).id == user.id
    with pytest.raises(InvalidGrant):
        await mail.accounts.authenticate("minsu", PASSWORD)
    assert await mail.stores.sessions.live_for_user(user.id, mail.clock.now()) == []
    del first, second
    # The link was mailed to the account's address: reading it proved the address.
    assert (await mail.accounts.get(user.id)).email_verified
    with pytest.raises(InvalidLink):
        await mail.recovery.reset(token, OTHER_PASSWORD, CLIENT)


async def test_a_weak_password_does_not_use_the_link_up(mail: Services, smtp: SmtpSink) -> None:
    await joined(mail)
    await mail.recovery.forgot(None, "minsu", CLIENT)
    await deliver(mail)
    [message] = await smtp.arrived()
    token = link_in(message)[2]
    with pytest.raises(InvalidInput) as weak:
        await mail.recovery.reset(token, "password", CLIENT)
    assert "new_password" in weak.value.fields
    await mail.recovery.reset(token, NEW_PASSWORD, CLIENT)


async def test_a_link_expires_after_the_reset_ttl(
    mail: Services, smtp: SmtpSink, clock: MovableClock
) -> None:
    await joined(mail)
    await mail.recovery.forgot("minsu@example.test", None, CLIENT)
    await deliver(mail)
    token = link_in((await smtp.arrived())[0])[2]
    clock.advance(1800)
    with pytest.raises(InvalidLink):
        await mail.recovery.reset(token, NEW_PASSWORD, CLIENT)


async def test_twenty_concurrent_resets_with_one_link_set_one_password(
    mail: Services, smtp: SmtpSink
) -> None:
    await joined(mail)
    await mail.recovery.forgot("minsu@example.test", None, CLIENT)
    await deliver(mail)
    token = link_in((await smtp.arrived())[0])[2]
    passwords = [f"{NEW_PASSWORD}-{i}" for i in range(20)]
    results = await asyncio.gather(
        *(mail.recovery.reset(token, p, CLIENT) for p in passwords), return_exceptions=True
    )
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, InvalidLink) for r in results if r is not None)


async def test_tokens_are_stored_only_as_hashes(mail: Services, smtp: SmtpSink) -> None:
    user = await joined(mail)
    await mail.recovery.after_join(user, CLIENT)
    await mail.recovery.forgot("minsu@example.test", None, CLIENT)
    await deliver(mail)
    tokens = [link_in(m)[2] for m in await smtp.arrived(count=2)]

    async with rows(mail) as db:
        stored = set((await db.scalars(select(MailTokenRow.id))).all())
        assert {token_id(t) for t in tokens} <= stored
        # Every table, every column, as text: no token anywhere (the sent mail is gone).
        tables = ["users", "sessions", "refresh_tokens", "mail_tokens", "mail_outbox"]
        tables += ["audit_events"]
        dump = ""
        for table in tables:
            for row in (await db.execute(text(f"SELECT * FROM {table}"))).all():  # noqa: S608
                dump += " ".join(str(v) for v in row) + "\n"
    for token in tokens:
        assert token not in dump
    assert "minsu@example.test" in dump  # the dump did read the rows


async def test_unknown_accounts_get_no_mail_and_no_usable_token(
    mail: Services, smtp: SmtpSink
) -> None:
    nomail = await mail.accounts.join("nomail", PASSWORD)
    await mail.recovery.forgot("nobody@example.test", None, CLIENT)
    await mail.recovery.forgot(None, "nobody", CLIENT)
    await mail.recovery.forgot(None, nomail.username, CLIENT)
    await deliver(mail)
    await asyncio.sleep(0.3)
    assert smtp.messages() == []
    async with rows(mail) as db:
        decoys = (await db.scalars(select(MailTokenRow))).all()
        assert len(decoys) == 3
        assert all(row.user_id is None for row in decoys)
        details = (
            await db.scalars(
                select(AuditEventRow.detail).where(
                    AuditEventRow.event == "password_reset_requested"
                )
            )
        ).all()
    assert set(details) == {"no such account, no address or disabled"}


async def test_verification_marks_the_address_and_one_account_holds_it(
    mail: Services, smtp: SmtpSink
) -> None:
    user = await verified(mail, smtp)
    assert user.email_verified
    # Another account with the same address in other case cannot verify it too.
    other = await joined(mail, "other", "MINSU@Example.test")
    await mail.recovery.after_join(other, CLIENT)
    await deliver(mail)
    message = (await smtp.arrived(to="minsu@example.test", count=2))[-1]
    assert message["To"] == "MINSU@Example.test"
    with pytest.raises(EmailTaken):
        await mail.recovery.verify(link_in(message)[2], CLIENT)
    assert not (await mail.accounts.get(other.id)).email_verified


async def test_login_by_verified_email_only(mail: Services, smtp: SmtpSink) -> None:
    user = await joined(mail)
    with pytest.raises(InvalidGrant):  # not verified yet: the address names no account
        await mail.accounts.authenticate("minsu@example.test", PASSWORD)
    user = await verified(mail, smtp, user=user)
    assert (await mail.accounts.authenticate("Minsu@Example.TEST", PASSWORD)).id == user.id


async def test_a_changed_address_needs_its_own_verification(mail: Services, smtp: SmtpSink) -> None:
    user = await verified(mail, smtp)
    await mail.recovery.change_email(user.id, "new@example.test", CLIENT)
    changed = await mail.accounts.get(user.id)
    assert (changed.email, changed.email_verified) == ("new@example.test", False)
    await deliver(mail)
    [message] = await smtp.arrived(to="new@example.test")
    assert "new@example.test" in text_of(message)
    await mail.recovery.verify(link_in(message)[2], CLIENT)
    assert (await mail.accounts.get(user.id)).email_verified


async def test_an_old_verification_link_does_not_verify_a_new_address(
    mail: Services, smtp: SmtpSink
) -> None:
    user = await joined(mail)
    await mail.recovery.after_join(user, CLIENT)
    await mail.recovery.change_email(user.id, "new@example.test", CLIENT)
    await deliver(mail)
    [old] = await smtp.arrived(to="minsu@example.test")
    with pytest.raises(InvalidLink):
        await mail.recovery.verify(link_in(old)[2], CLIENT)
    assert not (await mail.accounts.get(user.id)).email_verified


async def test_required_verification_refuses_login_until_verified(
    make_settings: Callable[..., Settings],
    smtp: SmtpSink,
    hasher: PasswordHasher,
) -> None:
    strict = await Services.open(
        make_settings(smtp_url=smtp.url, require_verified_email=True), hasher, migrate_first=True
    )
    await strict.start()
    try:
        user = await joined(strict)
        with pytest.raises(EmailNotVerified):
            await strict.accounts.authenticate("minsu", PASSWORD)
        with pytest.raises(InvalidGrant):  # the wrong password learns nothing more
            await strict.accounts.authenticate("minsu", OTHER_PASSWORD)
        await strict.recovery.after_join(user, CLIENT)
        await deliver(strict)
        await strict.recovery.verify(link_in((await smtp.arrived())[0])[2], CLIENT)
        assert (await strict.accounts.authenticate("minsu", PASSWORD)).id == user.id
    finally:
        await strict.close()


async def failures(services: Services) -> list[str]:
    async with rows(services) as db:
        found = await db.scalars(
            select(AuditEventRow.detail).where(AuditEventRow.event == "mail_failed")
        )
        return [d or "" for d in found.all()]


async def test_a_mail_the_server_refuses_for_good_is_given_up_and_audited(
    mail: Services, smtp: SmtpSink
) -> None:
    await mail.accounts.join("minsu", PASSWORD, "refused@example.test")
    await mail.recovery.forgot(None, "minsu", CLIENT)
    await deliver(mail)
    assert smtp.messages() == []
    assert await mail.stores.outbox.backlog() == 0
    [detail] = await failures(mail)
    assert detail.startswith("password_reset: SMTPRecipientsRefused")


async def test_a_mail_unsent_when_its_link_expires_is_dropped(
    mail: Services, smtp: SmtpSink, clock: MovableClock
) -> None:
    await joined(mail)
    smtp.stop()
    await mail.recovery.forgot(None, "minsu", CLIENT)
    await deliver(mail)  # SMTP is down: tried, kept
    assert await mail.stores.outbox.backlog() == 1
    clock.advance(1800)
    smtp.start()
    await deliver(mail)
    assert await mail.stores.outbox.backlog() == 0
    assert smtp.messages() == []  # a dead link is not worth sending late
    [detail] = await failures(mail)
    assert "expired unsent after 1 attempts" in detail
    assert "SMTPConnectError" in detail


async def test_with_a_secret_key_a_waiting_mail_holds_no_readable_link(
    make_settings: Callable[..., Settings], smtp: SmtpSink, hasher: PasswordHasher
) -> None:
    sealed = await Services.open(
        make_settings(smtp_url=smtp.url, secret_key="a long operator secret, 32+ chars"),
        hasher,
        migrate_first=True,
    )
    await sealed.start()
    try:
        await joined(sealed)
        smtp.stop()
        await sealed.recovery.forgot(None, "minsu", CLIENT)
        async with rows(sealed) as db:
            waiting = (await db.execute(text("SELECT text_body, html_body FROM mail_outbox"))).all()
        assert waiting
        assert all(body.startswith("tollgate-sealed-mail:v1:") for row in waiting for body in row)
        smtp.start()
        await deliver(sealed)
        [message] = await smtp.arrived()
        token = link_in(message)[2]
        assert all(token not in body for row in waiting for body in row)
        await sealed.recovery.reset(token, NEW_PASSWORD, CLIENT)
    finally:
        await sealed.close()
