"""GOST SPKI / PKCS#8 encodings, PEM helpers, loaders and the common key interface.

Byte-compatibility with OpenSSL-made keys is checked in ``interop/test_keys_openssl.py``; this
file pins the exact layouts and the round trips.
"""

from __future__ import annotations

import contextlib

import pytest
from asn1crypto import core, keys
from hypothesis import given, settings
from hypothesis import strategies as st

from signing import algorithms
from signing.algorithms import KeyAlgorithm
from signing.errors import (
    InvalidInputError,
    InvalidSignatureError,
    MalformedDataError,
    SigningError,
    UnsupportedAlgorithmError,
)
from signing.gost.params import ParamSet
from signing.international import InternationalPrivateKey, InternationalPublicKey
from signing.keys import (
    GostSigningKey,
    GostVerifyingKey,
    PrivateKey,
    PublicKey,
    Signer,
    decode_gost_pkcs8,
    decode_gost_spki,
    encode_gost_pkcs8,
    encode_gost_spki,
    load_der_or_pem,
    load_private_key,
    load_public_key,
    pem_decode,
    pem_encode,
    private_key_pem,
    public_key_pem,
    sign_data,
    spki_key_algorithm,
    verify_data,
)
from tests.signing.conftest import GOST_PARAMSETS, INTERNATIONAL_KINDS, any_key, cached_gost_key

PARAMSET_IDS = [p.name for p in GOST_PARAMSETS]
ALL_KINDS = [*GOST_PARAMSETS, *INTERNATIONAL_KINDS]
ALL_IDS = [*PARAMSET_IDS, *INTERNATIONAL_KINDS]


def _tlv(tag: int, body: bytes) -> bytes:
    assert len(body) < 0x80 or len(body) < 0x100
    length = bytes([len(body)]) if len(body) < 0x80 else bytes([0x81, len(body)])
    return bytes([tag]) + length + body


def _expected_algorithm(paramset: ParamSet) -> bytes:
    params = core.ObjectIdentifier(paramset.oid).dump()
    if paramset.digest_param_in_spki:
        params += core.ObjectIdentifier(paramset.digest_oid).dump()
    return _tlv(0x30, core.ObjectIdentifier(paramset.public_key_algorithm_oid).dump() + _tlv(0x30, params))


@pytest.mark.parametrize("paramset", GOST_PARAMSETS, ids=PARAMSET_IDS)
def test_gost_spki_layout(paramset: ParamSet) -> None:
    point = bytes(range(2 * paramset.size))
    der = encode_gost_spki(paramset, point)
    key_bits = b"\x00" + _tlv(0x04, point)
    assert der == _tlv(0x30, _expected_algorithm(paramset) + _tlv(0x03, key_bits))
    assert decode_gost_spki(der) == (paramset, point)


@pytest.mark.parametrize("paramset", GOST_PARAMSETS, ids=PARAMSET_IDS)
def test_gost_pkcs8_layout(paramset: ParamSet) -> None:
    private = bytes(range(1, paramset.size + 1))
    der = encode_gost_pkcs8(paramset, private)
    assert der == _tlv(0x30, b"\x02\x01\x00" + _expected_algorithm(paramset) + _tlv(0x04, private))
    assert decode_gost_pkcs8(der) == (paramset, private)


def test_digest_oid_only_for_the_sets_openssl_marks() -> None:
    with_digest = {p.name for p in GOST_PARAMSETS if p.digest_param_in_spki}
    assert with_digest == {
        "CRYPTOPRO_A",
        "CRYPTOPRO_B",
        "CRYPTOPRO_C",
        "CRYPTOPRO_XCHA",
        "CRYPTOPRO_XCHB",
        "TC26_512_A",
        "TC26_512_B",
    }


@pytest.mark.parametrize("paramset", [ParamSet.CRYPTOPRO_A, ParamSet.TC26_512_B], ids=["256", "512"])
def test_wrapped_private_key_forms_are_read(paramset: ParamSet) -> None:
    private = bytes([7] * (paramset.size - 1) + [1])
    algorithm = keys.PrivateKeyInfo.load(encode_gost_pkcs8(paramset, private))["private_key_algorithm"]
    for inner in (core.OctetString(private).dump(), core.Integer(int.from_bytes(private, "little")).dump()):
        der = keys.PrivateKeyInfo(
            {"version": 0, "private_key_algorithm": algorithm, "private_key": inner}
        ).dump()
        assert decode_gost_pkcs8(der) == (paramset, private)


@settings(max_examples=60, deadline=None)
@given(paramset=st.sampled_from(GOST_PARAMSETS), data=st.data())
def test_gost_encodings_round_trip(paramset: ParamSet, data: st.DataObject) -> None:
    point = data.draw(st.binary(min_size=2 * paramset.size, max_size=2 * paramset.size))
    private = data.draw(st.binary(min_size=paramset.size, max_size=paramset.size))
    assert decode_gost_spki(encode_gost_spki(paramset, point)) == (paramset, point)
    # A bare d_le that happens to start like DER (0x04 0x1e …) must still read as bare: length decides.
    assert decode_gost_pkcs8(encode_gost_pkcs8(paramset, private)) == (paramset, private)
    spki = encode_gost_spki(paramset, point)
    assert keys.PublicKeyInfo.load(spki).dump(force=True) == spki


def test_bare_private_key_that_looks_like_der() -> None:
    private = b"\x04\x1e" + bytes(range(30))
    assert decode_gost_pkcs8(encode_gost_pkcs8(ParamSet.CRYPTOPRO_A, private))[1] == private


def test_gost_encoders_check_lengths_and_test_curves() -> None:
    with pytest.raises(InvalidInputError):
        encode_gost_spki(ParamSet.CRYPTOPRO_A, b"\0" * 63)
    with pytest.raises(InvalidInputError):
        encode_gost_pkcs8(ParamSet.TC26_512_A, b"\0" * 32)
    with pytest.raises(UnsupportedAlgorithmError):
        encode_gost_spki(ParamSet.TEST_256, b"\0" * 64)


def _spki_with(algorithm: dict[str, object], key: bytes) -> bytes:
    return bytes(keys.PublicKeyInfo({"algorithm": algorithm, "public_key": core.OctetString(key)}).dump())


def test_gost_spki_inconsistencies_are_malformed() -> None:
    point = b"\1" * 64
    # 512-bit parameter set under the 256-bit key OID.
    wrong_set = _spki_with(
        {"algorithm": "gost3410_2012_256", "parameters": {"public_key_param_set": ParamSet.TC26_512_A.oid}},
        point,
    )
    # Streebog-512 named for a 256-bit key.
    wrong_digest = _spki_with(
        {
            "algorithm": "gost3410_2012_256",
            "parameters": {
                "public_key_param_set": ParamSet.CRYPTOPRO_A.oid,
                "digest_param_set": "1.2.643.7.1.1.2.3",
            },
        },
        point,
    )
    short = _spki_with(
        {"algorithm": "gost3410_2012_256", "parameters": {"public_key_param_set": ParamSet.CRYPTOPRO_A.oid}},
        point[:40],
    )
    for der in (wrong_set, wrong_digest, short):
        with pytest.raises(MalformedDataError):
            decode_gost_spki(der)
    unknown_set = _spki_with(
        {"algorithm": "gost3410_2012_256", "parameters": {"public_key_param_set": "1.2.643.2.2.35.9"}}, point
    )
    with pytest.raises(UnsupportedAlgorithmError):
        decode_gost_spki(unknown_set)
    legacy = _spki_with(
        {"algorithm": "gost3410_2001", "parameters": {"public_key_param_set": "1.2.643.2.2.35.1"}}, point
    )
    with pytest.raises(UnsupportedAlgorithmError):
        load_public_key(legacy)


@pytest.mark.parametrize("kind", ALL_KINDS, ids=ALL_IDS)
def test_every_key_behind_the_interface(kind: ParamSet | str) -> None:
    key = any_key(kind)
    assert isinstance(key, PrivateKey)
    assert isinstance(key, Signer)
    public = key.public_key()
    assert isinstance(public, PublicKey)
    signature = sign_data(key, b"payload")
    verify_data(public, b"payload", signature, key.signature_algorithm)
    with pytest.raises(InvalidSignatureError):
        verify_data(public, b"payload?", signature, key.signature_algorithm)
    # Through the encodings and back, in DER and PEM.
    again_public = load_public_key(public_key_pem(public))
    assert again_public.spki() == public.spki()
    assert again_public == public
    assert load_public_key(public.spki()).spki() == public.spki()
    again_private = load_private_key(private_key_pem(key))
    assert again_private.pkcs8() == key.pkcs8()
    verify_data(public, b"again", sign_data(again_private, b"again"), key.signature_algorithm)
    assert spki_key_algorithm(public.spki()) is public.key_algorithm


@pytest.mark.parametrize("paramset", GOST_PARAMSETS, ids=PARAMSET_IDS)
def test_gost_signatures_are_s_r_of_the_right_size(paramset: ParamSet) -> None:
    key = cached_gost_key(paramset)
    assert isinstance(key, GostSigningKey)
    algorithm = key.signature_algorithm
    assert algorithm.key_algorithm is (
        KeyAlgorithm.GOST3410_2012_256 if paramset.key_size == 256 else KeyAlgorithm.GOST3410_2012_512
    )
    signature = sign_data(key, b"x")
    assert len(signature) == 2 * paramset.size
    public = key.public_key()
    assert isinstance(public, GostVerifyingKey)
    assert public.paramset is paramset
    assert public.native.point_bytes() == decode_gost_spki(public.spki())[1]
    # The binding's own verification agrees: the adapter adds nothing to the signature.
    public.native.verify(b"x", signature)


def test_gost_key_refuses_other_algorithms() -> None:
    key = cached_gost_key(ParamSet.CRYPTOPRO_A)
    digest = b"\0" * 32
    with pytest.raises(UnsupportedAlgorithmError):
        key.public_key().verify_digest(
            digest, b"\0" * 64, algorithms.signature_algorithm("streebog512_gost3410_2012_512")
        )
    with pytest.raises(UnsupportedAlgorithmError):
        key.public_key().verify_digest(digest, b"\0" * 64, algorithms.signature_algorithm("sha256_ecdsa"))
    with pytest.raises(InvalidInputError):
        key.sign_digest(b"\0" * 64)


def test_wrong_key_does_not_verify() -> None:
    signer, other = cached_gost_key(ParamSet.TC26_256_A), cached_gost_key(ParamSet.TC26_256_A, 1)
    signature = sign_data(signer, b"document")
    with pytest.raises(InvalidSignatureError):
        verify_data(other.public_key(), b"document", signature, signer.signature_algorithm)


def test_pem_helpers() -> None:
    der = bytes(range(100))
    armored = pem_encode(der, "PUBLIC KEY")
    assert armored.startswith(b"-----BEGIN PUBLIC KEY-----\n")
    assert all(len(line) <= 64 for line in armored.splitlines())
    assert pem_decode(armored) == der
    assert pem_decode(armored, "PUBLIC KEY", "X") == der
    assert load_der_or_pem(armored, "PUBLIC KEY") == der
    assert load_der_or_pem(der, "PUBLIC KEY") == der
    with pytest.raises(MalformedDataError, match="expected PEM"):
        pem_decode(armored, "CERTIFICATE")
    with pytest.raises(MalformedDataError):
        pem_decode(b"-----BEGIN PUBLIC KEY-----\n%%%\n")
    with pytest.raises(InvalidInputError):
        load_der_or_pem("text", "PUBLIC KEY")  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None)
@given(
    der=st.binary(min_size=1, max_size=2000),
    label=st.sampled_from(["PUBLIC KEY", "PRIVATE KEY", "CERTIFICATE"]),
)
def test_pem_round_trip(der: bytes, label: str) -> None:
    assert pem_decode(pem_encode(der, label), label) == der


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300))
def test_garbage_keys_raise_typed_errors(data: bytes) -> None:
    for loader in (load_public_key, load_private_key, decode_gost_spki, decode_gost_pkcs8):
        with pytest.raises(SigningError):
            loader(data)


@settings(max_examples=200, deadline=None)
@given(kind=st.sampled_from([ParamSet.CRYPTOPRO_A, ParamSet.TC26_512_C, "P-256"]), data=st.data())
def test_damaged_keys_raise_typed_errors_or_load(kind: ParamSet | str, data: st.DataObject) -> None:
    key = any_key(kind)
    for original, loader in ((key.public_key().spki(), load_public_key), (key.pkcs8(), load_private_key)):
        cut = data.draw(st.integers(min_value=0, max_value=len(original) - 1))
        flip = data.draw(st.integers(min_value=0, max_value=len(original) - 1))
        damaged = bytearray(original)
        damaged[flip] ^= data.draw(st.integers(min_value=1, max_value=255))
        for candidate in (original[:cut], bytes(damaged)):
            with contextlib.suppress(SigningError):
                loader(candidate)


def test_international_keys_load_through_the_generic_loaders() -> None:
    key = any_key("P-384")
    assert isinstance(load_private_key(key.pkcs8()), InternationalPrivateKey)
    assert isinstance(load_public_key(key.public_key().spki()), InternationalPublicKey)


def test_repr_shows_no_key_material() -> None:
    key = cached_gost_key(ParamSet.TC26_512_C)
    assert repr(key) == "GostSigningKey(TC26_512_C)"
    assert repr(key.public_key()) == "GostVerifyingKey(TC26_512_C)"


def test_gost_public_key_bit_string_must_be_whole_octets() -> None:
    spki = bytearray(encode_gost_spki(ParamSet.CRYPTOPRO_A, b"\2" * 64))
    unused_at = len(spki) - 64 - 2 - 1  # BIT STRING: unused-bits octet, then OCTET STRING header, then x‖y
    assert spki[unused_at] == 0
    spki[unused_at] = 1
    with pytest.raises(MalformedDataError):
        decode_gost_spki(bytes(spki))
    with pytest.raises(MalformedDataError):
        load_public_key(bytes(spki))
