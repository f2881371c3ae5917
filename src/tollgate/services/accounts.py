"""Accounts: sign-up, password checks, password changes, deletion and the admin operations."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace

from tollgate.clock import Clock, SystemClock
from tollgate.errors import (
    AccountDisabled,
    EmailNotVerified,
    InvalidGrant,
    InvalidInput,
    NotFound,
    UsernameTaken,
)
from tollgate.events import NO_CLIENT, AccountChanged, ClientInfo, Event, EventBus
from tollgate.services.email_address import email_key
from tollgate.services.names import (
    RESERVED_RULE,
    ReservedNames,
    normalize_username,
    storable,
    username_key,
)
from tollgate.services.password_policy import PasswordPolicy
from tollgate.services.passwords import PasswordHasher, normalize_password
from tollgate.services.scopes import format_scope, parse_scope
from tollgate.store.interfaces import UserStore
from tollgate.store.records import Conflict, PasswordChange, UserRecord

WRONG_CREDENTIALS = "The username or password is incorrect."
SAME_AS_CURRENT = "The new password must differ from the current one."


@dataclass(eq=False)
class Accounts:
    # What it uses, given by the composition root (services/container.py).
    _users: UserStore
    _hasher: PasswordHasher
    _policy: PasswordPolicy
    _default_scope: str
    _reserved: ReservedNames
    _events: EventBus
    _clock: Clock = field(default_factory=SystemClock)
    # TOLLGATE_REQUIRE_VERIFIED_EMAIL (issue 17): a correct password is not enough.
    require_verified_email: bool = False

    async def join(
        self,
        username: str,
        password: str,
        email: str | None = None,
        scope: str | None = None,
        client: ClientInfo = NO_CLIENT,
        allow_reserved: bool = False,
    ) -> UserRecord:
        """A new account; `allow_reserved` is for the operator's CLI."""
        name = normalize_username(username)
        if not allow_reserved and name in self._reserved:
            raise InvalidInput({"username": RESERVED_RULE})
        self._policy.check(password, username=name.display, email=email)
        # Hash before touching the database: a taken name costs as much as a free one.
        # The unique indexes on username_key and username_skeleton decide races between
        # concurrent sign-ups: a name that only looks like a taken one is taken too, with
        # the same answer, so the answer tells nothing more than "taken".
        password_hash = await self._hasher.hash(password)
        now = self._clock.now()
        user = UserRecord(
            id=uuid.uuid4(),
            username=name.display,
            username_key=name.key,
            username_skeleton=name.skeleton,
            email=email,
            password_hash=password_hash,
            scope=format_scope(parse_scope(scope)) if scope else self._default_scope,
            disabled=False,
            created_at=now,
            password_changed_at=now,
            email_key=email_key(email) if email else None,
        )
        event = Event("joined", now, user_id=user.id, username=user.username, client=client)
        try:
            await self._users.create(user, [event.audit_record()])
        except Conflict as exc:
            raise UsernameTaken() from exc
        await self._events.publish(event)
        return user

    async def authenticate(self, username: str, password: str) -> UserRecord:
        """The user whose password this is; one answer and one cost for every failure."""
        user = await self._by_name(username)
        ok = await self._hasher.verify(user.password_hash if user else None, password)
        if user is None or not ok:
            failure = InvalidGrant(WRONG_CREDENTIALS)
            failure.user_id = user.id if user else None
            raise failure
        # Only someone who knows the password learns that the account is disabled.
        if user.disabled:
            raise AccountDisabled()
        if self.require_verified_email and not user.email_verified:
            raise EmailNotVerified()
        if self._hasher.needs_rehash(user.password_hash):
            new_hash = await self._hasher.hash(password)
            await self._users.upgrade_password_hash(user.id, user.password_hash, new_hash)
        return user

    async def change_password(
        self,
        user_id: uuid.UUID,
        current_session: uuid.UUID,
        current: str,
        new: str,
        client: ClientInfo = NO_CLIENT,
    ) -> None:
        """Set a new password and end every other session of the user."""
        user = await self.get(user_id)
        if not await self._hasher.verify(user.password_hash, current):
            raise InvalidGrant("The current password is incorrect.")
        # A forced change (say, after a leak) must not be satisfied by the same password.
        if normalize_password(new) == normalize_password(current):
            raise InvalidInput({"new_password": SAME_AS_CURRENT})
        self._policy.check(new, username=user.username, email=user.email)
        new_hash = await self._hasher.hash(new)
        await self._store_password(
            user,
            new_hash,
            "password_changed",
            "every other session ended",
            current_session=current_session,
            client=client,
        )

    async def set_password(self, username: str, new: str) -> int:
        """An operator sets a user's password; every session of the user ends.

        Returns how many sessions ended.
        """
        user = await self.find(username)
        self._policy.check(new, username=user.username, email=user.email)
        if await self._hasher.verify(user.password_hash, new):
            raise InvalidInput({"password": SAME_AS_CURRENT})
        new_hash = await self._hasher.hash(new)
        return await self._store_password(
            user, new_hash, "password_set_by_admin", "every session ended"
        )

    async def _store_password(
        self,
        user: UserRecord,
        new_hash: str,
        event_name: str,
        detail: str,
        *,
        current_session: uuid.UUID | None = None,
        client: ClientInfo = NO_CLIENT,
    ) -> int:
        """Store the new hash, ending every session of the user but `current_session` with
        the event's audit row in the same write; publish the event. How many ended."""
        event = AccountChanged(
            event_name,
            self._clock.now(),
            user_id=user.id,
            username=user.username,
            session_id=current_session,
            client=client,
            detail=detail,
        )
        change = PasswordChange(
            user.id,
            new_hash,
            event.at,
            end_sessions="password_changed",
            keep_session=current_session,
            audit=[event.audit_record()],
        )
        ended = await self._users.set_password(change)
        await self._events.publish(event)
        return ended

    async def delete_own(self, user_id: uuid.UUID, password: str) -> None:
        """The user deletes their account, proving it with the password again."""
        user = await self.get(user_id)
        if not await self._hasher.verify(user.password_hash, password):
            raise InvalidGrant("The password is incorrect.")
        await self._delete(user, "by the user")

    async def delete(self, username: str) -> UserRecord:
        """An operator deletes a user."""
        user = await self.find(username)
        await self._delete(user, "by an operator")
        return user

    async def _delete(self, user: UserRecord, by: str) -> None:
        # The id only: no name, email, address or user agent outlives the account here.
        # (Earlier events keep what they recorded until `tollgate purge` removes them.)
        event = AccountChanged(
            "user_deleted", self._clock.now(), user_id=user.id, detail=f"deleted {by}"
        )
        if not await self._users.delete(user.id, [event.audit_record()]):
            raise NotFound("No such user.")  # deleted meanwhile
        await self._events.publish(event)

    async def get(self, user_id: uuid.UUID) -> UserRecord:
        user = await self._users.by_id(user_id)
        if user is None:
            raise NotFound("No such user.")
        return user

    async def _by_name(self, username: str) -> UserRecord | None:
        if not storable(username):
            return None
        user = await self._users.by_username_key(username_key(username))
        if user is None and "@" in username:
            # Issue 17: a verified address names its account too (an unverified one
            # does not: anyone can type anyone's address at sign-up). A username that
            # is an address stays that account's (it was there first).
            user = await self.by_verified_email(username)
        return user

    async def login_key(self, typed: str) -> str:
        """The name that login limits and lockout count a try under: the account's own
        username key when a verified address names it, so that typing the address and
        typing the username share one allowance; else the key of what was typed."""
        key = username_key(typed)
        if "@" in typed and storable(typed) and await self._users.by_username_key(key) is None:
            user = await self.by_verified_email(typed)
            if user is not None:
                return user.username_key
        return key

    async def by_verified_email(self, email: str) -> UserRecord | None:
        found = await self._users.by_email_key(email_key(email))
        return found[0] if found and found[0].email_verified else None

    async def new_password_hash(self, user: UserRecord, new: str) -> str:
        """Issue 17: the policy of every password (422 `new_password`), then the hash."""
        problem = self._policy.problem(new, username=user.username, email=user.email)
        if problem is not None:
            raise InvalidInput({"new_password": problem})
        return await self._hasher.hash(new)

    async def store_reset(self, user: UserRecord, new_hash: str, client: ClientInfo) -> int:
        """A password reset through a mailed link: every session of the user ends."""
        return await self._store_password(
            user, new_hash, "password_reset", "reset by mail; every session ended", client=client
        )

    async def find(self, username: str) -> UserRecord:
        user = await self._by_name(username)
        if user is None:
            raise NotFound(f"No user named \u201c{username}\u201d.")
        return user

    async def list(self) -> list[UserRecord]:
        return await self._users.list()

    async def set_disabled(self, username: str, disabled: bool) -> UserRecord:
        """Disabling also ends every session of the user."""
        user = await self.find(username)
        event = AccountChanged(
            "user_disabled" if disabled else "user_enabled",
            self._clock.now(),
            user_id=user.id,
            username=user.username,
        )
        await self._users.set_disabled(user.id, disabled, event.at, [event.audit_record()])
        await self._events.publish(event)
        return replace(user, disabled=disabled)

    async def set_scope(self, username: str, scope: str) -> UserRecord:
        user = await self.find(username)
        normalized = format_scope(parse_scope(scope)) if scope else ""
        event = Event(
            "scope_set",
            self._clock.now(),
            user_id=user.id,
            username=user.username,
            detail=normalized,
        )
        await self._users.set_scope(user.id, normalized, [event.audit_record()])
        await self._events.publish(event)
        return replace(user, scope=normalized)
