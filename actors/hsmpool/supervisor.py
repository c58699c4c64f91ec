"""``HsmSupervisor``: the runtime supervisor of one pool's UnitClients.

It is a plain OTP ``Supervisor`` (one_for_one) over one ``UnitClient`` per planned unit. Unit
*processes* are restarted by their UnitClient (see :mod:`actors.hsmpool.unit_client` for why); this
supervisor restarts a UnitClient *actor* that crashed on a bug — the crashed incarnation's cleanup has
already stopped its process — and stops the clients in reverse order when the pool closes.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from actors.hsmpool.handle import UnitHandle
from actors.hsmpool.plans import UnitPlan
from actors.hsmpool.unit_client import UnitClient
from actors.runtime import Backoff, ChildSpec, Restart, Strategy, Supervisor
from config.settings import HsmSettings


def unit_actor_id(pool_id: str, unit_id: str) -> str:
    """Registry id of a unit's UnitClient: ``<pool id>/<unit id>``."""
    return f"{pool_id}/{unit_id}"


class HsmSupervisor(Supervisor):
    """Starts one UnitClient per unit (in plan order), restarts crashed clients, stops them in reverse."""

    def __init__(
        self, pool_id: str, plans: Sequence[UnitPlan], handles: Sequence[UnitHandle], hsm: HsmSettings
    ) -> None:
        children = [
            ChildSpec(
                id=unit_actor_id(pool_id, plan.unit_id),
                start=functools.partial(UnitClient, plan, handle, hsm),
                restart=Restart.PERMANENT,
                # A stopping client drains its unit first: give it the grace plus the kill and reap.
                shutdown=hsm.stop_grace_s + 5.0,
            )
            for plan, handle in zip(plans, handles, strict=True)
        ]
        super().__init__(
            children,
            strategy=Strategy.ONE_FOR_ONE,
            intensity=max(3, 2 * len(children)),
            period=60.0,
            backoff=Backoff(initial=0.1, cap=5.0),
        )
