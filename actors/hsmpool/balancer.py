"""``Balancer``: sends each HSM request to the least-loaded healthy unit of the key's domain.

The data path does not go through a mailbox: an actor handles one message at a time, so routing every
call through one would serialize all HSM traffic of the worker (or cost a task per call) for a
decision that is synchronous and cheap. Callers call the Balancer directly, in their own task; it
reads the UnitHandles the UnitClient actors keep up to date (one trio thread: no locks) and calls
through the chosen handle, which does the accounting.

Routing: among the ``healthy`` units of the key's domain, the one with the fewest items in flight
(digests; 1 for other calls) — fewest outstanding calls, weighted by their size — ties broken in
turn; a single signature counts a unit with a coalesced frame about to leave a few items lighter,
so that a burst of arrivals shares one frame.

Retries: a request that fails with a retryable unit error (the unit died, hung, had no slot, was
stopping) goes to another unit of the domain, each unit at most once and at most ``max_attempts``
in all. Signing a digest, reading a public key, agreeing and unwrapping have no
side effects, so they are always retried. Key generation:

* soft units return the new key only as a blob in the reply, so a generation lost with its unit
  left nothing behind: it is retried like a signature;
* PKCS#11 units create a persistent object on the token under an id the unit chooses; if the unit
  died or timed out after the request was sent, the key may exist and a retry would leave an
  unreferenced key on the token. Only failures that prove the request was not executed (not sent,
  no slot, unit stopping) are retried; otherwise :class:`KeyGenerationOutcomeUnknownError`.

No healthy unit (left): :class:`HsmUnavailableError` (code ``hsm_unavailable``) at once — requests
fail fast instead of waiting for a restart, and succeed again as soon as a unit is back. Every healthy
unit already holding ``max_in_flight_items`` items: :class:`HsmBusyError` at once (load shedding: a
queue longer than that would only turn into call timeouts, and timeouts into needless restarts).
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, TypeVar

import trio

from actors.hsm.client import UnitConnection
from actors.hsm.errors import HsmError, HsmUnavailableError, NoSlotError, UnitStoppingError
from actors.hsm.protocol import KeyAlgorithm, KeyInfo
from actors.hsmpool.errors import HsmBusyError, KeyGenerationOutcomeUnknownError, UnknownKeyDomainError
from actors.hsmpool.handle import NotSentError, StateChanges, UnitHandle
from actors.hsmpool.messages import HsmKey, HsmKeyInfo, UnitState, UnitStatus
from actors.hsmpool.metrics import PoolCounters

_T = TypeVar("_T")

_NOT_EXECUTED: Final = (NotSentError, NoSlotError, UnitStoppingError)
"""Failures that prove the unit did not run the request."""
JOIN_BONUS: Final = 8
"""How many items lighter a unit looks to a single signature that can join a frame about to
leave for it (see :meth:`Balancer._pick`). Below 16 items a frame runs on one slot of the unit
anyway, so a burst of up to ~8 costs one frame without losing parallelism worth having."""


class Balancer:
    """The pool's request API: generate keys, sign digests, public keys, key agreement and unwrap."""

    def __init__(
        self,
        handles: Sequence[UnitHandle],
        *,
        changes: StateChanges | None = None,
        max_attempts: int = 3,
        max_digests_per_call: int = 1000,
        max_in_flight_items: int = 4096,
    ) -> None:
        """``changes``: the notifier the handles pulse (lets :meth:`wait_ready` sleep until one does)."""
        self._handles = tuple(handles)
        self._changes = changes if changes is not None else StateChanges()
        self._by_domain: dict[str, tuple[UnitHandle, ...]] = {}
        for handle in self._handles:
            self._by_domain[handle.domain] = (*self._by_domain.get(handle.domain, ()), handle)
        self._max_attempts = max_attempts
        self._chunk = max_digests_per_call
        self._limit = max_in_flight_items
        self._turn = itertools.count()
        self.counters = PoolCounters()
        """Requests, retries and failures of the pool."""

    # --- state ------------------------------------------------------------------------------------

    @property
    def domains(self) -> list[str]:
        """Key domains this pool serves, in plan order."""
        return list(self._by_domain)

    @property
    def default_domain(self) -> str | None:
        """Where keys are generated unless told otherwise: the first planned domain (soft first)."""
        return next(iter(self._by_domain), None)

    def healthy_count(self, domain: str | None = None) -> int:
        """Healthy units (of ``domain``, or of the whole pool)."""
        handles = self._handles if domain is None else self._by_domain.get(domain, ())
        return sum(1 for handle in handles if handle.routable)

    @property
    def ready(self) -> bool:
        """True when at least one unit is healthy."""
        return self.healthy_count() > 0

    def units(self) -> list[UnitStatus]:
        """A snapshot of every unit, in plan order."""
        return [handle.status() for handle in self._handles]

    def metrics(self) -> dict[str, Any]:
        """JSON-ready metrics: pool counters and per-unit status and counters."""
        units = self.units()
        return {
            "ready": self.ready,
            "healthy_units": sum(1 for unit in units if unit.state is UnitState.HEALTHY),
            **self.counters.snapshot(),
            "units": [_unit_json(unit) for unit in units],
        }

    async def wait_ready(self, *, units: int = 1, domain: str | None = None, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Wait until ``units`` units (of ``domain``) are healthy.

        :class:`HsmUnavailableError` after ``timeout`` seconds.
        """
        with trio.move_on_after(timeout):
            while self.healthy_count(domain) < units:
                await self._changes.wait()
            return
        raise HsmUnavailableError(f"fewer than {units} healthy HSM unit(s) after {timeout} s")

    # --- operations -------------------------------------------------------------------------------

    async def generate_key(
        self,
        algorithm: KeyAlgorithm | str,
        paramset: str | None = None,
        *,
        domain: str | None = None,
        op_id: str | None = None,
    ) -> HsmKeyInfo:
        """Generate a key pair in ``domain`` (default: :attr:`default_domain`)."""
        domain = domain if domain is not None else self.default_domain
        if domain is None:
            raise UnknownKeyDomainError("(none)", self.domains)

        async def generate(connection: UnitConnection) -> KeyInfo:
            return await connection.generate_key(algorithm, paramset, op_id=op_id)

        pkcs11 = any(handle.backend == "pkcs11" for handle in self._units_of(domain))
        retry_if = _was_not_executed if pkcs11 else None
        info = await self._run(domain, "generate_key", 1, generate, retry_if=retry_if)
        return HsmKeyInfo(domain, info)

    async def sign_digest(self, key: HsmKey, digest: bytes, *, op_id: str | None = None) -> bytes:
        """Sign one digest (concurrent single signatures share frames to the unit)."""

        # A plain function handing back the connection's coroutine, not a coroutine of its own: one
        # frame less to create and to pass through at each suspension of the call (~0.1 µs).
        def sign(connection: UnitConnection) -> Awaitable[bytes]:
            return connection.sign_digest(key.ref, digest, op_id=op_id)

        return await self._run(key.domain, "sign", 1, sign, join=True, key=key)

    async def sign_digests(
        self, key: HsmKey, digests: Sequence[bytes], *, op_id: str | None = None
    ) -> list[bytes]:
        """Sign several digests with one key; signatures come back in order.

        Batches over ``max_digests_per_call`` are split; the parts run side by side, one per healthy
        unit at a time.
        """
        if len(digests) <= self._chunk:
            return await self._sign_chunk(key, digests, op_id)
        chunks = [digests[start : start + self._chunk] for start in range(0, len(digests), self._chunk)]
        results: list[list[bytes]] = [[] for _ in chunks]
        failures: list[BaseException] = []
        # One part per healthy unit at a time: spread, but never crowd out other requests (or hit
        # the in-flight limit with this request's own parts).
        limiter = trio.CapacityLimiter(max(1, self.healthy_count(key.domain)))
        async with trio.open_nursery() as nursery:

            async def part(index: int) -> None:
                async with limiter:
                    try:
                        results[index] = await self._sign_chunk(key, chunks[index], op_id)
                    except HsmError as exc:  # one failure fails the batch: stop the other parts
                        failures.append(exc)
                        nursery.cancel_scope.cancel()

            for index in range(len(chunks)):
                nursery.start_soon(part, index)
        if failures:
            raise failures[0]
        return [signature for chunk in results for signature in chunk]

    async def _sign_chunk(self, key: HsmKey, digests: Sequence[bytes], op_id: str | None) -> list[bytes]:
        if not digests:
            return []

        def sign(connection: UnitConnection) -> Awaitable[list[bytes]]:  # see sign_digest
            return connection.sign_digests(key.ref, digests, op_id=op_id)

        return await self._run(key.domain, "sign", len(digests), sign, key=key)

    async def public_key(self, key: HsmKey) -> KeyInfo:
        """The key's public half (as the unit computes it)."""

        async def read(connection: UnitConnection) -> KeyInfo:
            return await connection.public_key(key.ref)

        return await self._run(key.domain, "public_key", 1, read)

    async def agree(
        self,
        key: HsmKey,
        peer_public: bytes,
        *,
        ukm: bytes = b"",
        output_size: int = 32,
        op_id: str | None = None,
    ) -> bytes:
        """VKO (GOST) or ECDH (P-256) shared secret of ``key`` with ``peer_public``."""

        async def agree(connection: UnitConnection) -> bytes:
            return await connection.agree(key.ref, peer_public, ukm=ukm, output_size=output_size, op_id=op_id)

        return await self._run(key.domain, "agree", 1, agree)

    async def unwrap(
        self,
        key: HsmKey,
        *,
        peer_public: bytes,
        ukm: bytes,
        iv: bytes,
        wrapped: bytes,
        cipher: str = "kuznyechik",
        op_id: str | None = None,
    ) -> bytes:
        """KEG + KImp15 inside a unit: the content-encryption key sent to ``key``."""

        async def unwrap(connection: UnitConnection) -> bytes:
            return await connection.unwrap(
                key.ref, peer_public=peer_public, ukm=ukm, iv=iv, wrapped=wrapped, cipher=cipher, op_id=op_id
            )

        return await self._run(key.domain, "unwrap", 1, unwrap)

    # --- routing and retries -------------------------------------------------------------------------

    def _units_of(self, domain: str) -> tuple[UnitHandle, ...]:
        handles = self._by_domain.get(domain)
        if handles is None:
            raise UnknownKeyDomainError(domain, self.domains)
        return handles

    def _pick(
        self,
        handles: tuple[UnitHandle, ...],
        tried: list[UnitHandle],
        items: int,
        join: bool = False,
        home: int | None = None,
    ) -> UnitHandle | None:
        """The least-loaded healthy untried unit with room for ``items``; :class:`HsmBusyError` if
        there are healthy untried units but none has room.

        ``join`` (single signatures): a unit whose connection holds single signatures about to
        leave in one frame counts :data:`JOIN_BONUS` items lighter, so a burst of arrivals
        shares one frame, one unit wake-up and one reply instead of being dealt out one by one
        — the lone-frame cost is most of a single signature's CPU — while a unit more than that
        ahead still loses to a lighter one.

        ``home`` (signatures): the unit that wins a tie, derived from the key, so a key is opened in
        one unit's key cache rather than in every unit in turn (opening a soft key costs ~1 ms,
        several signatures' worth); a lighter unit still wins, so load spreads as before.
        """
        count = len(handles)
        start = (next(self._turn) if home is None else home) % count
        best: UnitHandle | None = None
        best_load = 0
        full = False
        for offset in range(count):
            handle = handles[(start + offset) % count]
            if not handle.routable or handle in tried:
                continue
            if not handle.can_take(items, self._limit):
                full = True
                continue
            load = handle.outstanding_items
            if join and handle.joinable:
                load -= JOIN_BONUS
            if best is None or load < best_load:
                best, best_load = handle, load
        if best is None and full:
            raise HsmBusyError(f"every healthy HSM unit has {self._limit} items in flight")
        return best

    async def _run(
        self,
        domain: str,
        operation: str,
        items: int,
        fn: Callable[[UnitConnection], Awaitable[_T]],
        *,
        retry_if: Callable[[HsmError], bool] | None = None,
        join: bool = False,
        key: HsmKey | None = None,
    ) -> _T:
        handles = self._units_of(domain)
        counters = self.counters
        counters.requests[operation] += 1
        tried: list[UnitHandle] = []
        last: HsmError | None = None
        while len(tried) < self._max_attempts:
            try:
                handle = self._pick(handles, tried, items, join, None if key is None else _home(key))
            except HsmBusyError:
                counters.failures[HsmBusyError.code] += 1
                raise
            if handle is None:
                break
            if tried:
                counters.retries[operation] += 1
            tried.append(handle)
            try:
                return await handle.call(operation, items, fn)
            except HsmError as exc:
                if not exc.retryable:
                    counters.failures[exc.code] += 1
                    raise
                if retry_if is not None and not retry_if(exc):
                    counters.failures[KeyGenerationOutcomeUnknownError.code] += 1
                    raise KeyGenerationOutcomeUnknownError(
                        f"unit {handle.unit_id!r} was lost during {operation}; a key may exist on the token"
                    ) from exc
                last = exc
        counters.failures[HsmUnavailableError.code] += 1
        raise HsmUnavailableError(_unavailable_message(domain, handles, tried)) from last


def _home(key: HsmKey) -> int:
    """A stable number per key, spread evenly over keys."""
    return zlib.crc32(key.ref.key_id.encode())


def _was_not_executed(error: HsmError) -> bool:
    return isinstance(error, _NOT_EXECUTED)


def _unavailable_message(domain: str, handles: tuple[UnitHandle, ...], tried: list[UnitHandle]) -> str:
    states = ", ".join(f"{handle.unit_id}: {handle.state.value}" for handle in handles)
    if tried:
        return f"every HSM unit tried for domain {domain!r} failed ({states})"
    return f"no healthy HSM unit for domain {domain!r} ({states})"


def _unit_json(unit: UnitStatus) -> dict[str, Any]:
    return {
        "unit_id": unit.unit_id,
        "backend": unit.backend,
        "domain": unit.domain,
        "state": unit.state.value,
        "pid": unit.pid,
        "uptime_s": unit.uptime_s,
        "restarts": unit.restarts,
        "outstanding": unit.outstanding,
        "last_error": unit.last_error,
        **unit.metrics,
    }
