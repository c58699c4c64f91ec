"""``/api/v1/clients``: OAuth2 clients (information systems), administrators only.

``POST`` answers the client secret and the callback secret exactly once; neither can be read again.
"""

from __future__ import annotations

import base64
from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from quart import Blueprint
from quart_schema import tag, validate_request, validate_response

from actors.identity import clients
from actors.identity.principal import Role
from edge.auth.context import get_identity
from edge.auth.guard import current_principal, require_role
from storage.repos.identity import ClientRow

blueprint = Blueprint("clients", __name__, url_prefix="/api/v1")


class ClientCreate(BaseModel):
    """A client to register."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200, description="human name of the information system")
    role: Role = Field(Role.USER, description="role of the client's own principal (unbound clients)")
    user_id: UUID | None = Field(None, description="bind to this user: client_credentials tokens act as them")


class ClientOut(BaseModel):
    """A registered client (no secrets)."""

    client_id: str
    name: str
    role: Role
    user_id: UUID | None
    disabled: bool
    created_at: datetime

    @classmethod
    def of(cls, row: ClientRow) -> ClientOut:
        """The public view of a stored client."""
        return cls(
            client_id=row.client_id,
            name=row.name,
            role=Role(row.role),
            user_id=row.user_id,
            disabled=row.disabled,
            created_at=row.created_at,
        )


class ClientCreated(ClientOut):
    """A new client with its secrets, shown this once."""

    client_secret: str = Field(description="authenticates the client at the token endpoint")
    callback_secret: str = Field(description="base64url HMAC key of asynchronous callbacks")


class ClientList(BaseModel):
    """Every client."""

    items: list[ClientOut]


@blueprint.post("/clients")
@tag(["clients"])
@require_role(Role.ADMIN)
@validate_request(ClientCreate)
@validate_response(ClientCreated, 201)
async def create_client(data: ClientCreate) -> tuple[ClientCreated, int, dict[str, str]]:
    """Register an information system; returns its secrets once."""
    issued = await clients.create_client(
        get_identity(), current_principal(), name=data.name, role=data.role, user_id=data.user_id
    )
    created = ClientCreated(
        **ClientOut.of(issued.client).model_dump(),
        client_secret=issued.client_secret,
        callback_secret=base64.urlsafe_b64encode(issued.callback_secret).decode().rstrip("="),
    )
    return created, 201, {"Cache-Control": "no-store"}


@blueprint.get("/clients")
@tag(["clients"])
@require_role(Role.ADMIN)
@validate_response(ClientList)
async def list_clients() -> ClientList:
    """List registered clients."""
    rows = await clients.list_clients(get_identity(), current_principal())
    return ClientList(items=[ClientOut.of(row) for row in rows])
