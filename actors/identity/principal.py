"""Who is calling: ``Role`` (ordered) and ``Principal`` (the authenticated caller of one request)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from uuid import UUID


class Role(enum.StrEnum):
    """Account roles, each including the rights of the ones before it."""

    USER = "user"
    """Signs with their own keys; sees only their own objects."""
    OPERATOR = "operator"
    """Manages users with role ``user``; sees every user's objects."""
    ADMIN = "admin"
    """Everything, including roles and OAuth2 clients."""

    @property
    def rank(self) -> int:
        """Position in the order user < operator < admin."""
        return _RANKS[self]

    def includes(self, other: Role) -> bool:
        """True when this role has at least the rights of ``other``."""
        return self.rank >= other.rank


_RANKS = {Role.USER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller, as established from a verified, unrevoked access token."""

    user_id: UUID | None
    """The user acting (None for an information system acting as its own principal)."""
    client_id: str | None
    """The OAuth2 client the token was issued to, if any."""
    role: Role
    """Current role (read from the database, not trusted from the token)."""
    token_id: UUID
    """The access token's ``jti``."""
    session_id: UUID
    """The session (grant) the token belongs to; revoking it revokes the token."""

    def has_role(self, role: Role) -> bool:
        """True when the principal's role includes ``role``."""
        return self.role.includes(role)

    def owns(self, owner_id: UUID | None) -> bool:
        """True when ``owner_id`` is this principal's user."""
        return self.user_id is not None and self.user_id == owner_id
