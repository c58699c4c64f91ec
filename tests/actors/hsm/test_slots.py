"""Slot supervision inside a real unit: crashes are answered and replaced, too many escalate."""

from __future__ import annotations

import pytest
import trio
import trio.lowlevel

from actors.hsm.client import UnitConnection
from actors.hsm.errors import SlotCrashedError, UnitFailingError, UnitLostError
from actors.hsm.protocol import FaultKind, KeyAlgorithm
from actors.hsm.unit import EXIT_TEMPFAIL
from signing.gost import GostPublicKey, ParamSet

from .conftest import StartUnit


async def _wait_healthy(hsm: UnitConnection, restarts: int) -> None:
    with trio.fail_after(10):
        while True:
            health = await hsm.health()
            if health.slot_restarts >= restarts and health.status == "ok":
                return
            await trio.sleep(0.02)


async def test_a_crashed_slot_answers_its_request_and_is_replaced(unit_factory: StartUnit) -> None:
    unit = await unit_factory("crashy", test_faults=True)
    async with unit.connect() as hsm:
        info = await hsm.generate_key(KeyAlgorithm.GOST3410_2012_256, "TC26_256_A")
        with pytest.raises(SlotCrashedError) as caught:
            await hsm.inject_fault(FaultKind.CRASH_SLOT)
        assert caught.value.retryable
        await _wait_healthy(hsm, restarts=1)
        health = await hsm.health()
        assert (health.slots_alive, health.slot_restarts) == (2, 1)
        # The replacement signs (the unit's opened keys outlive the crashed slot).
        digest = b"\x07" * 32
        signature = await hsm.sign_digest(info.ref(), digest)
        GostPublicKey.from_point_bytes(ParamSet.TC26_256_A, info.public_key).verify_digest(digest, signature)
        assert (await hsm.metrics()).slot_restarts == 1


async def test_requests_queued_behind_a_crash_are_answered_not_lost(unit_factory: StartUnit) -> None:
    unit = await unit_factory("queued", test_faults=True, slots=1)
    async with unit.connect(call_timeout=20.0) as hsm:
        info = await hsm.generate_key(KeyAlgorithm.GOST3410_2012_256, "TC26_256_A")
        outcomes: list[str] = []

        async def sign(count: int) -> None:
            try:
                await hsm.sign_digests(info.ref(), [b"\x01" * 32] * count)
                outcomes.append("signed")
            except SlotCrashedError:
                outcomes.append("refused")

        async def crash() -> None:
            with pytest.raises(SlotCrashedError):
                await hsm.inject_fault(FaultKind.CRASH_SLOT)

        # One slot. A long list keeps it busy while the crash and ten more requests queue in its
        # pykka inbox behind it; pykka drops a dead actor's inbox, the supervisor must answer them.
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sign, 3000)
            await trio.sleep(0.02)
            nursery.start_soon(crash)
            await trio.sleep(0.005)
            for _ in range(10):
                nursery.start_soon(sign, 5)
        assert sorted(outcomes) == ["refused"] * 10 + ["signed"]
        await _wait_healthy(hsm, restarts=1)
        assert len(await hsm.sign_digests(info.ref(), [b"\x02" * 32] * 3)) == 3


async def test_too_many_crashes_escalate_to_a_unit_exit(unit_factory: StartUnit) -> None:
    unit = await unit_factory("fragile", test_faults=True, extra_args=("--restart-intensity", "2"))
    async with unit.connect() as hsm:
        seen: list[type[Exception]] = []
        for _ in range(6):
            try:
                await hsm.inject_fault(FaultKind.CRASH_SLOT)
            except (SlotCrashedError, UnitFailingError, UnitLostError) as exc:
                seen.append(type(exc))
                if isinstance(exc, UnitLostError):
                    break
            await trio.sleep(0.05)
        assert SlotCrashedError in seen
        assert seen[-1] in (UnitFailingError, UnitLostError)
    with trio.fail_after(10):
        assert await unit.process.wait() == EXIT_TEMPFAIL


async def test_a_large_list_is_split_across_slots_and_kept_in_order(unit_factory: StartUnit) -> None:
    # No key cache: each part opens the blob, so the misses count the parts that ran.
    unit = await unit_factory("splitter", slots=3, key_cache_size=0)
    async with unit.connect() as hsm:
        info = await hsm.generate_key(KeyAlgorithm.GOST3410_2012_256, "TC26_256_C")
        digests = [i.to_bytes(32, "little") for i in range(1, 101)]
        signatures = await hsm.sign_digests(info.ref(), digests)
        metrics = await hsm.metrics()
    public = GostPublicKey.from_point_bytes(ParamSet.TC26_256_C, info.public_key)
    for digest, signature in zip(digests, signatures, strict=True):
        public.verify_digest(digest, signature)
    # The list ran as several parts (the least-loaded pick puts them on different slots).
    assert metrics.key_cache["misses"] >= 2
