"""User accounts: create, read, list, change — with the rules of who may do what.

* A user reads and edits their own profile and password (the current password is required).
* An operator reads every account and manages accounts with role ``user`` (profile, disabling,
  password reset); it cannot create or touch operators and administrators, nor change roles.
* An administrator may do everything except change their own role or disable themselves (so the
  last administrator cannot lock everyone out by accident).
* ``actor`` None is the local command line (``klyuch admin create``), which may do everything.

Someone else's account is answered like a missing one (``NotOwnerError``, same words as the
repository's ``NotFoundError``). A password change or disabling revokes the account's sessions (a
self-service password change keeps the caller's own session).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from uuid import UUID

from actors.identity.audit import audit
from actors.identity.errors import (
    InvalidAccountError,
    NotOwnerError,
    PasswordPolicyError,
    PermissionDeniedError,
    TooManyAttemptsError,
    UsernameTakenError,
)
from actors.identity.passwords import check_password_policy
from actors.identity.principal import Principal, Role
from actors.identity.service import Identity
from actors.identity.throttle import user_key
from storage.database import Connection
from storage.errors import ConflictError
from storage.repos import identity as repo

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$"
"""Accepted usernames (the same rule as the ``users`` CHECK constraint)."""
_USERNAME = re.compile(USERNAME_PATTERN)


class Unset(enum.Enum):
    """Marker of a field an ``AccountChanges`` leaves alone."""

    UNSET = "unset"


UNSET = Unset.UNSET


@dataclass(frozen=True, slots=True)
class NewAccount:
    """An account to create."""

    username: str
    """Login name (``USERNAME_PATTERN``)."""
    role: Role = Role.USER
    """Initial role."""
    password: str | None = None
    """Initial password (policy-checked); None for an account that cannot log in yet."""
    display_name: str | None = None
    """Human name."""
    email: str | None = None
    """Contact e-mail."""
    phone: str | None = None
    """Contact phone."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountChanges:
    """Changes to an account; ``UNSET`` fields stay as they are."""

    display_name: str | Unset | None = UNSET
    """New human name (None clears it)."""
    email: str | Unset | None = UNSET
    """New e-mail (None clears it)."""
    phone: str | Unset | None = UNSET
    """New phone (None clears it)."""
    role: Role | Unset = UNSET
    """New role (administrators only)."""
    disabled: bool | Unset = UNSET
    """Disable or enable the account (operators and administrators)."""
    password: str | Unset = UNSET
    """New password."""
    current_password: str | None = None
    """The caller's current password, required when changing one's own password."""


def check_username(username: str) -> None:
    """Raise ``InvalidAccountError`` unless ``username`` matches ``USERNAME_PATTERN``."""
    if not _USERNAME.match(username):
        raise InvalidAccountError(
            "a username is 1-64 characters: letters, digits and . _ @ + -, starting with a letter or digit"
        )


async def create_account(identity: Identity, actor: Principal | None, new: NewAccount) -> repo.UserRow:
    """Create an account; operators create users, administrators anyone."""
    if actor is not None:
        if not actor.has_role(Role.OPERATOR):
            raise PermissionDeniedError("only operators and administrators create accounts")
        if new.role is not Role.USER and not actor.has_role(Role.ADMIN):
            raise PermissionDeniedError("only an administrator creates operators and administrators")
    check_username(new.username)
    password_hash = None
    if new.password is not None:
        check_password_policy(new.password, username=new.username, settings=identity.settings)
        password_hash = await identity.hasher.hash(new.password)
    row = repo.NewUser(
        username=new.username,
        role=new.role.value,
        password_hash=password_hash,
        display_name=new.display_name,
        email=new.email,
        phone=new.phone,
    )
    try:
        user = await identity.db.run(repo.insert_user, row)
    except ConflictError:
        raise UsernameTakenError(f"the username {new.username!r} is taken") from None
    audit(
        "audit_user_created",
        user_id=str(user.id),
        username=user.username,
        role=user.role,
        by_user_id=_actor_id(actor),
    )
    return user


async def get_account(identity: Identity, actor: Principal, user_id: UUID) -> repo.UserRow:
    """An account: one's own, or any for operators and administrators."""
    if not (actor.owns(user_id) or actor.has_role(Role.OPERATOR)):
        raise NotOwnerError(f"user {user_id} not found")
    return await identity.db.run_readonly(repo.get_user, user_id)


async def list_accounts(
    identity: Identity, actor: Principal, *, limit: int, after: str | None = None
) -> list[repo.UserRow]:
    """A page of accounts ordered by username; operators and administrators only."""
    if not actor.has_role(Role.OPERATOR):
        raise PermissionDeniedError("only operators and administrators list accounts")
    return await identity.db.run_readonly(_list, limit, after)


async def _list(conn: Connection, limit: int, after: str | None) -> list[repo.UserRow]:
    return await repo.list_users(conn, limit=limit, after=after)


async def update_account(
    identity: Identity, actor: Principal | None, user_id: UUID, changes: AccountChanges
) -> repo.UserRow:
    """Apply ``changes`` to an account after checking the actor may make each of them."""
    if actor is not None and not (actor.owns(user_id) or actor.has_role(Role.OPERATOR)):
        raise NotOwnerError(f"user {user_id} not found")
    target = await identity.db.run_readonly(repo.get_user, user_id)
    _authorize_update(actor, target, changes)
    values: dict[str, object] = {
        name: value
        for name in ("display_name", "email", "phone", "disabled")
        if (value := getattr(changes, name)) is not UNSET
    }
    if not isinstance(changes.role, Unset):
        values["role"] = changes.role.value
    if not isinstance(changes.password, Unset):
        await _check_new_password(identity, actor, target, changes)
        values["password_hash"] = await identity.hasher.hash(changes.password)
    kill_sessions = "password_hash" in values or values.get("disabled") is True
    keep = actor.session_id if actor is not None and actor.owns(user_id) else None
    now = identity.now()

    async def apply(conn: Connection) -> repo.UserRow:
        updated = await repo.update_user(conn, user_id, values)
        if kill_sessions:
            reason = "password_changed" if "password_hash" in values else "disabled"
            await repo.revoke_user_sessions(conn, user_id, reason=reason, now=now, keep=keep)
        return updated

    updated = await identity.db.run(apply)
    identity.state_cache.clear()  # roles and disabled flags are part of the cached token state
    audit(
        "audit_user_updated",
        user_id=str(user_id),
        fields=sorted("password" if name == "password_hash" else name for name in values),
        by_user_id=_actor_id(actor),
    )
    return updated


def _authorize_update(actor: Principal | None, target: repo.UserRow, changes: AccountChanges) -> None:
    if actor is None:
        return
    own = actor.owns(target.id)
    if not own and not actor.has_role(Role.ADMIN) and target.role != Role.USER.value:
        raise PermissionDeniedError("operators manage only accounts with role 'user'")
    if not isinstance(changes.role, Unset) and changes.role.value != target.role:
        if not actor.has_role(Role.ADMIN):
            raise PermissionDeniedError("only an administrator changes roles")
        if own:
            raise PermissionDeniedError("administrators cannot change their own role")
    if not isinstance(changes.disabled, Unset) and changes.disabled != target.disabled:
        if own:
            raise PermissionDeniedError("you cannot disable or enable your own account")
        if not actor.has_role(Role.OPERATOR):
            raise PermissionDeniedError("only operators and administrators disable accounts")


async def _check_new_password(
    identity: Identity, actor: Principal | None, target: repo.UserRow, changes: AccountChanges
) -> None:
    assert not isinstance(changes.password, Unset)
    check_password_policy(changes.password, username=target.username, settings=identity.settings)
    if actor is None or not actor.owns(target.id):
        return  # a reset by an operator, an administrator or the command line
    current = changes.current_password
    if current is None or target.password_hash is None:
        raise PasswordPolicyError("changing your own password needs current_password")
    # A stolen access token must not become a password oracle: count failures like logins.
    keys = [user_key(target.username)]
    wait = await identity.throttle.retry_after(keys)
    if wait is not None:
        raise TooManyAttemptsError("too many wrong passwords; try again later", retry_after_s=wait)
    if not await identity.hasher.verify(target.password_hash, current):
        await identity.throttle.record_failure(keys)
        audit("audit_password_change_failed", user_id=str(target.id), reason="bad_current_password")
        raise PermissionDeniedError("current_password is wrong")


def _actor_id(actor: Principal | None) -> str | None:
    if actor is None:
        return "command_line"
    return str(actor.user_id) if actor.user_id else actor.client_id
