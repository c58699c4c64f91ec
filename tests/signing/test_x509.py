"""X.509 issuing and parsing: the built-in CA's certificates, their extensions, the signer-only
contract of issuing, and typed errors on bad input."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib

import pytest
from asn1crypto import keys
from asn1crypto import x509 as asn1_x509
from hypothesis import given, settings
from hypothesis import strategies as st

from signing.algorithms import SignatureAlgorithm
from signing.errors import (
    InvalidInputError,
    InvalidSignatureError,
    MalformedDataError,
    SigningError,
    UnsupportedAlgorithmError,
)
from signing.gost.params import ParamSet
from signing.keys import PrivateKey, PublicKey
from signing.x509 import (
    CA_PROFILE,
    Certificate,
    CertificateAuthority,
    CertificateProfile,
    build_name,
    key_identifier,
    name_attributes,
    names_match,
    prepare_certificate,
    random_serial_number,
    self_signed_ca,
)
from tests.signing.conftest import GOST_PARAMSETS, INTERNATIONAL_KINDS, NOW, any_key

KINDS = [*GOST_PARAMSETS, *INTERNATIONAL_KINDS]
IDS = [str(getattr(k, "name", k)) for k in KINDS]
YEAR = dt.timedelta(days=365)
URLS = {
    "crl_urls": ["http://ca.klyuch.example/ca.crl"],
    "ocsp_urls": ["http://ca.klyuch.example/ocsp"],
    "ca_issuers_urls": ["http://ca.klyuch.example/ca.crt"],
}


class RecordingSigner:
    """A complete :class:`~signing.keys.Signer` that exposes nothing but the interface and records
    each digest it is asked to sign — what an HSM client looks like to the CA."""

    def __init__(self, key: PrivateKey) -> None:
        self._key = key
        self.digests: list[bytes] = []

    @property
    def signature_algorithm(self) -> SignatureAlgorithm:
        return self._key.signature_algorithm

    def public_key(self) -> PublicKey:
        return self._key.public_key()

    def sign_digest(self, digest: bytes) -> bytes:
        self.digests.append(digest)
        return self._key.sign_digest(digest)


@functools.cache
def _root(kind: ParamSet | str, slot: int = 0) -> tuple[Certificate, PrivateKey]:
    key = any_key(kind, slot)
    subject = [("country_name", "RU"), ("organization_name", "Ключ"), ("common_name", f"Klyuch Root {slot}")]
    return self_signed_ca(key, subject=subject, not_before=NOW - YEAR, not_after=NOW + 5 * YEAR), key


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_self_signed_ca(kind: ParamSet | str) -> None:
    root, key = _root(kind)
    parsed = Certificate.load(root.pem())
    assert parsed == root
    assert parsed.is_ca
    assert parsed.path_length is None
    assert parsed.key_usage == frozenset({"key_cert_sign", "crl_sign"})
    assert parsed.critical_extensions == frozenset({"basic_constraints", "key_usage"})
    assert parsed.subject_key_identifier == key_identifier(key.public_key().spki())
    assert parsed.authority_key_identifier == parsed.subject_key_identifier
    assert parsed.is_self_issued
    assert parsed.signature_algorithm is key.signature_algorithm
    parsed.verify_signature(key.public_key())
    assert parsed.asn1["tbs_certificate"]["version"].native == "v3"


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_end_entity_issued_through_the_signer_only(kind: ParamSet | str) -> None:
    root, key = _root(kind)
    signer = RecordingSigner(key)
    authority = CertificateAuthority(root, signer, **URLS)
    subject_key = any_key(ParamSet.TC26_256_A if kind != ParamSet.TC26_256_A else "P-256")
    certificate = authority.issue(
        subject=[("common_name", "Иванов Иван"), ("snils", "12345678901"), ("inn", "500100732259")],
        public_key=subject_key.public_key(),
        not_before=NOW,
        not_after=NOW + YEAR,
        subject_alt_names=[("rfc822_name", "ivanov@example.ru")],
    )
    # The CA asked for exactly one digest: that of the to-be-signed certificate.
    algorithm = key.signature_algorithm
    assert signer.digests == [algorithm.digest.hash(certificate.tbs_der)]
    parsed = Certificate.load(certificate.der)
    parsed.verify_signature(root.public_key())
    assert parsed.issuer == root.subject
    assert not parsed.is_ca
    assert parsed.key_usage == frozenset({"digital_signature", "non_repudiation"})
    assert parsed.extended_key_usage == ("client_auth", "email_protection")
    assert (
        parsed.subject_key_identifier
        == hashlib.sha1(
            bytes(keys.PublicKeyInfo.load(subject_key.public_key().spki())["public_key"])
        ).digest()
    )
    assert parsed.authority_key_identifier == root.subject_key_identifier
    assert parsed.crl_urls == tuple(URLS["crl_urls"])
    assert parsed.ocsp_urls == tuple(URLS["ocsp_urls"])
    assert parsed.ca_issuers_urls == tuple(URLS["ca_issuers_urls"])
    assert parsed.subject_alt_names == (("rfc822_name", "ivanov@example.ru"),)
    assert name_attributes(parsed.subject)[1:] == [("snils", "12345678901"), ("inn", "500100732259")]
    assert parsed.public_key().spki() == subject_key.public_key().spki()
    assert parsed.not_before == NOW
    assert parsed.not_after == NOW + YEAR
    assert parsed.critical_extensions == frozenset({"basic_constraints", "key_usage"})


def test_serial_numbers_are_random_positive_128_bit() -> None:
    serials = {random_serial_number() for _ in range(200)}
    assert len(serials) == 200
    assert all(s.bit_length() == 128 for s in serials)
    root, _ = _root("P-256")
    assert root.serial_number.bit_length() == 128


def test_subordinate_ca_profile() -> None:
    root, key = _root(ParamSet.TC26_512_A)
    sub_key = any_key(ParamSet.TC26_256_B)
    sub = CertificateAuthority(root, key).issue(
        subject={"common_name": "Sub CA"},
        public_key=sub_key.public_key(),
        not_before=NOW,
        not_after=NOW + YEAR,
        profile=CA_PROFILE,
    )
    assert sub.is_ca
    assert sub.path_length == 0
    assert sub.key_usage == frozenset({"key_cert_sign", "crl_sign"})
    assert sub.extended_key_usage is None
    # The subordinate can issue in turn.
    leaf = CertificateAuthority(sub, sub_key).issue(
        subject={"common_name": "Leaf"},
        public_key=any_key("P-384").public_key(),
        not_before=NOW,
        not_after=NOW + YEAR,
    )
    leaf.verify_signature(sub.public_key())


def test_times_use_utc_and_generalized_time() -> None:
    key = any_key("P-256")
    far = self_signed_ca(
        key,
        subject={"common_name": "far"},
        not_before=dt.datetime(2049, 12, 31, 23, 59, 59, 999, tzinfo=dt.UTC),
        not_after=dt.datetime(2050, 1, 1, 5, tzinfo=dt.timezone(dt.timedelta(hours=3))),
    )
    validity = far.asn1["tbs_certificate"]["validity"]
    assert validity["not_before"].name == "utc_time"
    assert validity["not_after"].name == "general_time"
    assert far.not_before == dt.datetime(2049, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
    assert far.not_after == dt.datetime(2050, 1, 1, 2, tzinfo=dt.UTC)


def test_invalid_issuing_requests_are_refused() -> None:
    root, key = _root(ParamSet.CRYPTOPRO_A)
    other = any_key(ParamSet.CRYPTOPRO_A, 1)
    public = any_key("P-256").public_key()
    with pytest.raises(InvalidInputError, match="signer"):
        CertificateAuthority(root, other)
    authority = CertificateAuthority(root, key)
    with pytest.raises(InvalidInputError, match="within"):
        authority.issue(
            subject={"common_name": "x"}, public_key=public, not_before=NOW, not_after=NOW + 10 * YEAR
        )
    with pytest.raises(InvalidInputError, match="later"):
        authority.issue(subject={"common_name": "x"}, public_key=public, not_before=NOW, not_after=NOW)
    with pytest.raises(InvalidInputError, match="aware"):
        self_signed_ca(
            key,
            subject={"common_name": "x"},
            not_before=dt.datetime(2026, 1, 1),
            not_after=dt.datetime(2027, 1, 1),
        )
    with pytest.raises(InvalidInputError, match="serial"):
        self_signed_ca(
            key, subject={"common_name": "x"}, not_before=NOW, not_after=NOW + YEAR, serial_number=0
        )
    leaf = authority.issue(
        subject={"common_name": "leaf"}, public_key=other.public_key(), not_before=NOW, not_after=NOW + YEAR
    )
    with pytest.raises(InvalidInputError, match="not a CA"):
        CertificateAuthority(leaf, other)
    with pytest.raises(InvalidInputError):
        authority.issue(
            subject={"common_name": "x"},
            public_key=public,
            not_before=NOW,
            not_after=NOW + YEAR,
            profile=CertificateProfile(key_usage=frozenset()),
        )


def test_prepared_certificate_refuses_a_wrong_signature() -> None:
    root, key = _root(ParamSet.TC26_256_C)
    prepared = CertificateAuthority(root, key).prepare(
        subject={"common_name": "x"},
        public_key=any_key("P-256").public_key(),
        not_before=NOW,
        not_after=NOW + YEAR,
    )
    with pytest.raises(InvalidSignatureError):
        prepared.finish(any_key(ParamSet.TC26_256_C, 1).sign_digest(prepared.digest))
    with pytest.raises(InvalidSignatureError):
        prepared.finish(b"\0" * 64)
    certificate = prepared.finish(key.sign_digest(prepared.digest))
    certificate.verify_signature(root.public_key())


def test_prepare_refuses_an_algorithm_that_does_not_match_the_issuer() -> None:
    key = any_key("P-256")
    with pytest.raises(UnsupportedAlgorithmError):
        prepare_certificate(
            subject={"common_name": "x"},
            subject_public_key=key.public_key(),
            issuer={"common_name": "x"},
            issuer_public_key=key.public_key(),
            signature_algorithm=any_key(ParamSet.CRYPTOPRO_A).signature_algorithm,
            not_before=NOW,
            not_after=NOW + YEAR,
            extensions=[],
        )


@pytest.mark.parametrize("kind", [ParamSet.TC26_512_C, "RSA"], ids=["gost", "rsa"])
def test_tampered_certificates_fail_verification(kind: ParamSet | str) -> None:
    root, key = _root(kind)
    der = bytearray(root.der)
    der[-2] ^= 0x40
    with pytest.raises(InvalidSignatureError):
        Certificate.load(bytes(der)).verify_signature(key.public_key())
    with pytest.raises(InvalidSignatureError):
        root.verify_signature(any_key(kind, 1).public_key())


def test_inner_and_outer_algorithms_must_agree() -> None:
    root, key = _root("P-256")
    changed = root.asn1.copy()
    changed["signature_algorithm"] = {"algorithm": "sha384_ecdsa"}
    certificate = Certificate.load(changed.dump(force=True))
    with pytest.raises(MalformedDataError, match="differs"):
        certificate.verify_signature(key.public_key())


def test_truncated_and_garbage_certificates_are_malformed() -> None:
    der = _root(ParamSet.CRYPTOPRO_C)[0].der
    for candidate in (der[:-1], der[: len(der) // 2], der + b"\0", b"", b"\x30\x03\x02\x01\x01", b"\x04\x00"):
        with pytest.raises(MalformedDataError):
            Certificate.load(candidate)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_damaged_certificates_raise_only_typed_errors(data: st.DataObject) -> None:
    root, key = _root(ParamSet.TC26_256_D)
    position = data.draw(st.integers(min_value=0, max_value=len(root.der) - 1))
    damaged = bytearray(root.der)
    damaged[position] ^= data.draw(st.integers(min_value=1, max_value=255))
    with pytest.raises(SigningError):
        Certificate.load(bytes(damaged)).verify_signature(key.public_key())


@settings(max_examples=30, deadline=None)
@given(
    organization=st.text(min_size=1, max_size=40).filter(lambda s: "\x00" not in s),
    ogrn=st.text(alphabet="0123456789", min_size=13, max_size=13),
    days=st.integers(min_value=1, max_value=3650),
)
def test_certificate_round_trip(organization: str, ogrn: str, days: int) -> None:
    key = any_key("P-256")
    subject = [("organization_name", organization), ("ogrn", ogrn)]
    certificate = self_signed_ca(
        key, subject=subject, not_before=NOW, not_after=NOW + dt.timedelta(days=days)
    )
    parsed = Certificate.load(certificate.der)
    assert name_attributes(parsed.subject) == subject
    assert parsed.asn1.dump(force=True) == certificate.der
    assert parsed.not_after - parsed.not_before == dt.timedelta(days=days)


def test_build_name_accepts_parsed_names_and_dotted_oids() -> None:
    name = build_name([("1.2.643.100.3", "12345678901"), ("2.5.4.3", "x")])
    assert name_attributes(name) == [("snils", "12345678901"), ("common_name", "x")]
    assert build_name(name) is name


def test_names_match_never_raises() -> None:
    bits = asn1_x509.Name.build({"common_name": "x"})
    odd = build_name([("common_name", "x")])
    assert names_match(bits, odd)

    def unique(value: bytes) -> asn1_x509.Name:
        attribute = asn1_x509.NameTypeAndValue({"type": "unique_identifier", "value": value})
        rdns = asn1_x509.RDNSequence([asn1_x509.RelativeDistinguishedName([attribute])])
        return asn1_x509.Name(name="", value=rdns)

    assert not names_match(unique(b"\x01"), odd)
    assert names_match(unique(b"\x01"), asn1_x509.Name.load(unique(b"\x01").dump()))
    # asn1crypto's own comparison raises on bit-string values; ours answers "different".
    with pytest.raises(TypeError):
        _ = unique(b"\x01") == unique(b"\x02")
    assert not names_match(unique(b"\x01"), unique(b"\x02"))


@pytest.mark.parametrize("kind", [ParamSet.TC26_256_D, "P-256"], ids=["gost", "ecdsa"])
def test_signature_bit_string_with_unused_bits_is_malformed(kind: ParamSet | str) -> None:
    # Found by the damaged-certificate property: a lenient reader accepts "1 unused bit" when the
    # signature's last bit is 0, so a changed certificate would carry a valid signature.
    root, _ = _root(kind)
    unused_at = len(root.der) - len(root.signature) - 1
    damaged = bytearray(root.der)
    assert damaged[unused_at] == 0
    damaged[unused_at] = 1
    damaged[-1] &= 0xFE
    with pytest.raises(MalformedDataError, match="unused bits"):
        Certificate.load(bytes(damaged))


def test_malformed_ip_address_in_alt_name_is_a_typed_error() -> None:
    from signing.errors import InvalidInputError
    from signing.x509 import subject_alt_name

    with pytest.raises(InvalidInputError, match="subjectAltName"):
        subject_alt_name([("ip_address", "999.1.2.3.4")])
