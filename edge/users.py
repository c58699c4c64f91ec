"""``/api/v1/users``: accounts, for their owners and for operators.

* ``GET /users/me`` — the caller's own account (any user token).
* ``POST /users`` — create (operators create users; administrators anyone).
* ``GET /users`` — list, ``limit`` + opaque ``cursor`` (operators and administrators).
* ``GET /users/{id}`` — one's own, or any for operators (someone else's answers 404).
* ``PATCH /users/{id}`` — profile fields (owner or operator), ``disabled`` (operator), ``role``
  (administrator), ``password`` (owner with ``current_password``, or a reset by an operator).

Who may do what is decided in ``actors.identity.accounts``; this module only speaks HTTP.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from quart import Blueprint
from quart_schema import tag, validate_querystring, validate_request, validate_response

from actors.identity import accounts
from actors.identity.accounts import USERNAME_PATTERN, AccountChanges, NewAccount
from actors.identity.errors import NotOwnerError
from actors.identity.principal import Role
from edge.auth import current_principal, get_identity, require_role
from edge.errors import BadRequestError
from storage.repos.identity import UserRow

blueprint = Blueprint("users", __name__, url_prefix="/api/v1")

Username = Annotated[str, StringConstraints(pattern=USERNAME_PATTERN)]
DisplayName = Annotated[str, StringConstraints(max_length=200)]
Email = Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]
Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ()-]{3,32}$")]
Password = Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class UserOut(BaseModel):
    """An account as the API shows it (never its password hash)."""

    id: UUID
    username: str
    display_name: str | None
    email: str | None
    phone: str | None
    role: Role
    disabled: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: UserRow) -> UserOut:
        """The public view of a stored account."""
        return cls(
            id=row.id,
            username=row.username,
            display_name=row.display_name,
            email=row.email,
            phone=row.phone,
            role=Role(row.role),
            disabled=row.disabled,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class UserPage(BaseModel):
    """One page of accounts; pass ``next_cursor`` as ``cursor`` for the next one."""

    items: list[UserOut]
    next_cursor: str | None


class UserCreate(BaseModel):
    """An account to create."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: Username
    role: Role = Role.USER
    password: Password | None = Field(None, description="initial password; omit for no password login yet")
    display_name: DisplayName | None = None
    email: Email | None = None
    phone: Phone | None = None


class UserPatch(BaseModel):
    """Changes to an account; omitted fields stay, ``null`` clears a profile field."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    display_name: DisplayName | None = None
    email: Email | None = None
    phone: Phone | None = None
    role: Role | None = Field(None, description="administrators only")
    disabled: bool | None = Field(None, description="operators and administrators")
    password: Password | None = Field(None, description="new password")
    current_password: Password | None = Field(None, description="required to change one's own password")

    @model_validator(mode="after")
    def _no_null_for_settings(self) -> UserPatch:
        for name in ("role", "disabled", "password"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def changes(self) -> AccountChanges:
        """The domain's view of this patch."""
        given = self.model_fields_set
        values: dict[str, Any] = {
            name: getattr(self, name)
            for name in ("display_name", "email", "phone", "role", "disabled", "password")
            if name in given
        }
        return AccountChanges(**values, current_password=self.current_password)


class UserListQuery(BaseModel):
    """Paging of ``GET /users``."""

    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = Field(None, max_length=200)


@blueprint.get("/users/me")
@tag(["users"])
@validate_response(UserOut)
async def me() -> UserOut:
    """The caller's own account."""
    principal = current_principal()
    if principal.user_id is None:
        raise NotOwnerError("no user account is behind this access token")
    return UserOut.of(await accounts.get_account(get_identity(), principal, principal.user_id))


@blueprint.post("/users")
@tag(["users"])
@require_role(Role.OPERATOR)
@validate_request(UserCreate)
@validate_response(UserOut, 201)
async def create_user(data: UserCreate) -> tuple[UserOut, int]:
    """Create an account (operators: role user only)."""
    new = NewAccount(
        username=data.username,
        role=data.role,
        password=data.password,
        display_name=data.display_name,
        email=data.email,
        phone=data.phone,
    )
    return UserOut.of(await accounts.create_account(get_identity(), current_principal(), new)), 201


@blueprint.get("/users")
@tag(["users"])
@require_role(Role.OPERATOR)
@validate_querystring(UserListQuery)
@validate_response(UserPage)
async def list_users(query_args: UserListQuery) -> UserPage:
    """List accounts ordered by username."""
    after = _decode_cursor(query_args.cursor) if query_args.cursor else None
    rows = await accounts.list_accounts(
        get_identity(), current_principal(), limit=query_args.limit + 1, after=after
    )
    page = rows[: query_args.limit]
    more = len(rows) > query_args.limit
    return UserPage(
        items=[UserOut.of(row) for row in page],
        next_cursor=_encode_cursor(page[-1].username) if more else None,
    )


@blueprint.get("/users/<uuid:user_id>")
@tag(["users"])
@validate_response(UserOut)
async def get_user(user_id: UUID) -> UserOut:
    """One account: one's own, or any for operators."""
    return UserOut.of(await accounts.get_account(get_identity(), current_principal(), user_id))


@blueprint.patch("/users/<uuid:user_id>")
@tag(["users"])
@validate_request(UserPatch)
@validate_response(UserOut)
async def update_user(user_id: UUID, data: UserPatch) -> UserOut:
    """Change an account (see the module rules: profile, disabled, role, password)."""
    changes = data.changes()
    row = await accounts.update_account(get_identity(), current_principal(), user_id, changes)
    return UserOut.of(row)


def _encode_cursor(username: str) -> str:
    return base64.urlsafe_b64encode(username.lower().encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    try:
        after = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadRequestError("the cursor is malformed") from None
    if not after:
        raise BadRequestError("the cursor is malformed")
    return after
