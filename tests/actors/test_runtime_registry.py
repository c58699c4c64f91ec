"""Registry: lookup/whereis, automatic register/unregister, ownership, one registry per system."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from actors.errors import ActorIdTakenError, ActorNotFoundError, ActorStoppedError
from actors.runtime import Actor, ActorRef, ActorSystem, LocalRef


class Echo(Actor):
    """Answers with the message."""

    async def receive(self, message: Any) -> Any:
        return message


def test_lookup_of_an_unknown_id_raises_and_whereis_returns_none() -> None:
    system = ActorSystem("t")
    with pytest.raises(ActorNotFoundError) as info:
        system.lookup("nobody")
    assert isinstance(info.value, LookupError)
    assert info.value.code == "actor_not_found"
    assert system.whereis("nobody") is None


async def test_actors_are_registered_on_start_and_unregistered_on_stop() -> None:
    system = ActorSystem("t")
    async with trio.open_nursery() as nursery:
        ref = await system.spawn(nursery, Echo(), id="echo")
        assert system.lookup("echo") == ref
        assert isinstance(ref, ActorRef)
        assert "echo" in system.registry
        await ref.stop()
    assert "echo" not in system.registry
    with pytest.raises(ActorStoppedError):
        ref.tell("x")


async def test_an_id_can_be_used_by_one_actor_at_a_time() -> None:
    system = ActorSystem("t")
    async with trio.open_nursery() as nursery:
        first = await system.spawn(nursery, Echo(), id="echo")
        with pytest.raises(ActorIdTakenError) as info:
            await system.spawn(nursery, Echo(), id="echo")
        assert info.value.code == "actor_id_taken"
        assert await first.ask(1) == 1  # the failed spawn did not disturb the owner
        await first.stop()
        again = await system.spawn(nursery, Echo(), id="echo")
        assert await first.ask(2) == 2  # a ref is a name: it reaches whoever owns the id now
        await again.stop()


def test_a_stale_registration_cannot_remove_the_new_owner() -> None:
    registry = ActorSystem("t").registry
    old = registry.register("x")
    old.close()
    new = registry.register("x")
    old.close()
    assert registry.lookup("x") is new.ref
    assert new.is_active
    assert not old.is_active


async def test_each_system_has_its_own_registry_and_auto_ids() -> None:
    one, two = ActorSystem("one"), ActorSystem("two")
    async with trio.open_nursery() as nursery:
        a = await one.spawn(nursery, Echo(), id="same")
        b = await two.spawn(nursery, Echo(), id="same")
        assert a != b
        anonymous = await one.spawn(nursery, Echo())
        assert anonymous.id.startswith("Echo-")
        assert one.registry.ids() == ["same", anonymous.id]
        for ref in (a, b, anonymous):
            await ref.stop()


def test_refs_compare_and_hash_by_id_within_a_registry() -> None:
    registry = ActorSystem("t").registry
    reg = registry.register("x")
    assert reg.ref == registry.lookup("x")
    assert hash(reg.ref) == hash(registry.lookup("x"))
    assert repr(reg.ref) == "<ActorRef 'x'>"
    assert isinstance(reg.ref, LocalRef)
