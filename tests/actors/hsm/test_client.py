"""The client against real units: authentication, limits, pipelining, timeouts, a killed unit."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio

from actors.hsm import auth, wire
from actors.hsm.client import open_unit_connection
from actors.hsm.codec import decode_error, decode_reply, encode_request
from actors.hsm.errors import (
    FrameTooLargeError,
    HsmAuthError,
    HsmRequestError,
    UnitLostError,
    UnitTimeoutError,
    UnknownOperationError,
)
from actors.hsm.protocol import FaultKind, KeyAlgorithm, KeyRef, Op, Signatures, SignDigests
from signing.gost import GostPublicKey, ParamSet, streebog_digest

from .conftest import StartUnit, Unit


async def _raw_connection(unit: Unit) -> trio.SocketStream:
    """An authenticated socket, speaking frames by hand."""
    stream = await trio.open_unix_socket(os.fspath(unit.socket))
    _, hello = await _read_frame(stream)
    nonce = auth.new_nonce()
    await stream.send_all(wire.pack(wire.Kind.AUTH, 0, auth.auth_body(unit.auth_key, hello, nonce)))
    kind, _ = await _read_frame(stream)
    assert kind == wire.Kind.WELCOME
    return stream


async def _read_frame(stream: trio.SocketStream) -> tuple[int, bytes]:
    data = b""
    while len(data) < 4 or len(data) < 4 + wire.LENGTH.unpack(data[:4])[0]:
        chunk = await stream.receive_some(65536)
        if not chunk:
            raise EOFError
        data += chunk
    kind, _, body = wire.split(data[4:])
    return kind, body


async def test_wrong_secret_is_refused_and_the_unit_keeps_serving(soft_pair: tuple[Unit, Unit]) -> None:
    unit, _ = soft_pair
    with pytest.raises(HsmAuthError):
        async with open_unit_connection(unit.socket, auth_key=os.urandom(32)):
            pass  # pragma: no cover - never reached
    async with unit.connect() as hsm:
        assert (await hsm.health()).status == "ok"


async def test_the_client_checks_the_unit_holds_the_secret_too(soft_pair: tuple[Unit, Unit]) -> None:
    unit_a, unit_b = soft_pair
    # Unit B's key is not A's: B refuses us before we could check its WELCOME. Either way: typed.
    with pytest.raises(HsmAuthError):
        async with open_unit_connection(unit_b.socket, auth_key=unit_a.auth_key):
            pass  # pragma: no cover


async def test_connecting_to_nothing_is_unit_lost() -> None:
    with pytest.raises(UnitLostError, match="cannot connect"):
        async with open_unit_connection("/tmp/klyuch-no-such-unit.sock", auth_key=os.urandom(32)):
            pass  # pragma: no cover


async def test_a_silent_peer_times_out_the_handshake() -> None:
    path = f"/tmp/kh-silent-{os.getpid()}.sock"
    listener = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_STREAM)
    await listener.bind(path)
    listener.listen(1)
    try:
        with pytest.raises(UnitTimeoutError, match="handshake"):
            async with open_unit_connection(path, auth_key=os.urandom(32), connect_timeout=0.3):
                pass  # pragma: no cover
    finally:
        listener.close()
        os.unlink(path)


async def test_a_client_that_never_authenticates_is_dropped(unit_factory: StartUnit) -> None:
    unit = await unit_factory("strict", extra_args=("--handshake-timeout", "0.2"))
    stream = await trio.open_unix_socket(os.fspath(unit.socket))
    kind, _ = await _read_frame(stream)
    assert kind == wire.Kind.HELLO
    with trio.fail_after(5), pytest.raises(EOFError):
        await _read_frame(stream)  # no AUTH from us: the unit hangs up
    await stream.aclose()
    async with unit.connect() as hsm:
        assert (await hsm.health()).status == "ok"


async def test_frame_too_large_is_refused_then_the_connection_closes(unit_factory: StartUnit) -> None:
    unit = await unit_factory("small", max_frame=4096)
    stream = await _raw_connection(unit)
    # Only the header: the unit must refuse on the announced length, before any body arrives.
    await stream.send_all(wire.HEADER.pack(wire.MIN_LENGTH + 10_000, Op.SIGN_DIGESTS, 7))
    kind, body = await _read_frame(stream)
    assert kind == wire.Kind.ERROR
    assert isinstance(decode_error(body), FrameTooLargeError)
    with pytest.raises(EOFError):
        await _read_frame(stream)
    await stream.aclose()
    async with unit.connect() as hsm:
        assert hsm.unit_max_frame == 4096
        info = await hsm.generate_key(KeyAlgorithm.GOST3410_2012_256, "TC26_256_A")
        with pytest.raises(FrameTooLargeError):
            await hsm.sign_digests(info.ref(), [b"\x00" * 32] * 200)  # refused here, nothing sent
        with pytest.raises(FrameTooLargeError):
            await hsm.sign_digest(KeyRef(info.key_id, b"\x00" * 5000), b"\x00" * 32)  # not even batched
        assert len(await hsm.sign_digests(info.ref(), [b"\x00" * 32] * 10)) == 10


async def test_frames_are_read_however_the_bytes_arrive(soft_pair: tuple[Unit, Unit]) -> None:
    unit, _ = soft_pair
    async with unit.connect() as hsm:
        info = await hsm.generate_key(KeyAlgorithm.GOST3410_2012_256, "TC26_256_A")
    public = GostPublicKey.from_point_bytes(ParamSet.TC26_256_A, info.public_key)
    stream = await _raw_connection(unit)
    small = [(index, bytes([index]) * 32) for index in range(1, 4)]
    frames = [wire.pack(Op.SIGN_DIGESTS, i, encode_request(SignDigests(info.ref(), (d,)))) for i, d in small]
    # Three frames in one write, then one trickled a few bytes at a time (cut inside its header).
    await stream.send_all(b"".join(frames))
    trickled = wire.pack(Op.SIGN_DIGESTS, 4, encode_request(SignDigests(info.ref(), (b"\x04" * 32,))))
    for start in range(0, len(trickled), 3):
        await stream.send_all(trickled[start : start + 3])
        await trio.sleep(0.001)
    # A frame larger than the unit's 256 KiB read buffer (10,000 digests: 320 KiB of them).
    big = [index.to_bytes(32, "little") for index in range(1, 10_001)]
    await stream.send_all(wire.pack(Op.SIGN_DIGESTS, 5, encode_request(SignDigests(info.ref(), tuple(big)))))
    replies: dict[int, bytes] = {}
    with trio.fail_after(60):
        while len(replies) < 5:
            kind, request_id, body = await _read_frame_with_id(stream)
            assert kind == wire.Kind.OK
            replies[request_id] = body
    for request_id, digest in [*small, (4, b"\x04" * 32)]:
        (signature,) = decode_reply(Signatures, replies[request_id]).signatures
        public.verify_digest(digest, signature)
    signatures = decode_reply(Signatures, replies[5]).signatures
    assert len(signatures) == len(big)
    public.verify_digest(big[-1], signatures[-1])
    # A peer that hangs up inside a frame costs the unit nothing but that connection.
    await stream.send_all(trickled[:7])
    await stream.aclose()
    async with unit.connect() as hsm:
        assert (await hsm.health()).status == "ok"


async def _read_frame_with_id(stream: trio.SocketStream) -> tuple[int, int, bytes]:
    data = b""
    while len(data) < 4 or len(data) < 4 + wire.LENGTH.unpack(data[:4])[0]:
        chunk = await stream.receive_some(
            4 + wire.LENGTH.unpack(data[:4])[0] - len(data) if len(data) >= 4 else 4
        )
        if not chunk:
            raise EOFError
        data += chunk
    return wire.split(data[4:])


async def test_unknown_operations_and_bad_bodies_get_typed_errors(soft_pair: tuple[Unit, Unit]) -> None:
    unit, _ = soft_pair
    stream = await _raw_connection(unit)
    await stream.send_all(wire.pack(0x42, 1, b"{}"))
    kind, body = await _read_frame(stream)
    assert (kind, type(decode_error(body))) == (wire.Kind.ERROR, UnknownOperationError)
    await stream.send_all(wire.pack(Op.SIGN_DIGESTS, 2, b"{not json"))
    kind, body = await _read_frame(stream)
    assert (kind, type(decode_error(body))) == (wire.Kind.ERROR, HsmRequestError)
    # Fault injection is off on ordinary units.
    await stream.send_all(wire.pack(Op.INJECT_FAULT, 3, b'{"kind": "exit_unit"}'))
    kind, body = await _read_frame(stream)
    assert isinstance(decode_error(body), UnknownOperationError)
    await stream.aclose()


async def test_concurrent_calls_are_pipelined_on_one_connection(soft_pair: tuple[Unit, Unit]) -> None:
    unit, _ = soft_pair
    paramset = ParamSet.TC26_256_A
    async with unit.connect() as hsm:
        info = await hsm.generate_key(KeyAlgorithm.GOST3410_2012_256, paramset.name)
        digests = [streebog_digest(i.to_bytes(2, "big"), size=32) for i in range(200)]
        signatures: dict[int, bytes] = {}
        most_in_flight = 0

        async def sign(index: int) -> None:
            nonlocal most_in_flight
            most_in_flight = max(most_in_flight, hsm.in_flight + 1)
            signatures[index] = await hsm.sign_digest(info.ref(), digests[index])

        async with trio.open_nursery() as nursery:
            for index in range(len(digests)):
                nursery.start_soon(sign, index)
        # A big list and a health check: the health answer overtakes the list (replies in completion order).
        order: list[str] = []

        async def big() -> None:
            await hsm.sign_digests(info.ref(), digests * 5)
            order.append("big")

        async def health() -> None:
            await trio.sleep(0.005)
            await hsm.health()
            order.append("health")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(big)
            nursery.start_soon(health)
    assert most_in_flight > 50
    # Finished calls leave the deadline watchdog's queues as they finish, not in one burst later.
    assert hsm.deadlines_held == 0
    public = GostPublicKey.from_point_bytes(paramset, info.public_key)
    for index, digest in enumerate(digests):
        public.verify_digest(digest, signatures[index])
    assert order == ["health", "big"]


async def test_a_stopped_unit_times_out_and_recovers(unit_factory: StartUnit) -> None:
    unit = await unit_factory("sleepy")
    async with unit.connect(call_timeout=0.3) as hsm:
        info = await hsm.generate_key(KeyAlgorithm.GOST3410_2012_256, "TC26_256_A")
        async with _stopped(unit):
            with pytest.raises(UnitTimeoutError) as caught:
                await hsm.sign_digest(info.ref(), b"\x00" * 32)
            assert caught.value.retryable
        # The late reply is dropped; the connection still works.
        assert len(await hsm.sign_digest(info.ref(), b"\x01" * 32, timeout=5.0)) == 64


async def test_cancelled_calls_leave_the_deadline_queue_at_once(unit_factory: StartUnit) -> None:
    # A caller that gives up (cancelled, e.g. its client went away) leaves nothing behind to wait
    # for its deadline: kept, it would hold every later call's entry until then, and those would
    # all be freed in one burst.
    unit = await unit_factory("cancelled")
    async with unit.connect(call_timeout=30.0) as hsm:
        info = await hsm.generate_key(KeyAlgorithm.GOST3410_2012_256, "TC26_256_A")

        async def give_up() -> None:
            with trio.move_on_after(0.1):
                await hsm.sign_digests(info.ref(), [b"\x03" * 32])

        async with _stopped(unit):
            async with trio.open_nursery() as nursery:
                for _ in range(3):
                    nursery.start_soon(give_up)
            assert hsm.in_flight == 0
            assert hsm.deadlines_held == 0
        assert len(await hsm.sign_digest(info.ref(), b"\x04" * 32, timeout=5.0)) == 64


async def test_calls_of_different_timeouts_each_expire_on_time(unit_factory: StartUnit) -> None:
    # One watchdog expires every call (no cancel scope per call): a short timeout asked after a
    # long one is still honoured, each call fails at its own deadline, not at the other's.
    unit = await unit_factory("deadlines")
    async with unit.connect(call_timeout=30.0) as hsm:
        info = await hsm.generate_key(KeyAlgorithm.GOST3410_2012_256, "TC26_256_A")
        failed_after: dict[float, float] = {}

        async def sign(limit: float) -> None:
            began = trio.current_time()
            with pytest.raises(UnitTimeoutError):
                await hsm.sign_digests(info.ref(), [b"\x02" * 32], timeout=limit)
            failed_after[limit] = trio.current_time() - began

        async with _stopped(unit), trio.open_nursery() as nursery:
            nursery.start_soon(sign, 1.5)
            await trio.sleep(0.05)
            nursery.start_soon(sign, 0.3)
    assert 0.3 <= failed_after[0.3] < 0.8
    assert 1.5 <= failed_after[1.5] < 2.0


async def test_single_signatures_wait_for_the_reply_of_the_frame_in_flight(unit_factory: StartUnit) -> None:
    # Reply-clocked coalescing: while a coalesced frame is out, later single signatures — asked
    # one scheduler pass apart, so no yield would batch them — wait and leave in one frame.
    unit = await unit_factory("nagle")
    async with unit.connect() as hsm:
        key = await hsm.generate_key(KeyAlgorithm.GOST3410_2012_256, "TC26_256_A")
        before = (await hsm.metrics()).ops.get("sign_many", {"count": 0, "items": 0})
        signatures: list[bytes] = []

        async def sign(digest: bytes) -> None:
            signatures.append(await hsm.sign_digest(key.ref(), digest))

        async with _stopped(unit), trio.open_nursery() as nursery:  # keeps the first frame in flight
            for index in range(11):
                nursery.start_soon(sign, bytes([index + 1]) * 32)
                for _ in range(3):
                    await trio.lowlevel.checkpoint()
            assert hsm.in_flight == 11
            unit.process.send_signal(signal.SIGCONT)
        after = (await hsm.metrics()).ops["sign_many"]
    assert (after["count"] - before["count"], after["items"] - before["items"]) == (2, 11)
    assert len(signatures) == 11


async def test_a_reply_releases_more_waiting_signatures_than_the_socket_takes_at_once(
    unit_factory: StartUnit,
) -> None:
    # The reader sends what waited for a reply without parking; what the kernel does not take
    # at once (here ~1 MB of frames) is finished by a task of its own, and every call completes.
    unit = await unit_factory("flood")
    async with unit.connect() as hsm:
        key = await hsm.generate_key(KeyAlgorithm.GOST3410_2012_256, "TC26_256_A")
        done = 0

        async def sign(index: int) -> None:
            nonlocal done
            await hsm.sign_digest(key.ref(), index.to_bytes(4, "big") * 8, op_id="x" * 100)
            done += 1

        async with _stopped(unit), trio.open_nursery() as nursery:
            nursery.start_soon(sign, 0)
            for _ in range(10):  # the first frame leaves alone; the rest wait for its reply
                await trio.lowlevel.checkpoint()
            for index in range(1, 4000):
                nursery.start_soon(sign, index)
            for _ in range(3):
                await trio.lowlevel.checkpoint()
            unit.process.send_signal(signal.SIGCONT)
        assert done == 4000
        assert (await hsm.metrics()).in_flight == 0


@asynccontextmanager
async def _stopped(unit: Unit) -> AsyncIterator[None]:
    """The unit's process stopped (SIGSTOP, and seen stopped) within the block; continued after it."""
    unit.process.send_signal(signal.SIGSTOP)
    await _wait_state(unit.process.pid, "T")  # stopped for real, not just signalled
    try:
        yield
    finally:
        unit.process.send_signal(signal.SIGCONT)


async def _wait_state(pid: int, state: str) -> None:
    with trio.fail_after(5):
        for _ in range(1000):  # polling /proc: there is no event to wait for
            if (await trio.Path(f"/proc/{pid}/stat").read_text()).split(")")[1].split()[0] == state:
                return
            await trio.sleep(0.005)


async def test_a_killed_unit_fails_pending_and_later_calls_with_unit_lost(unit_factory: StartUnit) -> None:
    unit = await unit_factory("doomed")
    async with unit.connect(call_timeout=30.0) as hsm:
        info = await hsm.generate_key(KeyAlgorithm.GOST3410_2012_256, "TC26_256_A")
        outcomes: list[UnitLostError] = []

        async def sign_a_lot() -> None:
            try:
                await hsm.sign_digests(info.ref(), [b"\x00" * 32] * 10_000)  # ≥ 150 ms of work each
            except UnitLostError as exc:
                outcomes.append(exc)

        started = time.monotonic()
        async with trio.open_nursery() as nursery:
            for _ in range(4):
                nursery.start_soon(sign_a_lot)
            await trio.sleep(0.03)
            unit.process.send_signal(signal.SIGKILL)
        assert len(outcomes) == 4
        assert all(exc.retryable for exc in outcomes)
        assert time.monotonic() - started < 5  # seen as lost at once, not after the 30 s timeout
        assert hsm.is_lost
        with pytest.raises(UnitLostError):
            await hsm.health()
    assert await unit.process.wait() == -signal.SIGKILL


async def test_exit_fault_is_seen_as_unit_lost(unit_factory: StartUnit) -> None:
    unit = await unit_factory("exiting", test_faults=True)
    async with unit.connect() as hsm:
        with pytest.raises(UnitLostError):
            await hsm.inject_fault(FaultKind.EXIT_UNIT)
    assert await unit.process.wait() == 70
