"""Pieces of the unit tested in this process: secrets hand-over, the soft key cache, a slot's inbox."""

from __future__ import annotations

import os
import threading

import pytest

from actors.hsm.backends.keycache import KeyCache
from actors.hsm.backends.soft import SoftBackend
from actors.hsm.errors import BlobInvalidError, UnitConfigError
from actors.hsm.handover import UnitSecrets, parse_secrets, read_secrets
from actors.hsm.kek import Kek
from actors.hsm.metrics import UnitMetrics
from actors.hsm.protocol import GenerateKey, KeyRef
from actors.hsm.slots import Inbox


def test_secrets_travel_through_a_pipe_and_the_fd_is_closed() -> None:
    secrets = UnitSecrets(auth_key=os.urandom(32), kek_passphrase="pass phrase", pkcs11_pin="0000")
    read_end, write_end = os.pipe()
    os.write(write_end, secrets.to_line() + b"anything after the line is ignored")
    os.close(write_end)
    assert read_secrets(read_end) == secrets
    with pytest.raises(OSError, match="Bad file descriptor"):
        os.fstat(read_end)
    assert "pass phrase" not in repr(secrets)


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json\n", b'{"auth_key": "00"}\n', b'{"kek_passphrase": "x"}\n', b'{"auth_key": 5}\n'],
)
def test_bad_secret_lines_are_configuration_errors(raw: bytes) -> None:
    with pytest.raises(UnitConfigError):
        parse_secrets(raw)


def test_pin_must_be_a_string() -> None:
    line = b'{"auth_key": "' + os.urandom(32).hex().encode() + b'", "pkcs11_pin": 1234}'
    with pytest.raises(UnitConfigError, match="strings"):
        parse_secrets(line)


def test_the_soft_key_cache_is_a_bounded_lru() -> None:
    session = SoftBackend(Kek.generate(), key_cache_size=2).open_session()
    keys = [session.generate_key(GenerateKey("gost3410_2012_256", "TC26_256_A")) for _ in range(3)]
    digest = b"\x01" * 32
    session.sign_digests(keys[2].ref(), [digest])  # generated keys are cached: a hit
    session.sign_digests(keys[1].ref(), [digest])  # hit; keys[0] was evicted by keys[2]
    assert session.cache_stats() == (2, 0)
    session.sign_digests(keys[0].ref(), [digest])  # miss: opened again, evicts keys[2]
    session.sign_digests(keys[2].ref(), [digest])  # miss
    assert session.cache_stats() == (2, 2)


def test_the_slots_of_a_unit_share_its_opened_keys() -> None:
    backend = SoftBackend(Kek.generate(), self_check=True)
    first, second = backend.open_session(), backend.open_session()
    info = first.generate_key(GenerateKey("gost3410_2012_256", "TC26_256_A"))
    digest = b"\x02" * 32
    second.sign_digests(info.ref(), [digest])  # opened (and cached) by the other slot: a hit
    assert (first.cache_stats(), second.cache_stats()) == ((0, 0), (1, 0))
    first.close()  # a slot closing (or crashing) leaves the unit's keys in place
    backend.open_session().sign_digests(info.ref(), [digest])
    assert second.cache_stats() == (1, 0)
    backend.close()
    second.sign_digests(info.ref(), [digest])  # the unit dropped its keys: opened again
    assert second.cache_stats() == (1, 1)


def test_the_key_cache_is_safe_under_threads() -> None:
    cache: KeyCache[int] = KeyCache(8)

    def churn(offset: int) -> None:
        for index in range(2000):
            blob = bytes([(index + offset) % 16])
            if cache.get(blob) is None:
                cache.put(blob, index)

    threads = [threading.Thread(target=churn, args=(offset,)) for offset in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache) == 8
    empty: KeyCache[int] = KeyCache(0)
    empty.put(b"x", 1)
    assert empty.get(b"x") is None


def test_a_cached_blob_still_checks_its_key_id() -> None:
    session = SoftBackend(Kek.generate()).open_session()
    info = session.generate_key(GenerateKey("ecdsa_p256"))
    with pytest.raises(BlobInvalidError, match="another key id"):
        session.sign_digests(KeyRef("ab" * 16, info.blob), [b"\x00" * 32])


def test_a_slot_inbox_delivers_every_item_in_order_and_sleeps_when_empty() -> None:
    inbox = Inbox()
    assert inbox.empty()
    received: list[tuple[int, int]] = []

    def consume() -> None:
        for _ in range(4 * 500):
            received.append(inbox.get())

    def produce(sender: int) -> None:
        for index in range(500):
            inbox.put((sender, index))

    consumer = threading.Thread(target=consume)
    consumer.start()  # sleeps on the empty inbox until the first put
    producers = [threading.Thread(target=produce, args=(sender,)) for sender in range(4)]
    for thread in producers:
        thread.start()
    for thread in producers:
        thread.join()
    consumer.join(timeout=10)
    assert not consumer.is_alive()
    assert inbox.empty()
    for sender in range(4):  # each sender's items arrive in the order it sent them
        assert [index for who, index in received if who == sender] == list(range(500))


def test_metrics_percentiles_and_threads() -> None:
    metrics = UnitMetrics(window=100)

    def record() -> None:
        for index in range(1000):
            metrics.record("sign", index / 1e6, items=2, error_code="hsm_x" if index % 100 == 0 else None)

    threads = [threading.Thread(target=record) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ops, errors = metrics.snapshot()
    assert (ops["sign"]["count"], ops["sign"]["items"], ops["sign"]["errors"]) == (4000, 8000, 40)
    assert errors == {"hsm_x": 40}
    assert 900 <= ops["sign"]["p50_us"] <= ops["sign"]["p99_us"] <= 999  # the window holds recent samples
