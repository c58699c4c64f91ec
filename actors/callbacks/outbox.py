"""The outbox API: what the operations layer and the edge call.

* ``enqueue`` runs **inside the caller's transaction** (an asyncpg connection of a unit of work), so
  the callback exists exactly when the operation's completion commits: a rolled-back completion
  leaves no callback, and a committed one is delivered even if this worker dies right after. The
  NOTIFY that wakes the dispatchers is sent at commit time too.
* ``validate_callback_url`` and ``require_callback_client`` are the request-time checks of the edge
  (422 on failure): the URL policy against SSRF, and the rule that every callback is signed.

Who signs: every delivery is signed with the **callback secret of the OAuth2 client** the operation
was created through (``oauth_clients.callback_secret``, shown to the client once at registration).
Asynchronous mode is for information systems, which authenticate as a client (``client_credentials``,
or a ``password`` grant sent with client credentials); a caller whose token names no client gets
``CallbackClientRequiredError``. There is deliberately no unsigned or per-user fallback: a secret the
user never received could not be verified, and an unsigned callback could be forged by anyone who
learns the URL. A row whose client is gone or disabled by delivery time is given up unsent
(``no_callback_secret``).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from actors.callbacks.errors import CallbackClientRequiredError
from actors.callbacks.policy import validate_callback_url
from storage.database import Connection
from storage.repos import callbacks as repo

CHANNEL = "klyuch_callbacks"
"""NOTIFY channel that wakes the dispatchers (payload empty: state lives in the table)."""

EVENT_COMPLETED = "operation.completed"
"""The operation finished; ``payload`` carries its per-item results."""
EVENT_FAILED = "operation.failed"
"""The operation failed as a whole (or every item failed)."""
EVENT_DECLINED = "operation.declined"
"""The user declined it on their device."""
EVENT_EXPIRED = "operation.expired"
"""Its TTL ran out before it was confirmed."""

__all__ = [
    "CHANNEL",
    "EVENT_COMPLETED",
    "EVENT_DECLINED",
    "EVENT_EXPIRED",
    "EVENT_FAILED",
    "enqueue",
    "require_callback_client",
    "validate_callback_url",
]


async def enqueue(
    conn: Connection,
    *,
    operation_id: UUID,
    user_id: UUID | None,
    client_id: str | None,
    url: str,
    event: str,
    payload: dict[str, Any],
) -> UUID:
    """Write a callback into the outbox within ``conn``'s transaction; its delivery id.

    ``url`` must have passed ``validate_callback_url`` at request time (it is checked again, with
    name resolution, at every delivery). ``payload`` must be JSON-serialisable (``ValueError``
    otherwise) and should hold results and references, not document bytes: bodies larger than
    ``callbacks.max_payload_bytes`` are given up unsent. Idempotent per (operation, event): calling it
    again, e.g. after a re-hydrated operation completes twice, returns the first delivery's id.
    """
    new = repo.NewDelivery(
        operation_id=operation_id,
        user_id=user_id,
        client_id=client_id,
        url=url,
        event=event,
        payload_json=repo.payload_text(payload),
    )
    return await repo.insert_delivery(conn, new, CHANNEL)


def require_callback_client(client_id: str | None) -> str:
    """The client id that will sign the callbacks, or ``CallbackClientRequiredError`` when there is none."""
    if client_id is None:
        raise CallbackClientRequiredError(
            "callback_url needs an access token issued to an OAuth2 client: "
            "its callback secret signs every delivery"
        )
    return client_id
