"""HMAC_GOSTR3411_2012 and KDF_256 / KDF_TREE_256 (R 50.1.113-2016), PBKDF2 (R 50.1.111-2016)."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signing.errors import InvalidInputError
from signing.gost import (
    hmac_gostr3411_2012_256,
    hmac_gostr3411_2012_512,
    kdf_gostr3411_2012_256,
    kdf_tree_gostr3411_2012_256,
    new_hmac,
    pbkdf2_gostr3411_2012_512,
    streebog_digest,
)
from tests.signing.gost.conftest import load_vectors

R113 = load_vectors("r50_1_113.json")
PBKDF2 = load_vectors("pbkdf2.json")["vectors"]
RUN_SLOW = os.environ.get("KLYUCH_SLOW_VECTORS") == "1"


def _hex(record: dict[str, str], key: str) -> bytes:
    return bytes.fromhex(record[key])


def test_hmac_r50_1_113_examples() -> None:
    vector = R113["hmac"]
    key, data = _hex(vector, "key_hex"), _hex(vector, "data_hex")
    assert hmac_gostr3411_2012_256(key, data).hex() == vector["hmac256"]
    assert hmac_gostr3411_2012_512(key, data).hex() == vector["hmac512"]
    streaming = new_hmac(key, data[:5])
    streaming.update(data[5:])
    assert streaming.hexdigest() == vector["hmac256"]
    assert new_hmac(key, data, size=64).hexdigest() == vector["hmac512"]


def _rfc2104(key: bytes, data: bytes, size: int) -> bytes:
    """HMAC built by hand from our Streebog, as an independent check of OpenSSL's HMAC path."""
    if len(key) > 64:
        key = streebog_digest(key, size=size)
    key = key.ljust(64, b"\x00")
    inner = streebog_digest(bytes(b ^ 0x36 for b in key) + data, size=size)
    return streebog_digest(bytes(b ^ 0x5C for b in key) + inner, size=size)


@settings(max_examples=60)
@given(key=st.binary(max_size=150), data=st.binary(max_size=200))
def test_hmac_matches_rfc2104_construction(key: bytes, data: bytes) -> None:
    # Covers the empty message and keys longer than the 64-byte block (gostcrypto gets both wrong).
    assert hmac_gostr3411_2012_256(key, data) == _rfc2104(key, data, 32)
    assert hmac_gostr3411_2012_512(key, data) == _rfc2104(key, data, 64)


def test_kdf256_r50_1_113_example() -> None:
    vector = R113["kdf256"]
    out = kdf_gostr3411_2012_256(_hex(vector, "key_hex"), _hex(vector, "label_hex"), _hex(vector, "seed_hex"))
    assert out.hex() == vector["output"]


def test_kdf_tree_r50_1_113_example() -> None:
    vector = R113["kdf_tree256"]
    out = kdf_tree_gostr3411_2012_256(
        _hex(vector, "key_hex"),
        _hex(vector, "label_hex"),
        _hex(vector, "seed_hex"),
        length=vector["length"],
        r=vector["r"],
    )
    assert out.hex() == vector["output"]


@given(key=st.binary(min_size=32, max_size=32), label=st.binary(max_size=20), seed=st.binary(max_size=20))
def test_kdf256_is_the_one_block_kdf_tree(key: bytes, label: bytes, seed: bytes) -> None:
    assert kdf_gostr3411_2012_256(key, label, seed) == kdf_tree_gostr3411_2012_256(
        key, label, seed, length=32
    )


@pytest.mark.parametrize(("length", "r"), [(0, 1), (33, 1), (-32, 1), (64, 0), (64, 5), (32 * 256, 1)])
def test_kdf_tree_rejects_bad_parameters(length: int, r: int) -> None:
    with pytest.raises(InvalidInputError):
        kdf_tree_gostr3411_2012_256(b"k" * 32, b"l", b"s", length=length, r=r)


@pytest.mark.parametrize("vector", PBKDF2, ids=lambda v: f"c={v['iterations']},len={v['length']}")
def test_pbkdf2_r50_1_111_examples(vector: dict[str, object]) -> None:
    if vector.get("slow") and not RUN_SLOW:
        pytest.skip("16M iterations: set KLYUCH_SLOW_VECTORS=1")
    out = pbkdf2_gostr3411_2012_512(
        bytes.fromhex(str(vector["password_hex"])),
        bytes.fromhex(str(vector["salt_hex"])),
        int(str(vector["iterations"])),
        length=int(str(vector["length"])),
    )
    assert out.hex() == vector["output"]


@pytest.mark.parametrize(("iterations", "length"), [(0, 64), (-1, 64), (1, 0)])
def test_pbkdf2_rejects_bad_parameters(iterations: int, length: int) -> None:
    with pytest.raises(InvalidInputError):
        pbkdf2_gostr3411_2012_512(b"p", b"s", iterations, length=length)
