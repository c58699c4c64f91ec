"""Callbacks: HTTP callbacks of asynchronous operations, from a persisted outbox, HMAC-signed.

Module map::

    actors.callbacks
     ├─ outbox ....... the API others call: enqueue (inside the operation's transaction),
     │                 validate_callback_url / require_callback_client (request-time checks), events
     ├─ policy ....... URL syntax, host allow-list, address policy against SSRF
     └─ errors ....... the package's error tree (codes the edge maps to 422)

Storage: ``storage.repos.callbacks`` (table ``callback_deliveries``, migration 0006).
"""

from actors.callbacks.errors import CallbackClientRequiredError, CallbackError, InvalidCallbackUrlError
from actors.callbacks.outbox import (
    CHANNEL,
    EVENT_COMPLETED,
    EVENT_DECLINED,
    EVENT_EXPIRED,
    EVENT_FAILED,
    enqueue,
    require_callback_client,
    validate_callback_url,
)

__all__ = [
    "CHANNEL",
    "EVENT_COMPLETED",
    "EVENT_DECLINED",
    "EVENT_EXPIRED",
    "EVENT_FAILED",
    "CallbackClientRequiredError",
    "CallbackError",
    "InvalidCallbackUrlError",
    "enqueue",
    "require_callback_client",
    "validate_callback_url",
]
