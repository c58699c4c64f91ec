"""The values of the operations layer: states, formats, policies, requests and views.

A request (``SignRequest``) is what the edge decoded from JSON; a view (``OperationView``) is what
it shows back. Both are frozen dataclasses; the stored shape is ``storage.repos.operations``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from storage.repos.operations import ItemRow, OperationRow


class State(enum.StrEnum):
    """The state machine of ARCHITECTURE.md §3."""

    CREATED = "created"
    """Never stored by this code: an insert is already the next transition."""
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    """Shown on the user's devices; waits for a decision until ``expires_at``."""
    CONFIRMED = "confirmed"
    """A device confirmed it; execution is due."""
    EXECUTING = "executing"
    """Being signed by the worker that holds its lease."""
    COMPLETED = "completed"
    """Signed; some items may have failed on their own (see their errors)."""
    FAILED = "failed"
    """Nothing was signed (every item failed, or the operation could not run)."""
    DECLINED = "declined"
    """The user declined on a device."""
    EXPIRED = "expired"
    """No decision before ``expires_at``."""

    @property
    def finished(self) -> bool:
        """True for the final states."""
        return self in FINISHED

    @property
    def live(self) -> bool:
        """True while somebody must drive the operation."""
        return not self.finished


FINISHED = frozenset({State.COMPLETED, State.FAILED, State.DECLINED, State.EXPIRED})
"""Final states."""


class Format(enum.StrEnum):
    """Signature formats an operation produces."""

    RAW = "raw"
    """The bare signature value over the document digest (GOST ``s‖r``, ECDSA DER)."""
    CADES_BES = "cades-bes"
    """CMS SignedData with CAdES-BES signed attributes (attached or detached)."""


class Policy(enum.StrEnum):
    """Whether an operation needs a confirmation."""

    NONE = "none"
    """Executed at once."""
    DEVICE = "device"
    """Confirmed on one of the user's bound devices."""


class InputKind(enum.StrEnum):
    """What the client sent for an item."""

    CONTENT = "content"
    """The document itself."""
    HASH = "hash"
    """Its digest, computed by the client with the certificate's digest algorithm."""
    SIGNATURE = "signature"
    """An existing CMS to co-sign (with the document or its hash when the CMS is detached): the
    result is that CMS with one more SignerInfo (``actors.operations.cosign``)."""


@dataclass(frozen=True, slots=True)
class SignItem:
    """One document to sign, decoded."""

    name: str
    """Document name (shown on devices)."""
    content: bytes | None = None
    """The document, or None when ``hash`` is given."""
    hash: bytes | None = None
    """Its digest, or None when ``content`` is given."""
    signature: bytes | None = None
    """CAdES only: an existing CMS (DER or PEM) to add this signature to; ``content``/``hash`` are
    then the document of a detached CMS (and left out for an attached one)."""


@dataclass(frozen=True, slots=True)
class SignRequest:
    """A signing operation as the caller asks for it."""

    format: Format
    """Output format."""
    items: tuple[SignItem, ...]
    """The documents, in order."""
    detached: bool = False
    """CAdES only: leave the content outside the signature."""
    certificate_id: UUID | None = None
    """Signing certificate; None: the user's default."""
    callback_url: str | None = None
    """Asynchronous mode: where the outcome is announced."""
    confirmation: Policy | None = None
    """Requested policy; None lets the policy choose (see ``actors.operations.policy``)."""


@dataclass(frozen=True, slots=True)
class Requester:
    """Who creates an operation (from the edge's principal)."""

    user_id: UUID
    """The user whose certificate signs."""
    client_id: str | None
    """The OAuth2 client the token was issued to, if any."""


@dataclass(frozen=True, slots=True)
class ItemView:
    """One item as the API shows it."""

    index: int
    """Position (0-based)."""
    name: str
    """Document name."""
    input: InputKind
    """What was sent."""
    digest: bytes
    """The document digest (a co-signature: of the content the existing signers signed)."""
    result: bytes | None
    """The signature (raw value or DER CMS; a co-signature: the whole co-signed CMS) once signed."""
    error_code: str | None
    """Why this item failed."""
    error_detail: str | None
    """Detail of the failure."""

    @classmethod
    def of(cls, row: ItemRow) -> ItemView:
        """The view of a stored item."""
        return cls(
            index=row.idx,
            name=row.name,
            input=InputKind(row.input),
            digest=row.digest,
            result=row.result,
            error_code=row.error_code,
            error_detail=row.error_detail,
        )


@dataclass(frozen=True, slots=True)
class OperationView:
    """An operation as the API shows it (items None in listings)."""

    row: OperationRow
    """The stored operation."""
    items: tuple[ItemView, ...] | None
    """Its items with results, or None when not loaded."""

    @property
    def id(self) -> UUID:
        """Operation id."""
        return self.row.id

    @property
    def state(self) -> State:
        """Current state."""
        return State(self.row.state)

    @property
    def user_id(self) -> UUID:
        """Owner."""
        return self.row.user_id

    @property
    def finished_at(self) -> datetime | None:
        """When it reached a final state."""
        return self.row.finished_at
