"""Sessions: bound devices, their live confirmation channel, and one UserSession actor per active user.

Module map::

    actors.sessions
     ├─ protocol ..... the contract with the operations layer: OperationNotice / NoticeItem (pushed),
     │                 DeviceDecision → ConfirmationSink.on_decision → DecisionOutcome, PendingLookup
     ├─ crypto ....... K_auth / K_confirm (KDF_256), authentication and decision MACs: byte layouts
     ├─ sealing ...... device secrets at rest (KExp15 under keys derived from the server secret)
     ├─ devices ...... DeviceDirectory: enrol, challenge/authenticate, revoke (database + audit)
     ├─ connection ... DeviceConnection: an authenticated socket's outbox; the Outgoing messages
     ├─ messages ..... what a UserSession handles (Attach, Offer, Withdraw, DecisionReceived, Kick, ...)
     ├─ session ...... UserSession actor: connections, shown operations, nonces, decision checks
     ├─ router ....... Router: a verified decision to its owner's sink, locally or through NOTIFY
     ├─ relay ........ Relay actor: LISTEN, signals → sessions / router, purge of expired notices
     ├─ signals ...... the NOTIFY payloads (ids only) and channel names
     ├─ codec ........ notices as JSON (stored in device_notices, shown to devices)
     ├─ hub .......... SessionHub (push / withdraw / attach / detach), start_sessions / open_sessions,
     │                 StoredPendingLookup
     ├─ options ...... SessionOptions (timeouts, sizes)
     └─ errors ....... the layer's error tree (the codes devices see)

Several worker processes
------------------------
Workers share nothing but PostgreSQL. Each worker's hub has a ``node_id``; its relay LISTENs on the
shared channel ``klyuch_sessions`` and on its own ``klyuch_node_<node>``. NOTIFY payloads carry ids
only; what they refer to is re-read from the tables.

* **Push** (operation owned by worker 2, device connected to worker 1): worker 2's ``hub.push``
  stores the notice in ``device_notices`` (with ``owner_node`` = worker 2) and NOTIFYs ``push`` in
  the same transaction. Worker 1's relay finds the user's session, reads the notice row and offers
  it; the session sends it to each device with a fresh server nonce.
* **Decision** (device on worker 1): worker 1's session verifies nonce and MAC, spends the nonce,
  and its Router NOTIFYs ``decide`` on ``klyuch_node_<worker 2>``; worker 2's relay calls its
  ``ConfirmationSink`` and NOTIFYs the ``outcome`` back on worker 1's channel; worker 1 answers the
  device. Same-worker pushes and decisions skip NOTIFY.
* **One live connection per device**: each successful authentication increments ``devices.counter``
  and NOTIFYs ``auth`` with it; a worker holding an older connection of that device closes it
  (``replaced``). A revocation NOTIFYs ``revoke``; the connection closes wherever it is.
* **Lost notifications**: when the LISTEN connection drops, the relay crashes and is restarted by its
  supervisor, and every session re-reads ``PendingLookup``. A decision whose owner does not answer
  within ``remote_decision_timeout_s`` is answered ``unavailable`` and the device is shown the
  operation again with a fresh nonce.
"""

from actors.sessions.connection import (
    ChannelNotice,
    DecisionAnswer,
    DeviceConnection,
    OperationOffer,
    OperationWithdrawn,
    Outgoing,
)
from actors.sessions.devices import Authenticated, Challenged, DeviceDirectory, Enrolment
from actors.sessions.hub import SESSIONS_ID, SessionHub, StoredPendingLookup, open_sessions, start_sessions
from actors.sessions.messages import SessionState
from actors.sessions.options import SessionOptions
from actors.sessions.protocol import (
    ACCEPTED,
    ConfirmationSink,
    Decision,
    DecisionOutcome,
    DeviceDecision,
    NoticeItem,
    OperationNotice,
    OutcomeStatus,
    PendingLookup,
)
from actors.sessions.sealing import SecretSealer

__all__ = [
    "ACCEPTED",
    "SESSIONS_ID",
    "Authenticated",
    "Challenged",
    "ChannelNotice",
    "ConfirmationSink",
    "Decision",
    "DecisionAnswer",
    "DecisionOutcome",
    "DeviceConnection",
    "DeviceDecision",
    "DeviceDirectory",
    "Enrolment",
    "NoticeItem",
    "OperationNotice",
    "OperationOffer",
    "OperationWithdrawn",
    "OutcomeStatus",
    "Outgoing",
    "PendingLookup",
    "SecretSealer",
    "SessionHub",
    "SessionOptions",
    "SessionState",
    "StoredPendingLookup",
    "open_sessions",
    "start_sessions",
]
