"""One CRL per CA for the whole deployment: two workers (two served apps on one database) serve the
same stored CRL, one of them re-signs it after a change, and numbers never go back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import uuid4

import structlog
import trio

from actors.keys.crl import CLAIM_LEASE
from actors.keys.settings import CaSettings, crl_validity
from config.settings import HsmSettings
from signing.crl import Crl
from storage import Database
from storage.repos import revocation as repo
from tests.keys.conftest import FAST_HSM, Accounts, KeysApi, StartKeysApi, hsm_stopped
from tests.keys.test_crl import fetch_crl

ONE_UNIT = HsmSettings(**{**FAST_HSM, "soft_units": 1})
"""One soft unit per worker keeps two workers cheap to start."""


async def two_workers(keys_api: StartKeysApi, **options: Any) -> tuple[KeysApi, KeysApi]:
    """Two served apps on the test's database: what two hypercorn workers (or two nodes) are."""
    options.setdefault("hsm", ONE_UNIT)
    first = await keys_api(**options)
    return first, await keys_api(**options)


async def revoke_new_certificate(api: KeysApi, user: str = "alice") -> int:
    """Issue a certificate through ``api`` and revoke it there; its serial."""
    issued = await api.issue(user, (await api.new_key(user))["id"])
    response = await api.call(
        "POST", f"/certificates/{issued['id']}/revoke", user, json={"reason": "superseded"}
    )
    assert response.status_code == 200, response.text
    return int(issued["serial"], 16)


def issued_numbers(events: Sequence[Mapping[str, Any]]) -> list[int]:
    """cRLNumbers of the ``audit_crl_issued`` events captured."""
    return [event["crl_number"] for event in events if event["event"] == "audit_crl_issued"]


def number_of(crl: Crl) -> int:
    """The cRLNumber (every CRL of the built-in CA has one)."""
    assert crl.number is not None
    return crl.number


async def test_two_workers_serve_the_same_crl_and_the_next_one_after_a_revocation(
    keys_api: StartKeysApi, people: Accounts
) -> None:
    a, b = await two_workers(keys_api)
    with structlog.testing.capture_logs() as events:
        from_a = await fetch_crl(a)
        from_b = await fetch_crl(b)
        assert from_b.der == from_a.der, "worker B serves the CRL worker A stored, not its own"
        serial = await revoke_new_certificate(a)
        after_b = await fetch_crl(b)
        after_a = await fetch_crl(a)
    assert number_of(after_b) > number_of(from_a)
    assert [entry.serial_number for entry in after_b.entries] == [serial]
    assert after_a.der == after_b.der
    assert issued_numbers(events) == [number_of(from_a), number_of(after_b)], "one signature per change"
    ca = await a.services.keys.ca.get()
    after_b.verify_signature(ca.certificate.public_key())


async def test_concurrent_requests_to_both_workers_make_one_new_crl(
    keys_api: StartKeysApi, people: Accounts
) -> None:
    a, b = await two_workers(keys_api)
    before = await fetch_crl(a)
    await revoke_new_certificate(b)
    served: list[Crl] = []

    async def fetch(api: KeysApi) -> None:
        served.append(await fetch_crl(api))

    with structlog.testing.capture_logs() as events:
        async with trio.open_nursery() as nursery:
            for _ in range(4):
                nursery.start_soon(fetch, a)
                nursery.start_soon(fetch, b)
    assert len({crl.der for crl in served}) == 1, "every request got the one new CRL"
    assert issued_numbers(events) == [number_of(before) + 1]
    assert number_of(served[0]) == number_of(before) + 1
    assert len(served[0].entries) == 1


async def test_numbers_never_decrease_across_revocations_and_alternating_workers(
    keys_api: StartKeysApi, people: Accounts
) -> None:
    a, b = await two_workers(keys_api)
    workers = (a, b)
    seen: list[int] = [number_of(await fetch_crl(a))]
    for round_ in range(4):
        revoked_by = workers[round_ % 2]
        await revoke_new_certificate(revoked_by, "alice" if round_ % 2 else "bob")
        after_revocation = len(seen)
        for turn in range(3):
            crl = await fetch_crl(workers[(round_ + turn) % 2])
            assert len(crl.entries) == round_ + 1, "a revocation is listed by the next fetch anywhere"
            seen.append(number_of(crl))
        assert seen[after_revocation] > seen[after_revocation - 1]
    assert seen == sorted(seen), f"numbers went back: {seen}"
    assert len(set(seen)) == 5, "one new number per revocation, the same one on both workers"


async def test_a_worker_whose_hsm_is_down_serves_what_another_worker_signed(
    keys_api: StartKeysApi, people: Accounts
) -> None:
    quick = HsmSettings(
        **{
            **FAST_HSM,
            "soft_units": 1,
            "call_timeout_s": 1.0,
            "health_interval_s": 0.2,
            "health_timeout_s": 0.5,
        }
    )
    a, b = await two_workers(keys_api, hsm=quick)
    first = await fetch_crl(a)
    serial = await revoke_new_certificate(b)
    async with hsm_stopped(a.services.hsm):
        with structlog.testing.capture_logs() as events:
            stale = await fetch_crl(a)
        # Worker A cannot sign: it serves the stored CRL (before its nextUpdate) and says so.
        assert stale.der == first.der
        assert any(event["event"] == "crl_reissue_deferred" for event in events)
        with structlog.testing.capture_logs() as events:
            fresh = await fetch_crl(b)  # A gave its claim up: B signs at once
            again = await fetch_crl(a)  # and A, still without an HSM, serves B's CRL
        assert [entry.serial_number for entry in fresh.entries] == [serial]
        assert number_of(fresh) > number_of(first)
        assert again.der == fresh.der
        assert not any(event["event"] == "crl_reissue_deferred" for event in events)


async def test_a_claim_left_by_a_dead_worker_lapses_and_the_next_number_is_higher(
    keys_api: StartKeysApi, people: Accounts, db: Database
) -> None:
    a, b = await two_workers(keys_api)
    before = await fetch_crl(a)
    ca = await a.services.keys.ca.get()
    await revoke_new_certificate(a)
    validity = crl_validity(CaSettings())
    # A third worker claims the re-issue (drawing a number) and dies before storing anything.
    token = uuid4()
    claim = await db.run(repo.claim_crl, ca.id, token, dt.timedelta(seconds=0.4), validity, None)
    assert isinstance(claim, repo.CrlSnapshot)
    assert claim.number == number_of(before) + 1
    started = trio.current_time()
    with structlog.testing.capture_logs() as events:
        served = await fetch_crl(b)  # waits for the claim, which lapses; B takes over
    assert trio.current_time() - started < CLAIM_LEASE.total_seconds()
    assert number_of(served) == claim.number + 1, "the lapsed claim's number is skipped, never reused"
    assert issued_numbers(events) == [number_of(served)]
    assert (await fetch_crl(a)).der == served.der
    # The dead worker's CRL, had it come back, is refused: its claim ended and its number is lower.
    late = repo.NewCrl(
        claim.number,
        served.der,
        served.this_update,
        served.this_update + validity,
        served.this_update + validity / 2,
        claim.state,
    )
    assert not await db.run(repo.store_crl, ca.id, token, late)
    assert (await fetch_crl(b)).der == served.der
