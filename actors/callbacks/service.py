"""Starting the callbacks subtree of one worker process.

::

    Supervisor "callbacks" (one_for_one, backoff 0.5 s … 30 s)
     └─ Dispatcher "callbacks/dispatcher" ... permanent: LISTEN klyuch_callbacks, claim, deliver

``open_callbacks`` is the form ``edge.services`` uses (an async context manager holding its own
nursery); ``start_callbacks`` spawns the subtree into a nursery the caller owns.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

from actors.callbacks.dispatcher import Dispatcher
from actors.callbacks.keys import CallbackKeys
from actors.runtime import ActorSystem, Backoff, ChildSpec, Restart, Supervisor, SupervisorRef
from config.settings import CallbackSettings
from storage import Database

CALLBACKS_ID = "callbacks"
"""Registry id of the callbacks supervisor."""

DISPATCHER_ID = "callbacks/dispatcher"
"""Registry id of the dispatcher (tell it ``Wake()``, ask it ``GetStats()``)."""

STOP_TIMEOUT_S = 10.0
"""How long stopping the subtree may take (claims in flight are handed back meanwhile)."""


async def start_callbacks(
    nursery: trio.Nursery,
    *,
    system: ActorSystem,
    db: Database,
    settings: CallbackSettings,
    keys: CallbackKeys,
) -> SupervisorRef:
    """Spawn the subtree in ``nursery``; returns once the dispatcher is subscribed and running."""
    dispatcher = ChildSpec(
        id=DISPATCHER_ID,
        start=lambda: Dispatcher(db=db, settings=settings, keys=keys),
        restart=Restart.PERMANENT,
    )
    supervisor = Supervisor(
        [dispatcher], intensity=10, period=60.0, backoff=Backoff(initial=0.5, cap=30.0, reset_after=60.0)
    )
    return SupervisorRef(await system.spawn(nursery, supervisor, id=CALLBACKS_ID))


@asynccontextmanager
async def open_callbacks(
    settings: CallbackSettings, *, system: ActorSystem, db: Database, keys: CallbackKeys
) -> AsyncIterator[SupervisorRef]:
    """Run the subtree for the duration of the block; stopping it hands claims in flight back."""
    async with trio.open_nursery() as nursery:
        ref = await start_callbacks(nursery, system=system, db=db, settings=settings, keys=keys)
        try:
            yield ref
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(STOP_TIMEOUT_S):
                await ref.stop()
            nursery.cancel_scope.cancel()
