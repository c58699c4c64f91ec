"""Native-binding properties: GIL release, parallel signing, memory stability, self-tests, errors."""

from __future__ import annotations

import ctypes
import gc
import threading
import time

import psutil
import pytest

from signing.errors import EngineUnavailableError, InvalidSignatureError
from signing.gost import GostPrivateKey, GostPublicKey, ParamSet, _pkey, selftest
from signing.gost._libcrypto import _load_engine, bind, crypto_error, drain_errors

_FUNCFLAG_PYTHONAPI = 0x4  # ctypes: a PYFUNCTYPE keeps the GIL; CFUNCTYPE releases it.


def test_native_calls_release_the_gil() -> None:
    native = _pkey.native()
    for function in (native.sign, native.verify, native.keygen, native.derive, native.check):
        assert not type(function)._flags_ & _FUNCFLAG_PYTHONAPI  # type: ignore[attr-defined]


def test_python_runs_while_a_thread_is_inside_the_engine() -> None:
    # While one thread signs in a loop, a pure-Python counter in another thread keeps running.
    key = GostPrivateKey.generate(ParamSet.TC26_512_A)
    digest = bytes(64)
    stop = threading.Event()
    ticks = 0

    def count() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1

    counter = threading.Thread(target=count)
    counter.start()
    try:
        deadline = time.perf_counter() + 0.3
        signed = 0
        while time.perf_counter() < deadline:
            key.sign_digest(digest)
            signed += 1
    finally:
        stop.set()
        counter.join()
    assert signed > 10
    assert ticks > 1000


def _sign_loop(key: GostPrivateKey, seconds: float) -> int:
    digest, count = bytes(32), 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        key.sign_digest(digest)
        count += 1
    return count


def test_two_threads_sign_concurrently_with_one_key() -> None:
    key = GostPrivateKey.generate(ParamSet.TC26_256_A)
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(_sign_loop(key, 0.4))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2
    assert min(results) > 0
    # Every signature made concurrently is valid.
    digest = bytes(32)
    signatures: list[bytes] = []
    workers = [
        threading.Thread(target=lambda: signatures.extend(key.sign_digest(digest) for _ in range(50)))
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(signatures) == 200
    for signature in signatures:
        key.public_key().verify_digest(digest, signature)


def _churn(rounds: int) -> None:
    for paramset, share in ((ParamSet.TC26_256_A, 1.0), (ParamSet.TC26_512_A, 0.1)):
        peer = GostPrivateKey.generate(paramset).public_key()
        for _ in range(int(rounds * share)):
            key = GostPrivateKey.generate(paramset)
            again = GostPrivateKey.from_private_bytes(paramset, key.private_bytes())
            public = GostPublicKey.from_point_bytes(paramset, again.public_key().point_bytes())
            signature = again.sign(b"leak check")
            public.verify(b"leak check", signature)
            with pytest.raises(InvalidSignatureError):
                public.verify(b"leak check!", signature)
            again.vko(peer, b"\x01\x02")


def test_no_native_leak_over_thousands_of_operations() -> None:
    # Warm up (allocator pools, caches), then RSS must stay flat: each round makes 4 EVP_PKEYs,
    # a dozen contexts and buffers, so a per-operation leak of even 100 bytes would show.
    process = psutil.Process()
    _churn(200)
    gc.collect()
    before = process.memory_info().rss
    _churn(1000)
    gc.collect()
    grown = process.memory_info().rss - before
    assert grown < 2 * 1024 * 1024, f"RSS grew by {grown} bytes"


def test_error_queue_is_left_empty() -> None:
    key = GostPrivateKey.generate(ParamSet.TC26_256_A)
    assert not key.public_key().is_valid_digest_signature(bytes(32), bytes(64))
    with pytest.raises(Exception):  # noqa: B017, PT011 - any typed error; the queue is the point
        GostPrivateKey.from_private_bytes(ParamSet.TC26_256_A, bytes(32))
    assert drain_errors() == []


def test_crypto_error_drains_and_quotes_the_queue() -> None:
    bind("ERR_new", None)()
    bind("ERR_set_error", None, ctypes.c_int, ctypes.c_int, ctypes.c_char_p)(6, 100, None)
    error = crypto_error("a native step")
    assert error.code == "crypto_error"
    assert "a native step failed" in str(error)
    assert drain_errors() == []


def test_missing_engine_names_the_package() -> None:
    with pytest.raises(EngineUnavailableError) as caught:
        _load_engine(b"klyuch-no-such-engine")
    assert "libengine-gost-openssl" in str(caught.value)
    assert caught.value.code == "engine_unavailable"


def test_self_tests_pass_and_are_repeatable() -> None:
    selftest.check_streebog()
    for paramset in (ParamSet.TC26_256_A, ParamSet.TC26_512_C):
        selftest.check_sign_verify(paramset)
    selftest.ensure_engine()
