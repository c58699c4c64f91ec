"""Errors of the operations layer (signing operations and verification requests).

::

    OperationError                      code                        HTTP
     ├─ OperationNotFoundError          not_found                   404  (missing, or someone else's)
     ├─ InvalidOperationError           validation_failed           422  (``field`` names the input)
     ├─ ConfirmationRequiredError       confirmation_required       403  (policy refuses "none")
     ├─ NoUserError                     operation_needs_user        403  (a client acting for no user)
     ├─ OperationBusyError              operation_executing         409  (deleting while it executes)
     └─ OperationsUnavailableError      operations_unavailable      503  (stopping, or overloaded)

Each class has a stable ``code``; callers dispatch on type or code, never on message text.
``OperationNotFoundError`` shares ``code`` with ``storage.errors.NotFoundError`` and
``actors.identity.errors.NotOwnerError``: someone else's operation must look exactly like a missing one.
Per-item failures are not exceptions: they are stored codes on the item (``signing`` / ``actors.hsm``
codes, plus ``ITEM_CODES`` below).
"""

from __future__ import annotations

from uuid import UUID

ITEM_CODES = {
    "hsm_unavailable": "no HSM unit could sign (the whole batch failed after retries)",
    "document_missing": "the document of this attached signature (or the CMS of this co-signature) is "
    "no longer stored (a synchronous operation keeps none: when its worker stopped in the middle, submit "
    "it again)",
    "internal_error": "the server failed on this item; see its log",
}
"""Item error codes the operations layer sets itself, with their meaning."""


class OperationError(Exception):
    """Base of every error raised by ``actors.operations``."""

    code = "operation_error"


class OperationNotFoundError(OperationError):
    """No such operation for this caller (it does not exist, expired from retention, or is someone else's)."""

    code = "not_found"

    def __init__(self, op_id: UUID) -> None:
        super().__init__(f"operation {op_id} not found")
        self.op_id = op_id


class InvalidOperationError(OperationError, ValueError):
    """A request the schema accepted but the domain refuses; ``field`` names the offending input."""

    code = "validation_failed"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        """Dotted path of the input (``items.3.hash``), as the edge reports validation errors."""
        self.message = message
        """What is wrong with it."""


class ConfirmationRequiredError(OperationError):
    """The caller asked for no confirmation and the policy requires a device confirmation."""

    code = "confirmation_required"


class NoUserError(OperationError):
    """The access token acts for no user (an unbound client): there are no keys to sign with."""

    code = "operation_needs_user"


class OperationBusyError(OperationError):
    """The operation is executing right now and cannot be deleted; try again in a moment."""

    code = "operation_executing"


class OperationsUnavailableError(OperationError):
    """The operations service of this worker is stopping or cannot take more work now."""

    code = "operations_unavailable"
