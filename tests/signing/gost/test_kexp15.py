"""KExp15 / KImp15: R 1323565.1.017-2018 vectors, composition, round trips and tampering."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signing.errors import IntegrityCheckError, InvalidInputError, UnsupportedAlgorithmError
from signing.gost.cipher import Algorithm, new_cipher
from signing.gost.kexp15 import Kexp15, kexp15, kimp15

VECTORS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "vectors" / "kexp15_r_1323565_1_017_2018.json").read_text()
)["vectors"]
IV_SIZE = {Algorithm.KUZNYECHIK: 8, Algorithm.MAGMA: 4}
TAG_SIZE = {Algorithm.KUZNYECHIK: 16, Algorithm.MAGMA: 8}


def _args(vector: dict[str, Any]) -> dict[str, Any]:
    return {
        "algorithm": vector["algorithm"],
        "enc_key": bytes.fromhex(vector["enc_key"]),
        "mac_key": bytes.fromhex(vector["mac_key"]),
        "iv": bytes.fromhex(vector["iv"]),
    }


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_standard_vectors(vector: dict[str, Any]) -> None:
    key, blob = bytes.fromhex(vector["key"]), bytes.fromhex(vector["export"])
    assert kexp15(key, **_args(vector)) == blob
    assert kimp15(blob, **_args(vector)) == key


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_is_ctr_of_key_and_omac(vector: dict[str, Any]) -> None:
    # The definition, spelled out with the (separately tested) cipher API.
    args, key = _args(vector), bytes.fromhex(vector["key"])
    tag = new_cipher(args["algorithm"], args["mac_key"]).mac(args["iv"] + key)
    expected = new_cipher(args["algorithm"], args["enc_key"]).ctr(args["iv"], key + tag)
    assert kexp15(key, **args) == expected


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_every_flipped_bit_is_detected(vector: dict[str, Any]) -> None:
    blob = bytes.fromhex(vector["export"])
    for position in range(len(blob)):
        for bit in (0x01, 0x80):
            damaged = bytearray(blob)
            damaged[position] ^= bit
            with pytest.raises(IntegrityCheckError, match="does not verify") as caught:
                kimp15(damaged, **_args(vector))
            assert caught.value.code == "integrity_check_failed"


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_wrong_keys_or_iv_are_detected(vector: dict[str, Any]) -> None:
    blob = bytes.fromhex(vector["export"])
    for field in ("enc_key", "mac_key", "iv"):
        args = _args(vector)
        args[field] = bytes([args[field][0] ^ 1]) + args[field][1:]
        with pytest.raises(IntegrityCheckError):
            kimp15(blob, **args)
    with pytest.raises(IntegrityCheckError):
        kimp15(blob[:-1] + bytes([blob[-1] ^ 1]), **_args(vector))


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_truncated_or_extended_blobs(vector: dict[str, Any]) -> None:
    blob, tag = bytes.fromhex(vector["export"]), TAG_SIZE[Algorithm(vector["algorithm"])]
    for bad in (b"", blob[:tag]):
        with pytest.raises(InvalidInputError, match="blob must be"):
            kimp15(bad, **_args(vector))
    for bad in (blob[:-1], blob + b"\x00", blob[1:]):
        with pytest.raises(IntegrityCheckError):
            kimp15(bad, **_args(vector))


@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_wrong_lengths(algorithm: Algorithm) -> None:
    good: dict[str, Any] = {
        "algorithm": algorithm,
        "enc_key": bytes(32),
        "mac_key": bytes(range(32)),
        "iv": bytes(IV_SIZE[algorithm]),
    }
    for field, value in (
        ("enc_key", bytes(31)),
        ("mac_key", bytes(33)),
        ("iv", bytes(IV_SIZE[algorithm] + 1)),
        ("iv", b""),
    ):
        with pytest.raises(InvalidInputError):
            kexp15(bytes(32), **{**good, field: value})
        with pytest.raises(InvalidInputError):
            kimp15(bytes(48), **{**good, field: value})
    with pytest.raises(InvalidInputError, match="key must be"):
        kexp15(b"", **good)
    with pytest.raises(UnsupportedAlgorithmError):
        kexp15(bytes(32), **{**good, "algorithm": "gost89"})


@pytest.mark.parametrize("algorithm", list(Algorithm))
@settings(max_examples=40, deadline=None)
@given(
    key=st.binary(min_size=1, max_size=96),
    enc_key=st.binary(min_size=32, max_size=32),
    mac_key=st.binary(min_size=32, max_size=32),
    data=st.data(),
)
def test_round_trip(
    algorithm: Algorithm, key: bytes, enc_key: bytes, mac_key: bytes, data: st.DataObject
) -> None:
    iv = data.draw(st.binary(min_size=IV_SIZE[algorithm], max_size=IV_SIZE[algorithm]))
    args: dict[str, Any] = {"algorithm": algorithm, "enc_key": enc_key, "mac_key": mac_key, "iv": iv}
    blob = kexp15(key, **args)
    assert len(blob) == len(key) + TAG_SIZE[algorithm]
    assert kimp15(bytearray(blob), **args) == key


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_reusable_object_across_threads(vector: dict[str, Any]) -> None:
    args = _args(vector)
    wrapper = Kexp15(args["algorithm"], enc_key=args["enc_key"], mac_key=args["mac_key"])
    key, blob = bytes.fromhex(vector["key"]), bytes.fromhex(vector["export"])
    assert wrapper.tag_size == TAG_SIZE[Algorithm(vector["algorithm"])]
    assert vector["enc_key"] not in repr(wrapper).lower()
    results: list[bool] = []

    def work() -> None:
        for _ in range(50):
            results.append(
                wrapper.wrap(key, iv=args["iv"]) == blob and wrapper.unwrap(blob, iv=args["iv"]) == key
            )

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True] * 200
