"""Where a delivery's HMAC key comes from: the callback secret of the operation's OAuth2 client.

``CallbackKeys`` is the interface the dispatcher needs; ``ClientCallbackKeys`` reads the sealed secret
from ``oauth_clients`` (``storage.repos.identity``) and opens it with the identity layer's sealer. A
missing, disabled or unreadable client gives no key, and such a delivery is given up unsent.
"""

from __future__ import annotations

from typing import Protocol

import structlog

from actors.identity.server_secret import Sealer
from storage import Database
from storage.repos import identity as identity_repo

log = structlog.get_logger("actors.callbacks")


class CallbackKeys(Protocol):
    """Source of callback HMAC keys."""

    async def key_for(self, client_id: str | None) -> bytes | None:
        """The key that signs callbacks of ``client_id``; None when there is none to sign with."""
        ...


class ClientCallbackKeys:
    """Callback secrets of OAuth2 clients, opened from their sealed form on every delivery."""

    def __init__(self, db: Database, sealer: Sealer) -> None:
        self._db = db
        self._sealer = sealer

    async def key_for(self, client_id: str | None) -> bytes | None:
        """The opened callback secret of an enabled client, else None (never logged)."""
        if client_id is None:
            return None
        row = await self._db.run_readonly(identity_repo.get_client, client_id)
        if row is None or row.disabled:
            return None
        try:
            return self._sealer.open(row.callback_secret, context=client_id)
        except ValueError:
            # The server secret was replaced after the client was registered (see server_secret).
            log.warning("callback_secret_unreadable", client_id=client_id)
            return None
