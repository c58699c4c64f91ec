"""Identity repository: users, OAuth2 clients, login sessions, refresh tokens, revoked access tokens.

Tables come from ``migrations/0002_identity.sql``. Every function is a unit of work (or a step of one)
for ``Database.run``: ``fn(conn, ...)``. Roles travel as plain strings here (``'user'``,
``'operator'``, ``'admin'``); the identity domain (``actors.identity``) owns their meaning.

Every change of token state (a revocation, a user's role or disabled flag) also sends a NOTIFY on
``CHANGES_CHANNEL`` in the same transaction, so per-process caches of ``token_state`` can be cleared.

Refresh-token rotation is one unit (``rotate_refresh_token``) so that the check, the reuse
response and the successor are decided under one row lock: two clients racing with the same token
cannot both win, and the loser is treated as a reuse.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from storage.database import Connection
from storage.errors import NotFoundError

USER_COLUMNS = (
    "id, username, display_name, email, phone, role, password_hash, disabled, created_at, updated_at"
)
CLIENT_COLUMNS = (
    "client_id, name, secret_hash, role, user_id, callback_secret, disabled, created_by, created_at"
)

USER_UPDATABLE = frozenset({"display_name", "email", "phone", "role", "password_hash", "disabled"})
"""Columns ``update_user`` may set."""

CHANGES_CHANNEL = "klyuch_identity_changed"
"""NOTIFY channel announcing that token state (revocations, roles, disabled flags) changed; processes
caching ``token_state`` drop their cache on it. Sent inside the changing transaction: delivered on commit."""


async def notify_changed(conn: Connection) -> None:
    """Announce on ``CHANGES_CHANNEL`` that token state changed (delivered when the unit commits)."""
    await conn.execute("SELECT pg_notify($1, '')", CHANGES_CHANNEL)


# --- users ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UserRow:
    """One ``users`` row."""

    id: UUID
    """Primary key; other tables reference it."""
    username: str
    """Login name as entered (unique regardless of case)."""
    display_name: str | None
    """Human name."""
    email: str | None
    """Contact e-mail."""
    phone: str | None
    """Contact phone."""
    role: str
    """``user``, ``operator`` or ``admin``."""
    password_hash: str | None
    """argon2id PHC string; None when the account has no password."""
    disabled: bool
    """A disabled account cannot log in and its tokens stop working."""
    created_at: datetime
    """Creation time."""
    updated_at: datetime
    """Last change of a user-visible field."""


@dataclass(frozen=True, slots=True)
class NewUser:
    """The fields of a user to insert."""

    username: str
    """Login name."""
    role: str
    """Initial role."""
    password_hash: str | None = None
    """argon2id hash, or None for an account without password login."""
    display_name: str | None = None
    """Human name."""
    email: str | None = None
    """Contact e-mail."""
    phone: str | None = None
    """Contact phone."""


async def insert_user(conn: Connection, user: NewUser) -> UserRow:
    """Insert a user; a taken username (any case) raises ``ConflictError`` from ``Database.run``."""
    row = await conn.fetchrow(
        f"""INSERT INTO users (username, display_name, email, phone, role, password_hash)
            VALUES ($1, $2, $3, $4, $5, $6) RETURNING {USER_COLUMNS}""",
        user.username,
        user.display_name,
        user.email,
        user.phone,
        user.role,
        user.password_hash,
    )
    return _user(row)


async def get_user(conn: Connection, user_id: UUID) -> UserRow:
    """The user with ``user_id``; ``NotFoundError`` when there is none."""
    row = await conn.fetchrow(f"SELECT {USER_COLUMNS} FROM users WHERE id = $1", user_id)
    if row is None:
        raise NotFoundError(f"user {user_id} not found")
    return _user(row)


async def find_user(conn: Connection, username: str) -> UserRow | None:
    """The user whose username equals ``username`` ignoring case, if any."""
    row = await conn.fetchrow(f"SELECT {USER_COLUMNS} FROM users WHERE lower(username) = lower($1)", username)
    return None if row is None else _user(row)


async def list_users(conn: Connection, *, limit: int, after: str | None = None) -> list[UserRow]:
    """Up to ``limit`` users ordered by lower-cased username, starting after the name ``after``."""
    rows = await conn.fetch(
        f"""SELECT {USER_COLUMNS} FROM users
            WHERE $2::text IS NULL OR lower(username) > lower($2)
            ORDER BY lower(username) LIMIT $1""",
        limit,
        after,
    )
    return [_user(row) for row in rows]


async def update_user(conn: Connection, user_id: UUID, changes: Mapping[str, object]) -> UserRow:
    """Set the given columns (names from ``USER_UPDATABLE``) and ``updated_at``; return the new row."""
    unknown = set(changes) - USER_UPDATABLE
    if unknown:
        raise ValueError(f"not updatable: {', '.join(sorted(unknown))}")
    if not changes:
        return await get_user(conn, user_id)
    columns = sorted(changes)
    # Column names come from the fixed USER_UPDATABLE set above, never from the caller's text.
    assignments = ", ".join(f"{column} = ${index}" for index, column in enumerate(columns, start=2))
    row = await conn.fetchrow(
        f"UPDATE users SET {assignments}, updated_at = now() WHERE id = $1 RETURNING {USER_COLUMNS}",
        user_id,
        *(changes[column] for column in columns),
    )
    if row is None:
        raise NotFoundError(f"user {user_id} not found")
    await notify_changed(conn)
    return _user(row)


async def replace_password_hash(conn: Connection, user_id: UUID, *, old: str, new: str) -> bool:
    """Swap a hash for a rehash of the same password, unless it changed meanwhile; True if swapped."""
    status: str = await conn.execute(
        "UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2", user_id, old, new
    )
    return status.endswith(" 1")


def _user(row: asyncpg.Record | None) -> UserRow:
    assert row is not None  # INSERT/UPDATE ... RETURNING of an existing row
    return UserRow(**dict(row))


# --- OAuth2 clients ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientRow:
    """One ``oauth_clients`` row."""

    client_id: str
    """Public identifier."""
    name: str
    """Human name of the information system."""
    secret_hash: bytes
    """SHA-256 of the client secret."""
    role: str
    """Role of the client's own principal (when not bound to a user)."""
    user_id: UUID | None
    """Bound user: ``client_credentials`` tokens then act as this user."""
    callback_secret: bytes
    """Sealed HMAC key for asynchronous callbacks (``actors.identity.sealing``)."""
    disabled: bool
    """A disabled client cannot authenticate and its tokens stop working."""
    created_by: UUID | None
    """The administrator who created it (None from the command line)."""
    created_at: datetime
    """Creation time."""


@dataclass(frozen=True, slots=True)
class NewClient:
    """The fields of a client to insert."""

    client_id: str
    """Public identifier."""
    name: str
    """Human name."""
    secret_hash: bytes
    """SHA-256 of the secret."""
    role: str
    """Role of the client's own principal."""
    callback_secret: bytes
    """Sealed callback HMAC key."""
    user_id: UUID | None = None
    """Bound user, if any."""
    created_by: UUID | None = None
    """Creating administrator."""


async def insert_client(conn: Connection, client: NewClient) -> ClientRow:
    """Insert a client; ``IntegrityError`` from ``Database.run`` when the bound user does not exist."""
    row = await conn.fetchrow(
        f"""INSERT INTO oauth_clients
                (client_id, name, secret_hash, role, user_id, callback_secret, created_by)
            VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {CLIENT_COLUMNS}""",
        client.client_id,
        client.name,
        client.secret_hash,
        client.role,
        client.user_id,
        client.callback_secret,
        client.created_by,
    )
    assert row is not None
    return ClientRow(**dict(row))


async def get_client(conn: Connection, client_id: str) -> ClientRow | None:
    """The client with ``client_id``, if any."""
    row = await conn.fetchrow(f"SELECT {CLIENT_COLUMNS} FROM oauth_clients WHERE client_id = $1", client_id)
    return None if row is None else ClientRow(**dict(row))


async def list_clients(conn: Connection) -> list[ClientRow]:
    """Every client, oldest first."""
    rows = await conn.fetch(f"SELECT {CLIENT_COLUMNS} FROM oauth_clients ORDER BY created_at, client_id")
    return [ClientRow(**dict(row)) for row in rows]


# --- sessions and refresh tokens -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewRefreshToken:
    """A refresh token to store (only its hash is kept)."""

    token_hash: bytes
    """SHA-256 of the token."""
    expires_at: datetime
    """Expiry."""


async def create_session(
    conn: Connection,
    *,
    user_id: UUID | None,
    client_id: str | None,
    grant_type: str,
    expires_at: datetime,
    refresh: NewRefreshToken | None = None,
) -> UUID:
    """Open a session (and the first refresh token of its family); return the session id."""
    session_id: UUID = await conn.fetchval(
        """INSERT INTO auth_sessions (user_id, client_id, grant_type, expires_at)
           VALUES ($1, $2, $3, $4) RETURNING id""",
        user_id,
        client_id,
        grant_type,
        expires_at,
    )
    if refresh is not None:
        await conn.execute(
            "INSERT INTO refresh_tokens (family_id, token_hash, expires_at) VALUES ($1, $2, $3)",
            session_id,
            refresh.token_hash,
            refresh.expires_at,
        )
    return session_id


class RotationOutcome(enum.Enum):
    """What ``rotate_refresh_token`` decided."""

    ROTATED = "rotated"
    """The token was valid: it is now used and its successor stored."""
    UNKNOWN = "unknown"
    """No such token (never issued, or purged)."""
    WRONG_CLIENT = "wrong_client"
    """The token was issued to another client (or to none); nothing changed."""
    REUSED = "reused"
    """The token was already used: its whole family (session) is now revoked."""
    REVOKED = "revoked"
    """The token or its session was revoked."""
    EXPIRED = "expired"
    """The token expired."""
    DISABLED = "disabled"
    """The user or the client is disabled."""


@dataclass(frozen=True, slots=True)
class Rotation:
    """The result of ``rotate_refresh_token``."""

    outcome: RotationOutcome
    """The decision."""
    session_id: UUID | None = None
    """The token's session (family), when the token exists."""
    user_id: UUID | None = None
    """The session's user."""
    client_id: str | None = None
    """The session's client."""
    role: str | None = None
    """The user's current role."""


_ROTATION_ROW = """
SELECT rt.id, rt.family_id, rt.expires_at, rt.used_at, rt.revoked_at,
       s.user_id, s.client_id, s.revoked_at AS session_revoked_at,
       u.role, u.disabled AS user_disabled, coalesce(c.disabled, false) AS client_disabled
  FROM refresh_tokens rt
  JOIN auth_sessions s ON s.id = rt.family_id
  JOIN users u ON u.id = s.user_id
  LEFT JOIN oauth_clients c ON c.client_id = s.client_id
 WHERE rt.token_hash = $1
   FOR UPDATE OF rt, s
"""


async def rotate_refresh_token(
    conn: Connection,
    *,
    token_hash: bytes,
    client_id: str | None,
    successor: NewRefreshToken,
    now: datetime,
) -> Rotation:
    """Use the refresh token with ``token_hash`` as ``client_id`` and store ``successor`` in its family.

    Must run as its own unit of work: a reuse commits the family's revocation and returns
    ``REUSED`` (raising would roll the revocation back).
    """
    row = await conn.fetchrow(_ROTATION_ROW, token_hash)
    if row is None:
        return Rotation(RotationOutcome.UNKNOWN)
    session_id: UUID = row["family_id"]
    found = {"session_id": session_id, "user_id": row["user_id"], "client_id": row["client_id"]}
    if row["client_id"] != client_id:
        return Rotation(RotationOutcome.WRONG_CLIENT, **found)
    if row["used_at"] is not None:
        await revoke_session(conn, session_id, reason="refresh_token_reuse", now=now)
        return Rotation(RotationOutcome.REUSED, **found)
    if row["revoked_at"] is not None or row["session_revoked_at"] is not None:
        return Rotation(RotationOutcome.REVOKED, **found)
    if row["expires_at"] <= now:
        return Rotation(RotationOutcome.EXPIRED, **found)
    if row["user_disabled"] or row["client_disabled"]:
        return Rotation(RotationOutcome.DISABLED, **found)
    successor_id = await conn.fetchval(
        "INSERT INTO refresh_tokens (family_id, token_hash, expires_at) VALUES ($1, $2, $3) RETURNING id",
        session_id,
        successor.token_hash,
        successor.expires_at,
    )
    await conn.execute(
        "UPDATE refresh_tokens SET used_at = $2, replaced_by = $3 WHERE id = $1", row["id"], now, successor_id
    )
    await conn.execute(
        "UPDATE auth_sessions SET expires_at = greatest(expires_at, $2) WHERE id = $1",
        session_id,
        successor.expires_at,
    )
    return Rotation(RotationOutcome.ROTATED, role=row["role"], **found)


@dataclass(frozen=True, slots=True)
class RefreshTokenInfo:
    """Who a refresh token belongs to (for revocation)."""

    session_id: UUID
    """Its family."""
    user_id: UUID | None
    """The session's user."""
    client_id: str | None
    """The client it was issued to."""


async def find_refresh_token(conn: Connection, token_hash: bytes) -> RefreshTokenInfo | None:
    """The owner of the refresh token with ``token_hash``, if it exists."""
    row = await conn.fetchrow(
        """SELECT s.id, s.user_id, s.client_id FROM refresh_tokens rt
             JOIN auth_sessions s ON s.id = rt.family_id WHERE rt.token_hash = $1""",
        token_hash,
    )
    return None if row is None else RefreshTokenInfo(row["id"], row["user_id"], row["client_id"])


async def revoke_session(conn: Connection, session_id: UUID, *, reason: str, now: datetime) -> bool:
    """Revoke a session and its refresh tokens; True when it was live until now."""
    status: str = await conn.execute(
        """UPDATE auth_sessions SET revoked_at = $2, revoke_reason = $3
            WHERE id = $1 AND revoked_at IS NULL""",
        session_id,
        now,
        reason,
    )
    await conn.execute(
        "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL",
        session_id,
        now,
    )
    await notify_changed(conn)
    return status.endswith(" 1")


async def revoke_user_sessions(
    conn: Connection, user_id: UUID, *, reason: str, now: datetime, keep: UUID | None = None
) -> int:
    """Revoke every live session of ``user_id`` (except ``keep``); return how many were revoked."""
    ids = await conn.fetch(
        """UPDATE auth_sessions SET revoked_at = $2, revoke_reason = $3
            WHERE user_id = $1 AND revoked_at IS NULL AND ($4::uuid IS NULL OR id <> $4)
        RETURNING id""",
        user_id,
        now,
        reason,
        keep,
    )
    if ids:
        await conn.execute(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = ANY($1) AND revoked_at IS NULL",
            [r["id"] for r in ids],
            now,
        )
        await notify_changed(conn)
    return len(ids)


async def revoke_access_token(conn: Connection, jti: UUID, *, expires_at: datetime) -> None:
    """Record one access token as revoked until it expires (idempotent)."""
    await conn.execute(
        "INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING",
        jti,
        expires_at,
    )
    await notify_changed(conn)


# --- per-request check ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenState:
    """What the database says about an access token's session, account and revocation."""

    session_revoked: bool
    """The session was revoked (logout, reuse, password change, disabling)."""
    token_revoked: bool
    """This very token (jti) was revoked."""
    user_id: UUID | None
    """The session's user."""
    user_role: str | None
    """The user's current role."""
    user_disabled: bool
    """The user is disabled."""
    client_id: str | None
    """The session's client."""
    client_role: str | None
    """The client's role (its own principal's role when it has no user)."""
    client_disabled: bool
    """The client is disabled."""


_TOKEN_STATE = """
SELECT s.revoked_at IS NOT NULL AS session_revoked,
       EXISTS (SELECT 1 FROM revoked_access_tokens r WHERE r.jti = $2) AS token_revoked,
       s.user_id, u.role AS user_role, coalesce(u.disabled, false) AS user_disabled,
       s.client_id, c.role AS client_role, coalesce(c.disabled, false) AS client_disabled
  FROM auth_sessions s
  LEFT JOIN users u ON u.id = s.user_id
  LEFT JOIN oauth_clients c ON c.client_id = s.client_id
 WHERE s.id = $1
"""


async def token_state(conn: Connection, session_id: UUID, jti: UUID) -> TokenState | None:
    """The state of the access token ``jti`` of session ``session_id``; None when the session is gone."""
    row = await conn.fetchrow(_TOKEN_STATE, session_id, jti)
    return None if row is None else TokenState(**dict(row))


async def purge_expired(conn: Connection, *, before: datetime) -> int:
    """Delete sessions (with their refresh tokens) and revocation rows that expired before ``before``."""
    revoked: str = await conn.execute("DELETE FROM revoked_access_tokens WHERE expires_at < $1", before)
    sessions: str = await conn.execute("DELETE FROM auth_sessions WHERE expires_at < $1", before)
    return int(revoked.rsplit(" ", 1)[1]) + int(sessions.rsplit(" ", 1)[1])
