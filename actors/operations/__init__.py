"""Signing operations: PendingOperation actors driving the persisted state machine of ARCHITECTURE.md §3.

Module map::

    actors.operations
     ├─ model ......... states, formats, policies; SignRequest / SignItem / Requester; OperationView
     ├─ options ....... OperationsOptions (TTL, batch and document limits, leases, retention, retries)
     ├─ policy ........ which confirmation an operation needs ("none" for clients, "device" otherwise)
     ├─ intake ........ request checks (field-precise), document digests, previews → PlannedItem
     ├─ cosign ........ co-signatures: an existing CMS checked and accepted for one more signer
     ├─ items ......... planned items → NewItem rows to store and ItemView answers
     ├─ preview ....... text previews of text documents for the devices
     ├─ notices ....... OperationNotice for the devices, from planned items or stored rows
     ├─ execute ....... a batch: per item prepare → one Balancer call (sign_digest for one) → per item finish
     ├─ direct ........ the synchronous fast path: sign, then store the finished operation at once
     ├─ units ......... transactions: create, decide, expire, finish (+ callback call site), delete
     ├─ messages ...... Advance, Decide, Expire, Wake, Repush
     ├─ deps .......... OperationDeps shared by the actors; DeviceChannel; Completions (sync waits)
     ├─ pending ....... PendingOperation actor: one per live operation
     ├─ keeper ........ Keeper actor: leases, re-hydration (claims), retention sweep, LISTEN wake-ups
     ├─ signals ....... the NOTIFY channel and actor ids
     ├─ verification .. raw / CAdES-BES verification requests → ValidationReport
     ├─ service ....... OperationsService (edge API, ConfirmationSink, PendingLookup), start_operations
     └─ errors ........ the layer's error tree

Actor tree (inside one worker process)::

    Supervisor "operations" (one_for_one)
     ├─ Keeper "operations/keeper"
     └─ PendingOperation "op:<uuid>" × live operations this worker drives (TEMPORARY)

Storage: ``storage/repos/operations.py`` (tables of ``migrations/0005_operations.sql``).
"""

from actors.operations.errors import (
    ConfirmationRequiredError,
    InvalidOperationError,
    NoUserError,
    OperationBusyError,
    OperationError,
    OperationNotFoundError,
    OperationsUnavailableError,
)
from actors.operations.model import (
    Format,
    InputKind,
    ItemView,
    OperationView,
    Policy,
    Requester,
    SignItem,
    SignRequest,
    State,
)
from actors.operations.options import OperationsOptions
from actors.operations.service import OPERATIONS_ID, OperationsService, open_operations, start_operations
from actors.operations.verification import VerifyRequest

__all__ = [
    "OPERATIONS_ID",
    "ConfirmationRequiredError",
    "Format",
    "InputKind",
    "InvalidOperationError",
    "ItemView",
    "NoUserError",
    "OperationBusyError",
    "OperationError",
    "OperationNotFoundError",
    "OperationView",
    "OperationsOptions",
    "OperationsService",
    "OperationsUnavailableError",
    "Policy",
    "Requester",
    "SignItem",
    "SignRequest",
    "State",
    "VerifyRequest",
    "open_operations",
    "start_operations",
]
