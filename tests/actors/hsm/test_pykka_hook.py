"""The pykka internals the slot workers hook (pykka is pinned exactly for this): the inbox factory.

``SlotWorker._create_actor_inbox`` replaces pykka's queue with ``actors.hsm.slots.Inbox``; this
checks that pykka still calls the hook when it starts an actor and that its actor loop runs on our
inbox (``put``, ``get``, ``empty``), including a stop, which pykka sends through the inbox too.
"""

from __future__ import annotations

from typing import Any

import pykka

from actors.hsm.slots import Inbox, SlotWorker


class _Echo(pykka.ThreadingActor):
    _create_actor_inbox = staticmethod(SlotWorker._create_actor_inbox)

    def on_receive(self, message: Any) -> Any:
        return ("echo", message)


def test_pykka_starts_actors_on_the_slot_inbox() -> None:
    ref = _Echo.start()
    try:
        assert isinstance(ref.actor_inbox, Inbox)
        assert [ref.ask(i, timeout=5) for i in range(50)] == [("echo", i) for i in range(50)]
    finally:
        ref.stop(timeout=5)
    assert not ref.is_alive()
