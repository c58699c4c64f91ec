"""``/api/v1/operations`` and ``/api/v1/verify``.

* ``POST /operations`` — create a signing operation (an item with ``signature`` co-signs that
  existing CMS: ``actors.operations.cosign``). Answers:

  - **201 Created** with the finished operation (``completed`` or ``failed``, per-item results) when
    it needs no confirmation and no ``callback_url`` was given: it is signed at once and stored
    finished before the answer (``actors.operations.direct``);
  - **202 Accepted** with the operation as created (``awaiting_confirmation``, or ``executing`` in
    asynchronous mode with a ``callback_url``): poll ``Location`` or wait for the callback.
* ``GET /operations/{id}`` — state and per-item results (one's own; operators any).
* ``GET /operations`` — one's own operations, newest first, ``limit`` + opaque ``cursor``; no items.
* ``DELETE /operations/{id}`` — delete the operation and its results (204); one awaiting
  confirmation is cancelled and taken off the devices; one being signed answers 409, try again.
* ``POST /verify`` — a raw or CAdES-BES signature → the validation report (200 whatever the verdict).

Someone else's operation answers exactly like a missing one (404). The domain is
``actors.operations``; this module only speaks HTTP.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from uuid import UUID

from quart import Blueprint, Response
from quart_schema import (
    document_request,
    document_response,
    tag,
    validate_querystring,
    validate_request,
    validate_response,
)

from actors.identity.audit import audit, audit_enabled
from actors.identity.principal import Principal
from actors.operations import (
    InvalidOperationError,
    NoUserError,
    OperationsOptions,
    Policy,
    Requester,
    SignItem,
    SignRequest,
    VerifyRequest,
)
from edge.auth import current_principal, ensure_owner
from edge.operations.codec import decode
from edge.operations.context import get_operations
from edge.operations.models import ListQuery, OperationIn, OperationOut, OperationPage, VerifyIn
from edge.operations.wire import json_response, read_model
from signing.cms import ValidationReport

blueprint = Blueprint("operations", __name__, url_prefix="/api/v1")

CMS_OVERHEAD_BYTES = 1024 * 1024
"""What a CMS may carry beyond its document (certificates, attributes) when it is verified."""
CERTIFICATE_LIMIT_BYTES = 64 * 1024
"""Largest certificate accepted in a verification request."""


@blueprint.post("/operations")
@tag(["operations"])
@document_request(OperationIn)
@document_response(OperationOut, 201)
@document_response(OperationOut, 202)
async def create_operation() -> Response:
    """Create a signing operation (raw or CAdES-BES; a batch under one confirmation)."""
    # Read and answered by ``wire`` (the documents above are what it reads and writes): every signing
    # request pays for quart-schema's generic conversions otherwise.
    data = await read_model(OperationIn)
    principal = current_principal()
    requester = _requester(principal)
    service = get_operations()
    request = _sign_request(data, service.options)
    view = await service.create(requester, request)
    op_id = str(view.id)
    if audit_enabled():  # the fields cost ~2 µs to build, for nothing when info is not logged
        audit(
            "audit_operation_created",
            op_id=op_id,
            user_id=str(requester.user_id),
            client_id=requester.client_id,
            items=len(request.items),
            format=request.format.value,
            confirmation=view.row.policy,
        )
    location = {"Location": f"/api/v1/operations/{op_id}"}
    if view.finished_at is not None:  # the synchronous fast path signs before it answers
        return json_response(view, 201, location)
    if view.row.policy == Policy.NONE and view.row.callback_url is None:
        final = await service.wait(view.id)
        if final is not None:
            return json_response(final, 201, location)
    return json_response(view, 202, location)


@blueprint.get("/operations/<uuid:op_id>")
@tag(["operations"])
@validate_response(OperationOut)
async def get_operation(op_id: UUID) -> OperationOut:
    """An operation with its items and their results."""
    view = await get_operations().get(op_id)
    ensure_owner(view.user_id, detail=f"operation {op_id} not found")
    return OperationOut.of(view)


@blueprint.get("/operations")
@tag(["operations"])
@validate_querystring(ListQuery)
@validate_response(OperationPage)
async def list_operations(query_args: ListQuery) -> OperationPage:
    """The caller's operations, newest first (without items)."""
    requester = _requester(current_principal())
    before = _decode_cursor(query_args.cursor) if query_args.cursor else None
    views = await get_operations().list_for(requester.user_id, limit=query_args.limit + 1, before=before)
    page = views[: query_args.limit]
    more = len(views) > query_args.limit
    return OperationPage(
        items=[OperationOut.of(view) for view in page],
        next_cursor=_encode_cursor(page[-1].row.created_at, page[-1].id) if more else None,
    )


@blueprint.delete("/operations/<uuid:op_id>")
@tag(["operations"])
async def delete_operation(op_id: UUID) -> tuple[str, int]:
    """Delete an operation and its results; a pending one is cancelled."""
    service = get_operations()
    row = await service.find(op_id)
    ensure_owner(row.user_id, detail=f"operation {op_id} not found")
    state = await service.delete(op_id)
    principal = current_principal()
    audit(
        "audit_operation_deleted",
        op_id=str(op_id),
        user_id=str(principal.user_id) if principal.user_id else None,
        client_id=principal.client_id,
        cancelled=state.live,
        state=state.value,
    )
    return "", 204


@blueprint.post("/verify")
@tag(["operations"])
@validate_request(VerifyIn)
@validate_response(ValidationReport)
async def verify_signature(data: VerifyIn) -> ValidationReport:
    """Verify a raw or CAdES-BES signature against this deployment's trust anchors."""
    service = get_operations()
    limit = service.options.max_document_bytes
    request = VerifyRequest(
        format=data.format,
        signature=decode(data.signature, "signature", limit=limit + CMS_OVERHEAD_BYTES),
        content=None if data.content is None else decode(data.content, "content", limit=limit),
        hash=None if data.hash is None else decode(data.hash, "hash", limit=64),
        certificate=None
        if data.certificate is None
        else decode(data.certificate, "certificate", limit=CERTIFICATE_LIMIT_BYTES),
        certificates=tuple(
            decode(text, f"certificates.{i}", limit=CERTIFICATE_LIMIT_BYTES)
            for i, text in enumerate(data.certificates)
        ),
    )
    return await service.verify(request)


# --- helpers ---------------------------------------------------------------------------------------


def _requester(principal: Principal) -> Requester:
    if principal.user_id is None:
        raise NoUserError("this access token acts for no user account: operations sign with a user's keys")
    return Requester(user_id=principal.user_id, client_id=principal.client_id)


def _sign_request(data: OperationIn, options: OperationsOptions) -> SignRequest:
    if len(data.items) > options.max_items:
        raise InvalidOperationError("items", f"an operation has at most {options.max_items} items")
    limit = options.max_document_bytes
    cms_limit = options.max_cms_bytes
    items = tuple(
        SignItem(
            name=item.name,
            content=None if item.content is None else decode(item.content, f"items.{i}.content", limit=limit),
            hash=None if item.hash is None else decode(item.hash, f"items.{i}.hash", limit=64),
            signature=None
            if item.signature is None
            else decode(item.signature, f"items.{i}.signature", limit=cms_limit),
        )
        for i, item in enumerate(data.items)
    )
    return SignRequest(
        format=data.format,  # already a Format: pydantic made it one
        items=items,
        detached=data.detached,
        certificate_id=data.certificate_id,
        callback_url=data.callback_url,
        confirmation=data.confirmation,
    )


def _encode_cursor(created_at: datetime, op_id: UUID) -> str:
    raw = f"{created_at.isoformat()}|{op_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, _, op_id = text.partition("|")
        moment, ident = datetime.fromisoformat(created), UUID(op_id)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidOperationError("cursor", "not a cursor this API returned") from exc
    if moment.tzinfo is None:
        raise InvalidOperationError("cursor", "not a cursor this API returned")
    return moment, ident
