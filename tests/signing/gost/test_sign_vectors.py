"""GOST R 34.10-2012 against RFC 7091, the parameter set table, and a pure-Python oracle."""

from __future__ import annotations

import hashlib

import pytest

from signing.errors import UnsupportedAlgorithmError
from signing.gost import GostPrivateKey, GostPublicKey, ParamSet
from tests.signing.gost.conftest import REF_CURVES, RefCurve, load_vectors

RFC7091 = load_vectors("gost3410_2012.json")["vectors"]


def _le(hex_be: str, size: int) -> bytes:
    return int(hex_be, 16).to_bytes(size, "little")


def _be(hex_be: str, size: int) -> bytes:
    return int(hex_be, 16).to_bytes(size, "big")


@pytest.mark.parametrize("vector", RFC7091, ids=lambda v: v["name"])
def test_rfc7091_public_key_from_d(vector: dict[str, str]) -> None:
    paramset = ParamSet.from_oid(vector["paramset_oid"], allow_test=True)
    size = paramset.size
    key = GostPrivateKey.from_private_bytes(paramset, _le(vector["d"], size))
    assert key.public_key().point_bytes() == _le(vector["qx"], size) + _le(vector["qy"], size)
    assert key.private_bytes() == _le(vector["d"], size)


@pytest.mark.parametrize("vector", RFC7091, ids=lambda v: v["name"])
def test_rfc7091_signature_verifies(vector: dict[str, str]) -> None:
    paramset = ParamSet.from_oid(vector["paramset_oid"], allow_test=True)
    size = paramset.size
    public = GostPublicKey.from_point_bytes(paramset, _le(vector["qx"], size) + _le(vector["qy"], size))
    digest = _le(vector["e"], size)  # e < q, so the digest is e itself, little-endian
    signature = _be(vector["s"], size) + _be(vector["r"], size)
    public.verify_digest(digest, signature)
    assert not public.is_valid_digest_signature(bytes([digest[0] ^ 1]) + digest[1:], signature)


@pytest.mark.parametrize("vector", RFC7091, ids=lambda v: v["name"])
def test_rfc7091_fixed_k_signature_through_the_oracle(vector: dict[str, str]) -> None:
    # The engine draws k itself, so the fixed-k signature is reproduced only by the test oracle;
    # the oracle in turn must accept what the engine signs with its own k.
    curve = RefCurve.from_vector(vector)
    paramset = ParamSet.from_oid(vector["paramset_oid"], allow_test=True)
    size = paramset.size
    d, k = int(vector["d"], 16), int(vector["k"], 16)
    digest = _le(vector["e"], size)
    assert curve.public(d) == (int(vector["qx"], 16), int(vector["qy"], 16))
    assert curve.sign(d, digest, k) == _be(vector["s"], size) + _be(vector["r"], size)
    key = GostPrivateKey.from_private_bytes(paramset, _le(vector["d"], size))
    for _ in range(3):
        assert curve.verify(key.public_key().point_bytes(), digest, key.sign_digest(digest))


@pytest.mark.parametrize(
    "paramset",
    [ParamSet.TC26_256_A, ParamSet.CRYPTOPRO_A, ParamSet.TC26_256_B, ParamSet.CRYPTOPRO_XCHA],
    ids=lambda p: p.name,
)
def test_engine_signatures_satisfy_the_oracle(paramset: ParamSet) -> None:
    curve = RefCurve.from_vector(REF_CURVES[paramset.curve])
    key = GostPrivateKey.generate(paramset)
    digest = hashlib.new("md_gost12_256", b"oracle").digest()
    signature = key.sign_digest(digest)
    assert curve.verify(key.public_key().point_bytes(), digest, signature)
    assert not curve.verify(key.public_key().point_bytes(), digest[::-1], signature)


ALIASES = {
    "cryptopro-a": [ParamSet.CRYPTOPRO_A, ParamSet.CRYPTOPRO_XCHA, ParamSet.TC26_256_B],
    "cryptopro-b": [ParamSet.CRYPTOPRO_B, ParamSet.TC26_256_C],
    "cryptopro-c": [ParamSet.CRYPTOPRO_C, ParamSet.CRYPTOPRO_XCHB, ParamSet.TC26_256_D],
}


@pytest.mark.parametrize("curve", sorted(ALIASES))
def test_aliases_are_one_curve_in_the_engine(curve: str) -> None:
    first, *others = ALIASES[curve]
    key = GostPrivateKey.generate(first)
    for alias in others:
        assert alias.curve == curve
        twin = GostPrivateKey.from_private_bytes(alias, key.private_bytes())
        assert twin.public_key().point_bytes() == key.public_key().point_bytes()
        # A signature made under one OID verifies under the other: same group, same key.
        digest = bytes(range(32))
        GostPublicKey.from_point_bytes(alias, key.public_key().point_bytes()).verify_digest(
            digest, key.sign_digest(digest)
        )


def test_distinct_curves_give_distinct_points() -> None:
    d = GostPrivateKey.generate(ParamSet.TC26_256_A).private_bytes()
    points = {
        GostPrivateKey.from_private_bytes(ALIASES[curve][0], d).public_key().point_bytes()
        for curve in ALIASES
    }
    assert len(points) == len(ALIASES)


EXPECTED_TABLE = {
    ParamSet.CRYPTOPRO_A: ("1.2.643.2.2.35.1", 256, "A"),
    ParamSet.CRYPTOPRO_B: ("1.2.643.2.2.35.2", 256, "B"),
    ParamSet.CRYPTOPRO_C: ("1.2.643.2.2.35.3", 256, "C"),
    ParamSet.CRYPTOPRO_XCHA: ("1.2.643.2.2.36.0", 256, "XA"),
    ParamSet.CRYPTOPRO_XCHB: ("1.2.643.2.2.36.1", 256, "XB"),
    ParamSet.TC26_256_A: ("1.2.643.7.1.2.1.1.1", 256, "TCA"),
    ParamSet.TC26_256_B: ("1.2.643.7.1.2.1.1.2", 256, "TCB"),
    ParamSet.TC26_256_C: ("1.2.643.7.1.2.1.1.3", 256, "TCC"),
    ParamSet.TC26_256_D: ("1.2.643.7.1.2.1.1.4", 256, "TCD"),
    ParamSet.TC26_512_A: ("1.2.643.7.1.2.1.2.1", 512, "A"),
    ParamSet.TC26_512_B: ("1.2.643.7.1.2.1.2.2", 512, "B"),
    ParamSet.TC26_512_C: ("1.2.643.7.1.2.1.2.3", 512, "C"),
}


def test_parameter_set_table() -> None:
    assert set(ParamSet.production()) == set(EXPECTED_TABLE)
    for paramset, (oid, bits, engine_name) in EXPECTED_TABLE.items():
        assert (paramset.oid, paramset.key_size, paramset.engine_name) == (oid, bits, engine_name)
        assert ParamSet.from_oid(oid) is paramset
        suffix = "1" if bits == 256 else "2"
        assert paramset.public_key_algorithm_oid == "1.2.643.7.1.1.1." + suffix
        assert paramset.digest_oid == ("1.2.643.7.1.1.2.2" if bits == 256 else "1.2.643.7.1.1.2.3")
        assert paramset.signature_size == bits // 4


def test_test_curves_need_explicit_permission() -> None:
    for member in (ParamSet.TEST_256, ParamSet.TEST_512):
        with pytest.raises(UnsupportedAlgorithmError):
            ParamSet.from_oid(member.oid)
        assert ParamSet.from_oid(member.oid, allow_test=True) is member
    with pytest.raises(UnsupportedAlgorithmError):
        ParamSet.from_oid("1.2.840.10045.3.1.7")
