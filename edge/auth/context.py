"""The per-process ``Identity`` of the running app, and the caller's address.

The ``Identity`` is made at the first request that needs it (the services start with the app) and
starts, in the app's nursery, the task that keeps its token-state cache coherent.
"""

from __future__ import annotations

import trio
from quart import Quart, current_app, request

from actors.identity import Identity
from actors.identity.state_cache import keep_cache_coherent
from edge.errors import NotReadyError
from edge.services import Services

IDENTITY_KEY = "klyuch.identity"
SERVICES_KEY = "KLYUCH_SERVICES"


def get_identity() -> Identity:
    """This worker's ``Identity``, made on first use from the app's services."""
    # The app behind the proxy, looked up once: each attribute read through it costs ~0.8 µs.
    app: Quart = current_app._get_current_object()  # type: ignore[attr-defined]
    services: Services | None = app.config.get(SERVICES_KEY)
    if services is None:
        raise NotReadyError("the server is still starting")
    identity: Identity | None = app.extensions.get(IDENTITY_KEY)
    if identity is None or identity.db is not services.db:
        # Reads (or creates once) the small server-secret file: a one-off blocking call per process.
        identity = Identity.create(services.settings, services.db)
        app.extensions[IDENTITY_KEY] = identity
        nursery: trio.Nursery | None = getattr(app, "nursery", None)  # QuartTrio while serving
        if nursery is not None:
            nursery.start_soon(keep_cache_coherent, identity.state_cache, identity.db)
    return identity


def client_address() -> str:
    """The peer address of the request (a proxy's address when behind one: see ``throttle``)."""
    return request.remote_addr or "unknown"
