"""``open_hsm_pool``: plan the units from settings, start their supervisor, hand out the Balancer.

::

    async with open_hsm_pool(settings.hsm, home=settings.home, system=system) as hsm:
        await hsm.wait_ready()
        key = (await hsm.generate_key(KeyAlgorithm.GOST3410_2012_256, "TC26_256_A")).key
        signature = await hsm.sign_digest(key, digest)

The units start in the background: the block is entered at once, and requests fail fast with
``HsmUnavailableError`` until a unit is healthy (``Balancer.ready`` / ``wait_ready``). Leaving the
block stops the supervisor: each unit drains what is in flight (SIGTERM) and is killed after
``hsm.stop_grace_s``.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import trio

from actors.hsmpool.balancer import Balancer
from actors.hsmpool.handle import StateChanges, UnitHandle
from actors.hsmpool.plans import make_socket_folder, plan_units, remove_socket_folder
from actors.hsmpool.supervisor import HsmSupervisor
from actors.runtime import ActorSystem
from config.settings import HsmSettings


@asynccontextmanager
async def open_hsm_pool(
    hsm: HsmSettings,
    *,
    home: Path,
    system: ActorSystem,
    pool_id: str = "hsm",
    log_level: str = "info",
    log_format: str = "console",
) -> AsyncIterator[Balancer]:
    """Run one pool of units under an ``HsmSupervisor`` registered as ``pool_id`` in ``system``.

    ``log_level`` / ``log_format`` are handed to the unit processes (they log to our stderr).
    """
    socket_folder = await trio.to_thread.run_sync(make_socket_folder)
    try:
        plans = await trio.to_thread.run_sync(
            functools.partial(
                plan_units,
                hsm,
                home=home,
                socket_folder=socket_folder,
                log_level=log_level,
                log_format=log_format,
            )
        )
        changes = StateChanges()
        handles = [UnitHandle(plan, changes=changes) for plan in plans]
        balancer = Balancer(
            handles,
            changes=changes,
            max_attempts=hsm.max_attempts,
            max_digests_per_call=hsm.max_digests_per_call,
            max_in_flight_items=hsm.max_in_flight_items,
        )
        async with trio.open_nursery() as nursery:
            supervisor = await system.spawn(nursery, HsmSupervisor(pool_id, plans, handles, hsm), id=pool_id)
            try:
                yield balancer
            finally:
                with trio.CancelScope(shield=True):
                    await supervisor.stop(timeout=hsm.stop_grace_s * len(plans) + 10.0)
    finally:
        with trio.CancelScope(shield=True):  # also when the worker is being cancelled
            await trio.to_thread.run_sync(remove_socket_folder, socket_folder)
