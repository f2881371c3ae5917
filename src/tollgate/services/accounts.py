"""Accounts: sign-up, password checks, password changes, deletion and the admin operations."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tollgate.errors import AccountDisabled, InvalidGrant, InvalidInput, NotFound, UsernameTaken
from tollgate.services.audit import Audit
from tollgate.services.grants import NO_CLIENT, ClientInfo
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
from tollgate.store import sessions as session_store
from tollgate.store import users as user_store
from tollgate.store.models import User, utcnow

WRONG_CREDENTIALS = "The username or password is incorrect."
SAME_AS_CURRENT = "The new password must differ from the current one."


class Accounts:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        hasher: PasswordHasher,
        policy: PasswordPolicy,
        default_scope: str,
        audit: Audit,
        reserved: ReservedNames,
        on_revoke: Callable[[], None] = lambda: None,
    ) -> None:
        self._db = sessionmaker
        self._hasher = hasher
        self._policy = policy
        self._default_scope = default_scope
        self._audit = audit
        self._reserved = reserved
        self._on_revoke = on_revoke

    async def join(
        self,
        username: str,
        password: str,
        email: str | None = None,
        scope: str | None = None,
        client: ClientInfo = NO_CLIENT,
        allow_reserved: bool = False,
    ) -> User:
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
        user = User(
            id=uuid.uuid4(),
            username=name.display,
            username_key=name.key,
            username_skeleton=name.skeleton,
            email=email,
            password_hash=password_hash,
            scope=format_scope(parse_scope(scope)) if scope else self._default_scope,
            disabled=False,
        )
        try:
            async with self._db.begin() as db:
                db.add(user)
        except IntegrityError as exc:
            raise UsernameTaken() from exc
        await self._audit.record("joined", user_id=user.id, username=user.username, client=client)
        return user

    async def authenticate(self, username: str, password: str) -> User:
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
        if self._hasher.needs_rehash(user.password_hash):
            new_hash = await self._hasher.hash(password)
            async with self._db.begin() as db:
                await user_store.upgrade_password_hash(db, user.id, user.password_hash, new_hash)
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
        async with self._db.begin() as db:
            await user_store.set_password_hash(db, user.id, new_hash)
            ended = await session_store.revoke_all_for_user(
                db, user.id, "password_changed", utcnow(), keep=current_session
            )
        self._on_revoke()
        await self._audit.record(
            "password_changed",
            user_id=user.id,
            username=user.username,
            session_id=current_session,
            client=client,
            detail=f"{ended} other session(s) ended",
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
        async with self._db.begin() as db:
            await user_store.set_password_hash(db, user.id, new_hash)
            ended = await session_store.revoke_all_for_user(
                db, user.id, "password_changed", utcnow()
            )
        self._on_revoke()
        await self._audit.record(
            "password_set_by_admin",
            user_id=user.id,
            username=user.username,
            detail=f"{ended} session(s) ended",
        )
        return ended

    async def delete_own(self, user_id: uuid.UUID, password: str) -> None:
        """The user deletes their account, proving it with the password again."""
        user = await self.get(user_id)
        if not await self._hasher.verify(user.password_hash, password):
            raise InvalidGrant("The password is incorrect.")
        await self._delete(user, "by the user")

    async def delete(self, username: str) -> User:
        """An operator deletes a user."""
        user = await self.find(username)
        await self._delete(user, "by an operator")
        return user

    async def _delete(self, user: User, by: str) -> None:
        async with self._db.begin() as db:
            if not await user_store.delete_user(db, user.id):
                raise NotFound("No such user.")  # deleted meanwhile
        self._on_revoke()
        # The id only: no name, email, address or user agent outlives the account here.
        # (Earlier events keep what they recorded until `tollgate purge` removes them.)
        await self._audit.record("user_deleted", user_id=user.id, detail=f"deleted {by}")

    async def get(self, user_id: uuid.UUID) -> User:
        async with self._db() as db:
            user = await user_store.by_id(db, user_id)
        if user is None:
            raise NotFound("No such user.")
        return user

    async def _by_name(self, username: str) -> User | None:
        if not storable(username):
            return None
        async with self._db() as db:
            return await user_store.by_username_key(db, username_key(username))

    async def find(self, username: str) -> User:
        user = await self._by_name(username)
        if user is None:
            raise NotFound(f"No user named \u201c{username}\u201d.")
        return user

    async def list(self) -> Sequence[User]:
        async with self._db() as db:
            return await user_store.all_users(db)

    async def set_disabled(self, username: str, disabled: bool) -> User:
        """Disabling also ends every session of the user."""
        user = await self.find(username)
        async with self._db.begin() as db:
            await user_store.update_user(db, user.id, disabled=disabled)
            if disabled:
                await session_store.revoke_all_for_user(db, user.id, "account_disabled", utcnow())
        self._on_revoke()
        await self._audit.record(
            "user_disabled" if disabled else "user_enabled",
            user_id=user.id,
            username=user.username,
        )
        user.disabled = disabled
        return user

    async def set_scope(self, username: str, scope: str) -> User:
        user = await self.find(username)
        normalized = format_scope(parse_scope(scope)) if scope else ""
        async with self._db.begin() as db:
            await user_store.update_user(db, user.id, scope=normalized)
        user.scope = normalized
        return user
