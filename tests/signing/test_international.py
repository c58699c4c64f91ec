"""ECDSA and RSA keys behind the common interface, checked against ``cryptography``'s own
verification of the whole message (not the prehashed path the keys use)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from hypothesis import given, settings
from hypothesis import strategies as st

from signing import algorithms
from signing.errors import (
    InvalidInputError,
    InvalidSignatureError,
    MalformedDataError,
    UnsupportedAlgorithmError,
)
from signing.international import InternationalPrivateKey, InternationalPublicKey, generate_ec, generate_rsa
from signing.keys import PrivateKey, PublicKey, Signer, sign_data, verify_data
from tests.signing.conftest import cached_international_key

HASHES = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}
EC_ALGORITHMS = ["sha256_ecdsa", "sha384_ecdsa", "sha512_ecdsa"]
RSA_ALGORITHMS = [
    "sha256_rsa",
    "sha384_rsa",
    "sha512_rsa",
    "sha256_rsassa_pss",
    "sha384_rsassa_pss",
    "sha512_rsassa_pss",
]


def _independent_verify(key: InternationalPublicKey, data: bytes, signature: bytes, name: str) -> None:
    algorithm = algorithms.signature_algorithm(name)
    digest = HASHES[algorithm.digest.name]
    pyca = key.pyca_key
    if isinstance(pyca, ec.EllipticCurvePublicKey):
        pyca.verify(signature, data, ec.ECDSA(digest))
    elif algorithm.encoding is algorithms.SignatureEncoding.RSA_PSS:
        pyca.verify(
            signature, data, padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size), digest
        )
    else:
        pyca.verify(signature, data, padding.PKCS1v15(), digest)


@pytest.mark.parametrize(
    ("kind", "name"),
    [("P-256", n) for n in EC_ALGORITHMS]
    + [("P-384", n) for n in EC_ALGORITHMS]
    + [("RSA", n) for n in RSA_ALGORITHMS],
)
def test_sign_digest_verifies_independently(kind: str, name: str) -> None:
    key = cached_international_key(kind).with_algorithm(algorithms.signature_algorithm(name))
    assert key.signature_algorithm.name == name
    data = b"\xd0\x9a\xd0\xbb\xd1\x8e\xd1\x87 " * 10
    signature = sign_data(key, data)
    public = key.public_key()
    _independent_verify(public, data, signature, name)
    verify_data(public, data, signature, key.signature_algorithm)
    with pytest.raises(InvalidSignatureError):
        verify_data(public, data + b"!", signature, key.signature_algorithm)


def test_defaults_follow_the_key() -> None:
    assert cached_international_key("P-256").signature_algorithm.name == "sha256_ecdsa"
    assert cached_international_key("P-384").signature_algorithm.name == "sha384_ecdsa"
    assert cached_international_key("RSA").signature_algorithm.name == "sha256_rsa"


@pytest.mark.parametrize("kind", ["P-256", "P-384", "RSA"])
def test_keys_implement_the_protocols(kind: str) -> None:
    key = cached_international_key(kind)
    assert isinstance(key, PrivateKey)
    assert isinstance(key, Signer)
    assert isinstance(key.public_key(), PublicKey)


@pytest.mark.parametrize("kind", ["P-256", "P-384", "RSA"])
def test_encodings_round_trip(kind: str) -> None:
    key = cached_international_key(kind)
    again = InternationalPrivateKey.from_pkcs8(key.pkcs8())
    assert again.pkcs8() == key.pkcs8()
    assert again.public_key() == key.public_key()
    public = InternationalPublicKey.from_spki(key.public_key().spki())
    assert public.spki() == key.public_key().spki()
    assert hash(public) == hash(key.public_key())
    assert public.key_bits == {"P-256": 256, "P-384": 384, "RSA": 2048}[kind]


def test_wrong_algorithm_or_digest_length_is_refused() -> None:
    ec_key = cached_international_key("P-256")
    with pytest.raises(UnsupportedAlgorithmError):
        ec_key.with_algorithm(algorithms.signature_algorithm("sha256_rsa"))
    with pytest.raises(UnsupportedAlgorithmError):
        ec_key.public_key().verify_digest(b"\0" * 32, b"x", algorithms.signature_algorithm("sha256_rsa"))
    with pytest.raises(UnsupportedAlgorithmError):
        ec_key.public_key().verify_digest(
            b"\0" * 32, b"x", algorithms.signature_algorithm("streebog256_gost3410_2012_256")
        )
    with pytest.raises(InvalidInputError):
        ec_key.sign_digest(b"\0" * 31)
    with pytest.raises(InvalidInputError):
        ec_key.public_key().verify_digest(b"\0" * 48, b"x", ec_key.signature_algorithm)


def test_wrong_key_fails() -> None:
    signer, other = cached_international_key("P-256"), cached_international_key("P-256", 1)
    signature = sign_data(signer, b"document")
    with pytest.raises(InvalidSignatureError):
        verify_data(other.public_key(), b"document", signature, signer.signature_algorithm)


@settings(max_examples=50, deadline=None)
@given(signature=st.binary(max_size=300))
def test_garbage_signatures_never_crash(signature: bytes) -> None:
    for kind in ("P-256", "RSA"):
        key = cached_international_key(kind)
        with pytest.raises(InvalidSignatureError):
            key.public_key().verify_digest(b"\1" * 32, signature, key.signature_algorithm)


@pytest.mark.parametrize("data", [b"", b"\x30\x03\x02\x01\x00", b"not DER at all", b"\x30" * 40])
def test_malformed_keys_raise_malformed_data(data: bytes) -> None:
    with pytest.raises(MalformedDataError):
        InternationalPublicKey.from_spki(data)
    with pytest.raises(MalformedDataError):
        InternationalPrivateKey.from_pkcs8(data)


def test_unsupported_curves_and_sizes() -> None:
    with pytest.raises(UnsupportedAlgorithmError):
        generate_ec("P-192")
    with pytest.raises(InvalidInputError):
        generate_rsa(1024)
    p521 = ec.generate_private_key(ec.SECP521R1())
    with pytest.raises(UnsupportedAlgorithmError):
        InternationalPrivateKey(p521)


def test_repr_shows_no_key_material() -> None:
    key = generate_ec("P-256")
    assert repr(key) == "InternationalPrivateKey(ec, 256 bits, sha256_ecdsa)"
