"""The JSON shapes of ``/api/v1/operations`` and ``/api/v1/verify`` (pydantic → OpenAPI).

Binary values travel as standard base64 (RFC 4648 §4, with padding). Requests keep them as text
here; ``edge.operations.codec`` decodes them against the configured limits, naming the field of
any failure.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from actors.operations import Format, InputKind, ItemView, OperationView, Policy, State

Base64 = str
"""Standard base64 text (alphabet, length and limits are checked when decoding: ``codec``)."""

_REQUEST = ConfigDict(extra="forbid", frozen=True)

ItemStatus = Literal["pending", "signed", "failed", "skipped"]
"""Where an item stands."""


class ItemIn(BaseModel):
    """One document to sign: the content, or its hash (the certificate's digest algorithm); or an
    existing CMS to co-sign (``cades-bes``), with the document or its hash when it is detached."""

    model_config = _REQUEST

    name: str = Field(min_length=1, max_length=255, description="document name, shown on devices")
    content: Base64 | None = Field(None, description="the document, base64")
    hash: Base64 | None = Field(None, description="its digest, base64 (raw or detached signatures only)")
    signature: Base64 | None = Field(
        None,
        description="cades-bes co-signature: an existing CMS (DER or PEM), base64; the result is that CMS "
        "with one more signer. Attached: no content or hash; detached: its document as content or hash "
        "(and the operation's detached: true)",
    )

    @model_validator(mode="after")
    def _one_input(self) -> ItemIn:
        if self.signature is None and (self.content is None) == (self.hash is None):
            raise ValueError("give exactly one of content and hash")
        if self.content is not None and self.hash is not None:
            raise ValueError("give at most one of content and hash")
        return self


class OperationIn(BaseModel):
    """A signing operation to create."""

    model_config = _REQUEST

    type: Literal["sign"] = "sign"
    format: Format
    detached: bool = Field(False, description="cades-bes: leave the content outside the signature")
    certificate_id: UUID | None = Field(None, description="signing certificate; default: the user's default")
    items: list[ItemIn] = Field(min_length=1, description="documents, at most limits.max_batch_items")
    callback_url: Annotated[str, StringConstraints(min_length=1, max_length=2048)] | None = Field(
        None, description="asynchronous mode: the outcome is POSTed here (needs a client token)"
    )
    confirmation: Policy | None = Field(
        None, description="'device' or 'none'; default: 'none' where the policy allows it, else 'device'"
    )


class VerifyIn(BaseModel):
    """A signature to verify."""

    model_config = _REQUEST

    format: Format
    signature: Base64 = Field(min_length=1, description="raw value, or CMS (DER or PEM), base64")
    content: Base64 | None = Field(None, description="the signed document, base64")
    hash: Base64 | None = Field(None, description="its digest, base64")
    certificate: Base64 | None = Field(None, description="raw: the signer's certificate (DER or PEM), base64")
    certificates: list[Base64] = Field(default_factory=list, max_length=20, description="intermediate CAs")

    @model_validator(mode="after")
    def _not_both(self) -> VerifyIn:
        if self.content is not None and self.hash is not None:
            raise ValueError("give either the content or its hash, not both")
        return self


class ProblemOut(BaseModel):
    """Why an operation or an item failed."""

    code: str
    detail: str | None


class ItemOut(BaseModel):
    """One item and its result."""

    index: int
    name: str
    input: InputKind
    digest: str = Field(description="document digest, base64")
    status: ItemStatus = Field(
        description="pending while the operation is live; skipped when it ended unsigned (declined, expired)"
    )
    signature: str | None = Field(
        description="raw signature value or DER CMS (a co-signature: the whole co-signed CMS), base64"
    )
    error: ProblemOut | None

    @classmethod
    def of(cls, item: ItemView, *, finished: bool) -> ItemOut:
        """The JSON view of an item of an operation that is ``finished`` or not."""
        status: ItemStatus = (
            "signed"
            if item.result is not None
            else "failed"
            if item.error_code is not None
            else "skipped"
            if finished
            else "pending"
        )
        return cls(
            index=item.index,
            name=item.name,
            input=item.input,
            digest=_b64(item.digest),
            status=status,
            signature=None if item.result is None else _b64(item.result),
            error=None
            if item.error_code is None
            else ProblemOut(code=item.error_code, detail=item.error_detail),
        )


class OperationOut(BaseModel):
    """An operation: state, timings and (except in listings) its items with results."""

    id: UUID
    type: Literal["sign"]
    format: Format
    detached: bool
    certificate_id: UUID
    digest_algorithm: str
    state: State
    confirmation: Policy
    callback_url: str | None
    item_count: int
    created_at: datetime
    updated_at: datetime
    expires_at: datetime = Field(description="end of the confirmation window")
    decided_at: datetime | None
    decided_by_device: UUID | None
    finished_at: datetime | None
    results_expire_at: datetime | None = Field(description="when the operation and its results are deleted")
    error: ProblemOut | None
    items: list[ItemOut] | None = Field(description="omitted (null) in listings")

    @classmethod
    def of(cls, view: OperationView) -> OperationOut:
        """The JSON view of an operation."""
        row = view.row
        return cls(
            id=row.id,
            type="sign",
            format=Format(row.format),
            detached=row.detached,
            certificate_id=row.certificate_id,
            digest_algorithm=row.digest_algorithm,
            state=State(row.state),
            confirmation=Policy(row.policy),
            callback_url=row.callback_url,
            item_count=row.item_count,
            created_at=row.created_at,
            updated_at=row.updated_at,
            expires_at=row.expires_at,
            decided_at=row.decided_at,
            decided_by_device=row.decided_by_device,
            finished_at=row.finished_at,
            results_expire_at=row.retain_until,
            error=None if row.error is None else ProblemOut(code=row.error, detail=row.error_detail),
            items=None
            if view.items is None
            else [ItemOut.of(item, finished=view.state.finished) for item in view.items],
        )


class OperationPage(BaseModel):
    """One page of operations, newest first; pass ``next_cursor`` as ``cursor`` for the next."""

    items: list[OperationOut]
    next_cursor: str | None


class ListQuery(BaseModel):
    """Paging of ``GET /operations``."""

    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = Field(None, max_length=200)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
