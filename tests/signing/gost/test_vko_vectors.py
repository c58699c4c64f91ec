"""VKO_GOSTR3410_2012_256/512 (RFC 7836, R 50.1.113-2016) and KEG through the engine."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signing.errors import InvalidInputError, UnsupportedAlgorithmError
from signing.gost import GostPrivateKey, GostPublicKey, ParamSet, kdf_tree_gostr3411_2012_256
from tests.signing.gost.conftest import load_vectors

VKO = load_vectors("vko.json")
PARAMSET = ParamSet.from_oid(VKO["paramset_oid"])
PAIRS = {p: (GostPrivateKey.generate(p), GostPrivateKey.generate(p)) for p in ParamSet.production()}


def _key(name: str) -> GostPrivateKey:
    return GostPrivateKey.from_private_bytes(PARAMSET, bytes.fromhex(VKO[f"d_{name}"]))


def test_rfc7836_keys() -> None:
    assert _key("a").public_key().point_bytes().hex() == VKO["q_a"]
    assert _key("b").public_key().point_bytes().hex() == VKO["q_b"]


@pytest.mark.parametrize(("output_size", "expected"), [(32, "vko256"), (64, "vko512")])
def test_rfc7836_vko_both_directions(output_size: int, expected: str) -> None:
    ukm = bytes.fromhex(VKO["ukm"])
    q_a = GostPublicKey.from_point_bytes(PARAMSET, bytes.fromhex(VKO["q_a"]))
    q_b = GostPublicKey.from_point_bytes(PARAMSET, bytes.fromhex(VKO["q_b"]))
    assert _key("a").vko(q_b, ukm, output_size=output_size).hex() == VKO[expected]
    assert _key("b").vko(q_a, ukm, output_size=output_size).hex() == VKO[expected]


@pytest.mark.parametrize("paramset", ParamSet.production(), ids=lambda p: p.name)
@settings(max_examples=5, deadline=None)
@given(ukm=st.binary(min_size=1, max_size=16).filter(any))
def test_vko_agrees_both_ways(paramset: ParamSet, ukm: bytes) -> None:
    a, b = PAIRS[paramset]
    sizes = (32, 64) if paramset.key_size == 512 else (32,)
    for size in sizes:
        shared = a.vko(b.public_key(), ukm, output_size=size)
        assert len(shared) == size
        assert shared == b.vko(a.public_key(), ukm, output_size=size)
        assert shared != a.vko(a.public_key(), ukm, output_size=size)


def test_ukm_is_a_little_endian_integer() -> None:
    a, b = PAIRS[ParamSet.TC26_256_A]
    assert a.vko(b.public_key(), b"\x05") == a.vko(b.public_key(), b"\x05\x00\x00\x00\x00\x00\x00\x00")
    assert a.vko(b.public_key(), b"\x05") != a.vko(b.public_key(), b"\x00\x05")


def test_vko_input_checks() -> None:
    a, b = PAIRS[ParamSet.TC26_256_A]
    a512, b512 = PAIRS[ParamSet.TC26_512_A]
    for ukm in (b"", bytes(8), bytes(17)):
        with pytest.raises(InvalidInputError):
            a.vko(b.public_key(), ukm)
    with pytest.raises(InvalidInputError):
        a512.vko(b512.public_key(), bytes(33) + b"\x01")
    a512.vko(b512.public_key(), b"\x01" * 32, output_size=64)
    with pytest.raises(UnsupportedAlgorithmError):
        a.vko(b.public_key(), b"\x01", output_size=64)
    with pytest.raises(InvalidInputError):
        a.vko(b.public_key(), b"\x01", output_size=48)
    with pytest.raises(InvalidInputError):
        a.vko(PAIRS[ParamSet.TC26_256_B][0].public_key(), b"\x01")
    with pytest.raises(InvalidInputError):
        a.vko(b, b"\x01")  # type: ignore[arg-type]


@pytest.mark.parametrize("paramset", [ParamSet.TC26_256_A, ParamSet.TC26_512_A], ids=lambda p: p.name)
@settings(max_examples=5, deadline=None)
@given(ukm=st.binary(min_size=32, max_size=32).filter(lambda u: any(u[:16])))
def test_keg_is_vko_then_kdf_tree(paramset: ParamSet, ukm: bytes) -> None:
    a, b = PAIRS[paramset]
    exported = a.keg(b.public_key(), ukm)
    assert exported == b.keg(a.public_key(), ukm)
    # KEG reads ukm[0:16] big-endian, VKO reads its UKM little-endian: hence the reversal.
    ukm_prime = ukm[:16][::-1]
    if paramset.key_size == 512:
        assert exported == a.vko(b.public_key(), ukm_prime, output_size=64)
    else:
        vko = a.vko(b.public_key(), ukm_prime)
        assert exported == kdf_tree_gostr3411_2012_256(vko, b"kdf tree", ukm[16:24], length=64)


def test_keg_refuses_a_zero_ukm_prime() -> None:
    # gost-engine 3.0.1 maps it to 2^120 instead of the standard's 1: refuse, do not diverge.
    a, b = PAIRS[ParamSet.TC26_512_A]
    with pytest.raises(InvalidInputError):
        a.keg(b.public_key(), bytes(16) + bytes(range(16)))


def test_keg_needs_32_bytes() -> None:
    a, b = PAIRS[ParamSet.TC26_256_A]
    with pytest.raises(InvalidInputError):
        a.keg(b.public_key(), bytes(16))
