"""``MaterialCache``: no database read while coherent, and every key change voids it when it commits."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

import pytest
import trio

from actors.keys.errors import CertificateRevokedError
from actors.operations.material import MaterialCache
from tests.operations.conftest import MakePerson, Person, StartWorker, Worker

WITHIN_S = 5.0


async def _until(predicate: Callable[[], bool]) -> None:
    with trio.fail_after(WITHIN_S):
        while not predicate():  # noqa: ASYNC110 - the cache offers no event to wait on
            await trio.sleep(0.01)


async def _revoke(worker: Worker, person: Person) -> None:
    response = await worker.http.post(
        f"/api/v1/certificates/{person.certificate_id}/revoke",
        json={"reason": "key_compromise"},
        headers=person.headers,
    )
    assert response.status_code == 200, response.text


async def test_cached_while_listening_and_cleared_by_a_revocation_anywhere(
    start_worker: StartWorker, make_person: MakePerson
) -> None:
    worker = await start_worker()
    alice = await make_person(worker, "alice")
    bob = await make_person(worker, "bob")
    assert alice.certificate_id is not None
    db = worker.services.db
    cache = MaterialCache()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(cache.keep_coherent, db)
        await _until(lambda: cache.checked.coherent)

        first = await cache.load(db, user_id=alice.id, certificate_id=UUID(alice.certificate_id))
        default = await cache.load(db, user_id=alice.id, certificate_id=None)
        assert default is first  # the same rows: parsed once
        key = (alice.id, UUID(alice.certificate_id))
        assert cache.checked.get(key) is not None  # the next load reads nothing

        generation = cache.checked.generation
        await make_person(worker, "carol")  # another user's new key and certificate: announced too
        await _until(lambda: cache.checked.generation > generation)
        assert cache.checked.get(key) is None
        assert await cache.load(db, user_id=alice.id, certificate_id=UUID(alice.certificate_id)) is first

        generation = cache.checked.generation
        await _revoke(worker, alice)  # through the API, i.e. KeyService: the trigger announces it
        await _until(lambda: cache.checked.generation > generation)
        with pytest.raises(CertificateRevokedError):
            await cache.load(db, user_id=alice.id, certificate_id=UUID(alice.certificate_id))
        assert (await cache.load(db, user_id=bob.id, certificate_id=None)).signing.user_id == bob.id
        nursery.cancel_scope.cancel()


async def test_bypassed_while_not_listening(start_worker: StartWorker, make_person: MakePerson) -> None:
    worker = await start_worker()
    alice = await make_person(worker, "alice")
    assert alice.certificate_id is not None
    db = worker.services.db
    cache = MaterialCache()  # nobody runs keep_coherent: every load reads the rows
    certificate_id = UUID(alice.certificate_id)
    await cache.load(db, user_id=alice.id, certificate_id=certificate_id)
    assert cache.checked.get((alice.id, certificate_id)) is None
    await _revoke(worker, alice)
    with pytest.raises(CertificateRevokedError):
        await cache.load(db, user_id=alice.id, certificate_id=certificate_id)


async def test_a_default_is_cached_under_its_id_too(
    start_worker: StartWorker, make_person: MakePerson
) -> None:
    # An operation created for the default certificate stores the resolved id and executes with it;
    # caching only (user, None) cost every such operation a second read, and two entries per user
    # evicted each other once a worker's users filled half the cache.
    worker = await start_worker()
    alice = await make_person(worker, "alice")
    assert alice.certificate_id is not None
    db = worker.services.db
    cache = MaterialCache(size=1)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(cache.keep_coherent, db)
        await _until(lambda: cache.checked.coherent)
        default = await cache.load(db, user_id=alice.id, certificate_id=None)
        by_id = cache.checked.get((alice.id, UUID(alice.certificate_id)))
        assert by_id is not None
        assert by_id[0] is default
        nursery.cancel_scope.cancel()
