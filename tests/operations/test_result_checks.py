"""Which signatures the worker checks with the certificate's key (``verify_results``).

Units check every signature under their key's public half (``actors.hsm.selfcheck``); the worker
proves once per material that the unit's key is the certified one, or checks every signature.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Literal
from uuid import UUID

import pytest

from actors.operations import Format
from actors.operations.execute import Batch, ExecItem, execute_batch
from actors.operations.material import Material, MaterialCache, Proof
from tests.operations.conftest import MakePerson, StartWorker, Worker


def _items(count: int) -> list[ExecItem]:
    return [ExecItem(i, hashlib.new("md_gost12_256", bytes([i])).digest(), None) for i in range(count)]


async def _codes(
    worker: Worker, material: Material, verify: Literal["first", "every"], count: int = 3
) -> set[str | None]:
    options = dataclasses.replace(worker.ops.options, verify_results=verify)
    batch = Batch(op_id="t", format=Format.RAW, detached=False, material=material, items=_items(count))
    results = await execute_batch(batch, hsm=worker.services.hsm, options=options)
    return {result.error_code for result in results}


@pytest.fixture
async def crossed(start_worker: StartWorker, make_person: MakePerson) -> tuple[Worker, Material, Material]:
    """A worker, alice's material, and alice's key paired with bob's certificate (a wrong key)."""
    worker = await start_worker()
    alice = await make_person(worker, "alice")
    bob = await make_person(worker, "bob")
    assert alice.certificate_id is not None
    assert bob.certificate_id is not None
    cache = MaterialCache()
    db = worker.services.db
    mine = await cache.load(db, user_id=alice.id, certificate_id=UUID(alice.certificate_id))
    other = await cache.load(db, user_id=bob.id, certificate_id=UUID(bob.certificate_id))
    return worker, mine, Material(mine.signing, other.public_key)


async def test_a_material_is_proven_by_its_first_batch_then_trusted(
    crossed: tuple[Worker, Material, Material],
) -> None:
    worker, mine, _ = crossed
    assert not mine.proof.done
    assert await _codes(worker, mine, "first") == {None}
    assert mine.proof.done


@pytest.mark.parametrize("count", [1, 12])  # inline, and in a worker thread (VERIFY_IN_THREAD_FROM)
async def test_a_signature_the_certificate_does_not_verify_fails_its_item(
    crossed: tuple[Worker, Material, Material], count: int
) -> None:
    worker, mine, wrong = crossed  # wrong: signed with alice's key, checked with bob's certificate
    items = _items(count)
    for material, signed in ((mine, True), (wrong, False)):
        batch = Batch(op_id="t", format=Format.RAW, detached=False, material=material, items=items)
        results = await execute_batch(batch, hsm=worker.services.hsm, options=worker.ops.options)
        assert [result.idx for result in results] == list(range(count))
        if signed:
            assert all(result.result is not None for result in results)
        else:
            assert all(result.result is None for result in results)
            assert {result.error_code for result in results} == {"invalid_signature"}


async def test_an_unproven_wrong_key_fails_every_item_and_stays_unproven(
    crossed: tuple[Worker, Material, Material],
) -> None:
    worker, _, wrong = crossed
    for _ in range(2):
        assert await _codes(worker, wrong, "first") == {"invalid_signature"}
    assert not wrong.proof.done


async def test_every_checks_even_a_proven_material(crossed: tuple[Worker, Material, Material]) -> None:
    worker, _, wrong = crossed
    proven = dataclasses.replace(wrong, proof=Proof(done=True))  # as if proven before a key swap
    assert await _codes(worker, proven, "every") == {"invalid_signature"}
    assert await _codes(worker, proven, "first") == {None}  # what "first" trusts once proven
