"""The algorithm registry: lookups by name and OID, AlgorithmIdentifiers, digests against vectors."""

from __future__ import annotations

import hashlib

import pytest
from asn1crypto import algos

from signing import algorithms
from signing.algorithms import KeyAlgorithm, SignatureEncoding
from signing.errors import MalformedDataError, UnsupportedAlgorithmError

# GOST R 34.11-2012 (RFC 6986) example 1: M1 is the 63 digits below.
M1 = b"012345678901234567890123456789012345678901234567890123456789012"
STREEBOG256_M1 = "9d151eefd8590b89daa6ba6cb74af9275dd051026bb149a452fd84e5e57b5500"
STREEBOG512_M1 = (
    "1b54d01a4af5b9d5cc3d86d68d285462b19abc2475222f35c085122be4ba1ffa"
    "00ad30f8767b3a82384c6574f024c311e2a481332b08ef7f41797891c1646f48"
)


def test_every_signature_algorithm_round_trips_through_its_identifier() -> None:
    names = set()
    for algorithm in algorithms.signature_algorithms():
        names.add(algorithm.name)
        identifier = algorithm.algorithm_identifier()
        assert algorithms.signature_algorithm_from_identifier(identifier.dump()) is algorithm
        assert algorithms.signature_algorithm_from_identifier(identifier) is algorithm
        assert algorithms.signature_algorithm(algorithm.name) is algorithm
        assert identifier["algorithm"].dotted == algorithm.oid
        if algorithm.encoding is not SignatureEncoding.RSA_PSS:
            assert algorithms.signature_algorithm_by_oid(algorithm.oid) is algorithm
            # Registry names are asn1crypto's native names where asn1crypto has one.
            assert identifier["algorithm"].native == algorithm.name
    assert len(names) == 11


@pytest.mark.parametrize(
    ("name", "der"),
    [
        # Parameters absent for GOST and ECDSA, NULL for RSA PKCS#1 v1.5.
        ("streebog256_gost3410_2012_256", "300a06082a85030701010302"),
        ("streebog512_gost3410_2012_512", "300a06082a85030701010303"),
        ("sha256_ecdsa", "300a06082a8648ce3d040302"),
        ("sha256_rsa", "300d06092a864886f70d01010b0500"),
    ],
)
def test_identifier_encodings(name: str, der: str) -> None:
    assert algorithms.signature_algorithm(name).algorithm_identifier().dump().hex() == der


def test_openssl_style_null_parameters_are_accepted() -> None:
    # OpenSSL writes NULL parameters after the GOST signature OID.
    identifier = bytes.fromhex("300c06082a850307010103020500")
    algorithm = algorithms.signature_algorithm_from_identifier(identifier)
    assert algorithm.name == "streebog256_gost3410_2012_256"


def test_pss_identifier_carries_its_parameters() -> None:
    algorithm = algorithms.signature_algorithm("sha384_rsassa_pss")
    params = algorithm.algorithm_identifier()["parameters"].native
    assert params["hash_algorithm"]["algorithm"] == "sha384"
    assert params["mask_gen_algorithm"]["parameters"]["algorithm"] == "sha384"
    assert params["salt_length"] == 48
    with pytest.raises(UnsupportedAlgorithmError, match="PSS needs its parameters"):
        algorithms.signature_algorithm_by_oid(algorithm.oid)


def test_pss_with_other_salt_or_mgf_digest_is_unsupported() -> None:
    identifier = algos.SignedDigestAlgorithm(
        {
            "algorithm": "rsassa_pss",
            "parameters": {
                "hash_algorithm": {"algorithm": "sha256"},
                "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": "sha1"}},
                "salt_length": 32,
            },
        }
    )
    with pytest.raises(UnsupportedAlgorithmError):
        algorithms.signature_algorithm_from_identifier(identifier)


@pytest.mark.parametrize(
    ("key_oid", "digest_oid", "expected"),
    [
        ("1.2.643.7.1.1.1.1", None, "streebog256_gost3410_2012_256"),
        ("1.2.643.7.1.1.1.1", "1.2.643.7.1.1.2.2", "streebog256_gost3410_2012_256"),
        ("1.2.643.7.1.1.1.2", "1.2.643.7.1.1.2.3", "streebog512_gost3410_2012_512"),
        ("1.2.840.113549.1.1.1", "2.16.840.1.101.3.4.2.2", "sha384_rsa"),
        ("1.2.840.10045.2.1", "2.16.840.1.101.3.4.2.1", "sha256_ecdsa"),
    ],
)
def test_key_oid_signatures_take_the_digest_from_elsewhere(
    key_oid: str, digest_oid: str | None, expected: str
) -> None:
    identifier = algos.SignedDigestAlgorithm({"algorithm": key_oid})
    assert algorithms.signature_algorithm_from_identifier(identifier, digest_oid=digest_oid).name == expected


@pytest.mark.parametrize(
    ("key_oid", "digest_oid"),
    [
        ("1.2.643.7.1.1.1.1", "1.2.643.7.1.1.2.3"),  # 256-bit key with Streebog-512
        ("1.2.840.113549.1.1.1", None),  # RSA without its digest
        ("1.2.840.113549.1.1.1", "1.2.643.7.1.1.2.2"),  # RSA with Streebog
        ("1.2.840.113549.1.1.1", "1.3.14.3.2.26"),  # SHA-1: not supported
    ],
)
def test_key_oid_signatures_with_wrong_digest_fail(key_oid: str, digest_oid: str | None) -> None:
    identifier = algos.SignedDigestAlgorithm({"algorithm": key_oid})
    with pytest.raises(UnsupportedAlgorithmError):
        algorithms.signature_algorithm_from_identifier(identifier, digest_oid=digest_oid)


def test_unknown_names_and_oids_raise_typed_errors() -> None:
    with pytest.raises(UnsupportedAlgorithmError):
        algorithms.signature_algorithm("sha1_rsa")
    with pytest.raises(UnsupportedAlgorithmError):
        algorithms.signature_algorithm_by_oid("1.2.840.113549.1.1.5")
    with pytest.raises(UnsupportedAlgorithmError):
        algorithms.digest_algorithm("md5")
    with pytest.raises(UnsupportedAlgorithmError):
        algorithms.digest_algorithm_by_oid("1.2.840.113549.2.5")
    with pytest.raises(UnsupportedAlgorithmError):
        algorithms.signature_algorithm_from_identifier(
            bytes.fromhex("300906072a8648ce380403")
        )  # dsa-with-sha1
    with pytest.raises(UnsupportedAlgorithmError):
        algorithms.default_signature_algorithm(KeyAlgorithm.EC, key_bits=192)


@pytest.mark.parametrize(
    "data", [b"", b"\x30", bytes.fromhex("3003060100"), b"\x30\x80\x00\x00", b"\xff" * 5]
)
def test_malformed_identifiers_raise_malformed_data(data: bytes) -> None:
    with pytest.raises((MalformedDataError, UnsupportedAlgorithmError)):
        algorithms.signature_algorithm_from_identifier(data)


def test_streebog_digests_match_rfc_6986() -> None:
    assert algorithms.digest_algorithm("streebog256").hash(M1).hex() == STREEBOG256_M1
    assert algorithms.digest_algorithm("streebog512").hash(M1).hex() == STREEBOG512_M1
    hasher = algorithms.digest_algorithm("streebog256").new()
    hasher.update(M1[:10])
    hasher.update(M1[10:])
    assert hasher.digest().hex() == STREEBOG256_M1


@pytest.mark.parametrize("name", ["sha256", "sha384", "sha512"])
def test_sha2_digests(name: str) -> None:
    digest = algorithms.digest_algorithm(name)
    assert digest.hash(b"abc") == hashlib.new(name, b"abc").digest()
    assert len(digest.hash(b"")) == digest.size
    assert algorithms.digest_algorithm_by_oid(digest.oid) is digest
    assert digest.algorithm_identifier()["algorithm"].native == name


def test_defaults_and_metadata() -> None:
    assert algorithms.default_signature_algorithm(KeyAlgorithm.GOST3410_2012_512).digest.size == 64
    assert algorithms.default_signature_algorithm(KeyAlgorithm.EC, key_bits=384).name == "sha384_ecdsa"
    assert algorithms.default_signature_algorithm(KeyAlgorithm.RSA).name == "sha256_rsa"
    gost = algorithms.signature_algorithm("streebog256_gost3410_2012_256")
    assert gost.xml_uri == "urn:ietf:params:xml:ns:cpxmlsec:algorithms:gostr34102012-gostr34112012-256"
    assert gost.digest.xml_uri == "urn:ietf:params:xml:ns:cpxmlsec:algorithms:gostr34112012-256"
    assert gost.encoding is SignatureEncoding.GOST_S_R
    assert gost.key_algorithm.is_gost
    assert gost.key_algorithm.oid == "1.2.643.7.1.1.1.1"
    assert not KeyAlgorithm.RSA.is_gost
    assert {d.name for d in algorithms.digest_algorithms()} == {
        "streebog256",
        "streebog512",
        "sha256",
        "sha384",
        "sha512",
    }
