"""Property tests: sign/verify round trips per parameter set, and typed errors for bad input."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signing.errors import InvalidInputError, InvalidSignatureError, MalformedDataError
from signing.gost import GostPrivateKey, GostPublicKey, ParamSet
from tests.signing.gost.conftest import REF_CURVES, RefCurve

ALL = list(ParamSet)
KEYS = {paramset: GostPrivateKey.generate(paramset) for paramset in ALL}
OTHER_KEYS = {paramset: GostPrivateKey.generate(paramset) for paramset in ALL}
by_name = pytest.mark.parametrize("paramset", ALL, ids=lambda p: p.name)


@by_name
@settings(max_examples=15, deadline=None)
@given(data=st.binary(max_size=2048))
def test_sign_verify_round_trip(paramset: ParamSet, data: bytes) -> None:
    key = KEYS[paramset]
    signature = key.sign(data)
    assert len(signature) == paramset.signature_size
    key.public_key().verify(data, signature)
    assert key.public_key().is_valid_signature(data, signature)


@by_name
@settings(max_examples=15, deadline=None)
@given(data=st.binary(max_size=256), bit=st.integers(min_value=0))
def test_tampered_signature_is_rejected(paramset: ParamSet, data: bytes, bit: int) -> None:
    key = KEYS[paramset]
    signature = bytearray(key.sign(data))
    bit %= 8 * len(signature)
    signature[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(InvalidSignatureError) as caught:
        key.public_key().verify(data, bytes(signature))
    assert caught.value.code == "invalid_signature"
    assert not key.public_key().is_valid_signature(data, bytes(signature))


@by_name
def test_wrong_key_and_wrong_data_are_rejected(paramset: ParamSet) -> None:
    signature = KEYS[paramset].sign(b"document")
    with pytest.raises(InvalidSignatureError):
        OTHER_KEYS[paramset].public_key().verify(b"document", signature)
    with pytest.raises(InvalidSignatureError):
        KEYS[paramset].public_key().verify(b"documenT", signature)


@by_name
@settings(max_examples=20, deadline=None)
@given(signature=st.binary(max_size=300))
def test_arbitrary_signature_bytes_never_crash(paramset: ParamSet, signature: bytes) -> None:
    public = KEYS[paramset].public_key()
    digest = bytes(paramset.size)
    assert public.is_valid_digest_signature(digest, signature) is False
    with pytest.raises(InvalidSignatureError):
        public.verify_digest(digest, signature)


@by_name
def test_out_of_range_signature_halves_are_rejected(paramset: ParamSet) -> None:
    public = KEYS[paramset].public_key()
    digest = bytes(range(paramset.size))
    n = paramset.size
    for signature in (bytes(2 * n), b"\xff" * (2 * n), bytes(n) + b"\x01" * n, b"\x01" * n + bytes(n)):
        assert not public.is_valid_digest_signature(digest, signature)


@by_name
def test_wrong_lengths_raise_typed_errors(paramset: ParamSet) -> None:
    key = KEYS[paramset]
    n = paramset.size
    signature = key.sign_digest(bytes(n))
    for digest in (b"", bytes(n - 1), bytes(n + 1), bytes(96)):
        with pytest.raises(InvalidInputError):
            key.sign_digest(digest)
        with pytest.raises(InvalidInputError):
            key.public_key().verify_digest(digest, signature)
    for bad in (signature[:-1], signature + b"\x00", b""):
        with pytest.raises(InvalidSignatureError):
            key.public_key().verify_digest(bytes(n), bad)


@by_name
def test_key_bytes_round_trip(paramset: ParamSet) -> None:
    key = KEYS[paramset]
    again = GostPrivateKey.from_private_bytes(paramset, key.private_bytes())
    assert again.public_key() == key.public_key()
    public = GostPublicKey.from_point_bytes(paramset, key.public_key().point_bytes())
    assert public == key.public_key()
    assert hash(public) == hash(key.public_key())
    public.verify(b"x", again.sign(b"x"))
    assert pickle.loads(pickle.dumps(public)) == public


@by_name
def test_bad_private_scalars_are_invalid_input(paramset: ParamSet) -> None:
    n = paramset.size
    for d_le in (bytes(n), b"\xff" * n, bytes(n - 1), bytes(n + 1)):
        with pytest.raises(InvalidInputError):
            GostPrivateKey.from_private_bytes(paramset, d_le)


@by_name
def test_bad_points_are_rejected(paramset: ParamSet) -> None:
    point = KEYS[paramset].public_key().point_bytes()
    with pytest.raises(MalformedDataError):
        GostPublicKey.from_point_bytes(paramset, bytes(len(point)))
    with pytest.raises(MalformedDataError):
        GostPublicKey.from_point_bytes(paramset, point[:-1] + bytes([point[-1] ^ 1]))
    with pytest.raises(InvalidInputError):
        GostPublicKey.from_point_bytes(paramset, point[:-1])


@settings(max_examples=40, deadline=None)
@given(point=st.binary(min_size=64, max_size=64))
def test_random_points_fail_cleanly(point: bytes) -> None:
    # Off-curve (almost always) must be MalformedDataError; any other error type fails the test.
    try:
        public = GostPublicKey.from_point_bytes(ParamSet.TC26_256_A, point)
    except MalformedDataError:
        return
    assert not public.is_valid_digest_signature(bytes(32), bytes(64))


def test_private_key_is_not_picklable_and_repr_hides_it() -> None:
    key = KEYS[ParamSet.TC26_256_A]
    with pytest.raises(TypeError):
        pickle.dumps(key)
    assert key.private_bytes().hex() not in repr(key)
    assert key.private_bytes()[:8].hex() not in repr(key)


def test_non_bytes_inputs() -> None:
    key = KEYS[ParamSet.TC26_256_A]
    digest = bytearray(32)
    signature = key.sign_digest(digest)
    key.public_key().verify_digest(memoryview(bytes(digest)), bytearray(signature))
    with pytest.raises(InvalidInputError):
        key.sign_digest("0" * 32)  # type: ignore[arg-type]
    assert not key.public_key().is_valid_digest_signature(digest, "x" * 64)  # type: ignore[arg-type]


def test_small_subgroup_points_are_rejected_on_cofactor_4_curves() -> None:
    # #E = 4q on TC26 256 A, so T = q·R has order 1, 2 or 4 for any point R; Q + T is on the
    # curve but outside the order-q subgroup, and VKO with it would leak d mod 4.
    curve = RefCurve.from_vector(REF_CURVES["tc26-256-a"])
    p = curve.p
    assert p % 4 == 3
    small = None
    for x in range(1, 200):
        rhs = (x**3 + curve.a * x + curve.b) % p
        y = pow(rhs, (p + 1) // 4, p)
        if y * y % p == rhs and (small := curve.mul(curve.q, (x, y))) is not None:
            break
    assert small is not None
    key = KEYS[ParamSet.TC26_256_A].public_key().point_bytes()
    q_point = (int.from_bytes(key[:32], "little"), int.from_bytes(key[32:], "little"))
    for bad in (small, curve.add(q_point, small)):
        assert bad is not None
        encoded = bad[0].to_bytes(32, "little") + bad[1].to_bytes(32, "little")
        with pytest.raises(MalformedDataError):
            GostPublicKey.from_point_bytes(ParamSet.TC26_256_A, encoded)
    assert GostPublicKey.from_point_bytes(ParamSet.TC26_256_A, key).point_bytes() == key
