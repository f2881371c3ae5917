"""Account recovery by email (issue 17): password reset and email verification.

The rules:
- A request only writes: the token (its SHA-256 only) and its mail go into the store in
  one transaction; `services/mail_delivery.py` sends it later. No request waits on SMTP.
- `forgot` answers the same whether or not the account exists, and does the same work:
  it renders a mail and stores a token either way (a decoy, usable by nothing, for an
  unknown, disabled or address-less account, or past a limit).
- Tokens are 256 random bits, single use, for one purpose, and expire (TOLLGATE_RESET_TTL,
  TOLLGATE_VERIFY_TTL). Finding one (the form's POST) and using it up are separate: a
  weak new password is refused before the token is spent.
- A reset ends every session and verifies the address it was mailed to (reading the
  mail proved it), if the account still has it.
- An address is verified by one account only (case-folded): a second verification of
  it fails (409 email_taken); an unverified address never names an account at login.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from tollgate.clock import Clock
from tollgate.errors import AlreadyVerified, EmailTaken, InvalidLink, MailUnavailable, NotFound
from tollgate.events import ClientInfo, Event, EventBus
from tollgate.services.accounts import Accounts
from tollgate.services.email_address import email_key
from tollgate.services.mailing import Mails
from tollgate.services.names import storable, username_key
from tollgate.services.throttle import Throttle
from tollgate.settings import Settings
from tollgate.store.interfaces import MailTokenStore, UserStore
from tollgate.store.records import Conflict, MailRecord, MailTokenRecord, UserRecord

RESET, VERIFY = "reset", "verify"
# What a decoy mail is rendered for: the same template, the same work.
_NOBODY = UserRecord(
    id=uuid.UUID(int=0),
    username="nobody",
    username_key="nobody",
    username_skeleton=None,
    email="nobody@invalid",
    password_hash="",
    scope="",
    disabled=True,
    created_at=datetime(2000, 1, 1, tzinfo=UTC),
    password_changed_at=datetime(2000, 1, 1, tzinfo=UTC),
)


def token_id(token: str) -> str:
    """What the store knows a mailed token by."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)  # 256 bits


class Recovery:
    def __init__(
        self,
        users: UserStore,
        tokens: MailTokenStore,
        accounts: Accounts,
        mails: Mails,
        throttle: Throttle,
        settings: Settings,
        events: EventBus,
        clock: Clock,
    ) -> None:
        self._users = users
        self._tokens = tokens
        self._accounts = accounts
        self._mails = mails
        self._throttle = throttle
        self._events = events
        self._clock = clock
        self._enabled = settings.mail_enabled
        self._reset_ttl = timedelta(seconds=settings.reset_ttl)
        self._verify_ttl = timedelta(seconds=settings.verify_ttl)

    @property
    def enabled(self) -> bool:
        return self._enabled

    # --- password reset ------------------------------------------------------------------

    async def forgot(self, email: str | None, username: str | None, client: ClientInfo) -> None:
        """Mail a reset link to the account named by a (verified, or its only) address or
        its username, if there is one that can take it. The same answer either way."""
        if not self._enabled:
            raise MailUnavailable()
        tried = email_key(email) if email is not None else username_key(username or "")
        user = await self._find(email, username)
        allowed = await self._throttle.mail_allowed("tried", tried)
        if user is not None:
            # Counted per account too: by name and by address are one account.
            allowed = await self._throttle.mail_allowed("account", str(user.id)) and allowed
        else:
            await self._throttle.mail_allowed("account", tried)  # the same work
        can_take = user is not None and user.email is not None and not user.disabled
        target = user if can_take and allowed and user is not None else None
        now = self._clock.now()
        token = new_token()
        recipient = target.email if target is not None and target.email else "nobody@invalid"
        record = MailTokenRecord(
            id=token_id(token),
            purpose=RESET,
            user_id=target.id if target is not None else None,
            email=recipient,
            created_at=now,
            expires_at=now + self._reset_ttl,
        )
        mail = self._mails.compose(
            "password_reset",
            target or _NOBODY,
            recipient,
            now,
            record.expires_at,
            link=self._mails.link("reset", token),
        )
        why = (
            "mailed"
            if target is not None
            else "throttled"
            if can_take
            else "no such account, no address or disabled"
        )
        event = Event(
            "password_reset_requested",
            now,
            user_id=user.id if user is not None else None,
            username=(username if username is not None else email),
            client=client,
            detail=why,
        )
        await self._tokens.issue(
            record, mail if target is not None else None, [event.audit_record()]
        )
        await self._events.publish(event)

    async def _find(self, email: str | None, username: str | None) -> UserRecord | None:
        if email is not None:
            # The account that verified it; else the one account that has it unverified
            # (the reset then verifies it). Several unverified ones: none (whose is it?).
            found = await self._users.by_email_key(email_key(email))
            if found and (found[0].email_verified or len(found) == 1):
                return found[0]
            return None
        if username is None or not storable(username):
            return None
        return await self._users.by_username_key(username_key(username))

    async def reset(self, token: str, new_password: str, client: ClientInfo) -> None:
        """Set the new password (the same policy as everywhere); every session ends."""
        now = self._clock.now()
        found = await self._tokens.find(token_id(token), RESET, now)
        user = await self._user_of(found)
        new_hash = await self._accounts.new_password_hash(user, new_password)
        # Used up only now, once: of two resets with one link, one sets its password.
        if await self._tokens.consume(token_id(token), RESET, self._clock.now()) is None:
            raise InvalidLink()
        await self._accounts.store_reset(user, new_hash, client)
        assert found is not None
        if user.email is not None and email_key(user.email) == email_key(found.email):
            # Verified by another account meanwhile: the reset still stands.
            with contextlib.suppress(EmailTaken):
                await self._mark_verified(user, user.email, client)

    async def _user_of(self, token: MailTokenRecord | None) -> UserRecord:
        if token is None or token.user_id is None:
            raise InvalidLink()
        user = await self._users.by_id(token.user_id)
        if user is None or user.disabled:
            raise InvalidLink()
        return user

    # --- email verification ----------------------------------------------------------------

    async def after_join(self, user: UserRecord, client: ClientInfo) -> None:
        """A new account with an address: mail it a verification link (if mail is on)."""
        if self._enabled and user.email is not None:
            await self._send_verification(user, user.email, client)

    async def change_email(self, user_id: uuid.UUID, email: str, client: ClientInfo) -> None:
        """A new address, unverified until its link is opened (mailed when mail is on).
        The same address again (verified or not) changes nothing but mails again."""
        user = await self._accounts.get(user_id)
        if user.email is not None and user.email == email and user.email_verified:
            return
        if user.email != email:
            event = Event(
                "email_changed",
                self._clock.now(),
                user_id=user.id,
                username=user.username,
                client=client,
            )
            if not await self._users.set_email(
                user.id, email, email_key(email), [event.audit_record()]
            ):
                raise NotFound("No such user.")
            await self._events.publish(event)
            user = await self._accounts.get(user_id)
        if self._enabled:
            await self._send_verification(user, email, client)

    async def resend(self, user_id: uuid.UUID, client: ClientInfo) -> None:
        """Mail the verification link again (409 when there is nothing to verify)."""
        if not self._enabled:
            raise MailUnavailable()
        user = await self._accounts.get(user_id)
        if user.email is None or user.email_verified:
            raise AlreadyVerified()
        if await self._throttle.mail_allowed("account", str(user.id)):
            await self._send_verification(user, user.email, client)

    async def verify(self, token: str, client: ClientInfo) -> None:
        now = self._clock.now()
        found = await self._tokens.find(token_id(token), VERIFY, now)
        user = await self._user_of(found)
        assert found is not None
        if user.email is None or user.email != found.email:
            raise InvalidLink("This link is for an address the account no longer has.")
        # 409 before the token is spent: verifying it for the other account first, or
        # changing this one's address, leaves the link a meaning.
        taken = [
            u
            for u in await self._users.by_email_key(email_key(found.email))
            if u.id != user.id and u.email_verified
        ]
        if taken:
            raise EmailTaken()
        if await self._tokens.consume(token_id(token), VERIFY, self._clock.now()) is None:
            raise InvalidLink()
        await self._mark_verified(user, found.email, client)

    async def _mark_verified(self, user: UserRecord, email: str, client: ClientInfo) -> None:
        event = Event(
            "email_verified",
            self._clock.now(),
            user_id=user.id,
            username=user.username,
            client=client,
        )
        try:
            changed = await self._users.verify_email(
                user.id, email, event.at, [event.audit_record()]
            )
        except Conflict as exc:
            raise EmailTaken() from exc
        if changed:
            await self._events.publish(event)

    async def _send_verification(self, user: UserRecord, email: str, client: ClientInfo) -> None:
        now = self._clock.now()
        token = new_token()
        record = MailTokenRecord(
            id=token_id(token),
            purpose=VERIFY,
            user_id=user.id,
            email=email,
            created_at=now,
            expires_at=now + self._verify_ttl,
        )
        mail: MailRecord = self._mails.compose(
            "verify_email",
            user,
            email,
            now,
            record.expires_at,
            link=self._mails.link("verify", token),
        )
        event = Event(
            "email_verification_sent", now, user_id=user.id, username=user.username, client=client
        )
        await self._tokens.issue(record, mail, [event.audit_record()])
        await self._events.publish(event)
