"""Streebog-256/512 (GOST R 34.11-2012) against RFC 6986 through the native provider."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signing.errors import InvalidInputError
from signing.gost import STREEBOG256, STREEBOG512, streebog256, streebog512, streebog_digest
from signing.gost.digest import streebog_name
from tests.signing.gost.conftest import load_vectors

VECTORS = load_vectors("streebog.json")["vectors"]


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["name"])
def test_rfc6986_examples(vector: dict[str, str]) -> None:
    message = bytes.fromhex(vector["message_hex"])
    assert streebog256(message).hexdigest() == vector["streebog256"]
    assert streebog512(message).hexdigest() == vector["streebog512"]
    assert streebog_digest(message).hex() == vector["streebog256"]
    assert streebog_digest(message, size=64).hex() == vector["streebog512"]


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["name"])
def test_stdlib_hashlib_is_native_after_first_use(vector: dict[str, str]) -> None:
    streebog_digest(b"")
    message = bytes.fromhex(vector["message_hex"])
    assert hashlib.new(STREEBOG256, message).hexdigest() == vector["streebog256"]
    assert hashlib.new(STREEBOG512, message).hexdigest() == vector["streebog512"]


def test_object_metadata() -> None:
    assert (streebog256().digest_size, streebog256().block_size) == (32, 64)
    assert (streebog512().digest_size, streebog512().block_size) == (64, 64)


@given(data=st.binary(max_size=300), cut=st.integers(min_value=0, max_value=300))
def test_incremental_and_copy_match_one_shot(data: bytes, cut: int) -> None:
    cut = min(cut, len(data))
    for size, factory in ((32, streebog256), (64, streebog512)):
        hasher = factory(data[:cut])
        clone = hasher.copy()
        hasher.update(data[cut:])
        clone.update(data[cut:])
        assert hasher.digest() == clone.digest() == streebog_digest(data, size=size)


@pytest.mark.parametrize("size", [0, 16, 48, 128])
def test_wrong_output_size_is_invalid_input(size: int) -> None:
    with pytest.raises(InvalidInputError):
        streebog_digest(b"x", size=size)
    with pytest.raises(InvalidInputError):
        streebog_name(size)
