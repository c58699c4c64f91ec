"""Callbacks: HTTP callbacks of asynchronous operations, from a persisted outbox, HMAC-signed.

Module map::

    actors.callbacks
     ├─ outbox ....... the API others call: enqueue (inside the operation's transaction),
     │                 validate_callback_url / require_callback_client (request-time checks), events
     ├─ policy ....... URL syntax, host allow-list, address policy against SSRF
     ├─ service ...... open_callbacks / start_callbacks: the per-worker subtree
     ├─ dispatcher ... Dispatcher actor: LISTEN + timer, claim (SKIP LOCKED, lease), deliver, record
     ├─ delivery ..... Deliverer: one attempt (key, body, resolved-address check, pinned signed POST)
     ├─ resolve ...... name resolution with the address policy applied to every address
     ├─ wire ......... body and headers of a delivery
     ├─ signature .... v1 HMAC_GOSTR3411_2012_256 signatures; how receivers verify (verify_delivery)
     ├─ keys ......... CallbackKeys: the callback secret of the operation's OAuth2 client
     ├─ backoff ...... exponential delays with equal jitter; Retry-After
     ├─ outcome ...... Verdict/Outcome of an attempt; HTTP status classification
     └─ errors ....... the package's error tree (codes the edge maps to 422)

Storage: ``storage.repos.callbacks`` (table ``callback_deliveries``, migration 0006). Settings:
``config.settings.CallbackSettings`` (``settings.callbacks``).
"""

from actors.callbacks.dispatcher import Dispatcher, DispatcherStats, GetStats, Wake
from actors.callbacks.errors import CallbackClientRequiredError, CallbackError, InvalidCallbackUrlError
from actors.callbacks.keys import CallbackKeys, ClientCallbackKeys
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
from actors.callbacks.service import CALLBACKS_ID, DISPATCHER_ID, open_callbacks, start_callbacks
from actors.callbacks.signature import verify_delivery

__all__ = [
    "CALLBACKS_ID",
    "CHANNEL",
    "DISPATCHER_ID",
    "EVENT_COMPLETED",
    "EVENT_DECLINED",
    "EVENT_EXPIRED",
    "EVENT_FAILED",
    "CallbackClientRequiredError",
    "CallbackError",
    "CallbackKeys",
    "ClientCallbackKeys",
    "Dispatcher",
    "DispatcherStats",
    "GetStats",
    "InvalidCallbackUrlError",
    "Wake",
    "enqueue",
    "open_callbacks",
    "require_callback_client",
    "start_callbacks",
    "validate_callback_url",
    "verify_delivery",
]
