"""The synchronous fast path (``actors.operations.direct``): signed first, stored finished in one go."""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from typing import Any
from uuid import UUID

import pytest

from actors.operations import signals
from signing.cms import default_algorithm
from signing.x509 import Certificate
from storage.repos import operations as repo
from storage.repos.finished import FinishedOperation, insert_finished_many
from storage.repos.operations import ItemResult, NewItem, NewOperation
from tests.operations.conftest import MakePerson, StartWorker, b64, sign, unb64


async def test_synchronous_batch_is_stored_finished_and_behaves_like_any_operation(
    start_worker: StartWorker, make_person: MakePerson
) -> None:
    worker = await start_worker()
    alice = await make_person(worker, "alice")
    assert alice.certificate_pem is not None
    documents = [f"document {i}\n".encode() * 300 for i in range(40)]
    items: list[dict[str, Any]] = [
        {"name": f"d{i}.txt", "content": b64(content)} for i, content in enumerate(documents)
    ]
    digest = hashlib.new("md_gost12_256", b"given as a hash").digest()
    items.append({"name": "hashed", "hash": b64(digest)})

    created = await sign(worker, alice, items=items, confirmation="none")
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["state"] == "completed"
    assert [item["status"] for item in body["items"]] == ["signed"] * len(items)
    op_id = UUID(body["id"])

    # Every signature verifies with the certificate's key, over the document digest.
    public_key = Certificate.load(alice.certificate_pem.encode()).public_key()
    signature_algorithm = default_algorithm(public_key)
    for item in body["items"]:
        public_key.verify_digest(unb64(item["digest"]), unb64(item["signature"]), signature_algorithm)

    # No actor, no lease, no kept inputs: the row was born final.
    assert worker.services.actors.whereis(signals.actor_id(op_id)) is None
    row = await worker.services.db.run_readonly(repo.get_operation, op_id)
    assert row is not None
    assert row.state == "completed"
    assert row.owner_node is None
    assert row.lease_until is None
    assert row.finished_at is not None
    assert row.retain_until is not None
    assert row.item_count == len(items)
    assert await worker.services.db.run_readonly(_inputs_left, op_id) == 0

    read = await worker.call("GET", f"/operations/{op_id}", alice.headers)
    assert read.status_code == 200
    assert read.json()["items"] == body["items"]
    assert read.json()["state"] == "completed"
    listed = await worker.call("GET", "/operations", alice.headers)
    assert str(op_id) in [op["id"] for op in listed.json()["items"]]
    deleted = await worker.call("DELETE", f"/operations/{op_id}", alice.headers)
    assert deleted.status_code == 204
    gone = await worker.call("GET", f"/operations/{op_id}", alice.headers)
    assert gone.status_code == 404


async def test_insert_finished_stores_failures_and_refuses_live_states(
    start_worker: StartWorker, make_person: MakePerson
) -> None:
    worker = await start_worker()
    alice = await make_person(worker, "alice")
    assert alice.certificate_id is not None
    db = worker.services.db
    new = NewOperation(
        id=uuid.uuid4(),
        user_id=alice.id,
        client_id=None,
        format="raw",
        detached=False,
        certificate_id=UUID(alice.certificate_id),
        digest_algorithm="streebog256",
        state="failed",
        policy="none",
        callback_url=None,
        ttl_s=60,
        owner_node=uuid.uuid4(),
        lease_s=60,
    )
    items = [
        NewItem(idx=i, name=f"n{i}", input="hash", digest=bytes(32), document=None, preview=None)
        for i in (0, 1)
    ]
    results = [ItemResult(1, None, "hsm_unavailable", "down"), ItemResult(0, None, "hsm_unavailable", "down")]

    async def store(conn: Any, state: str) -> Any:
        finished = FinishedOperation(
            dataclasses.replace(new, state=state),
            items,
            results,
            error="hsm_unavailable",
            error_detail="no item could be signed",
            retain_s=60,
        )
        (row,) = await insert_finished_many(conn, [finished])
        return row

    row = await db.run(store, "failed")
    assert (row.state, row.error, row.owner_node) == ("failed", "hsm_unavailable", None)
    stored = await db.run_readonly(repo.get_items, new.id)
    assert [(item.idx, item.result, item.error_code) for item in stored] == [
        (0, None, "hsm_unavailable"),
        (1, None, "hsm_unavailable"),
    ]
    with pytest.raises(ValueError, match="completed or failed"):
        await db.run(store, "executing")


async def _inputs_left(conn: Any, op_id: UUID) -> int:
    count: int = await conn.fetchval(
        """SELECT count(*) FROM operation_items
            WHERE operation_id = $1 AND (document IS NOT NULL OR preview IS NOT NULL)""",
        op_id,
    )
    return count
