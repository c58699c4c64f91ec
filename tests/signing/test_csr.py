"""PKCS#10 requests: build (one step and prepare → sign → finish), parse with verification,
requested extensions, Russian subject attributes, and typed errors on bad input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signing import algorithms
from signing.csr import CertificationRequest, build_request, prepare_request
from signing.errors import (
    InvalidInputError,
    InvalidSignatureError,
    MalformedDataError,
    SigningError,
    UnsupportedAlgorithmError,
)
from signing.gost.params import ParamSet
from signing.x509 import name_attributes
from tests.signing.conftest import GOST_PARAMSETS, INTERNATIONAL_KINDS, any_key

SUBJECT = [
    ("country_name", "RU"),
    ("state_or_province_name", "77 Москва"),
    ("locality_name", "Москва"),
    ("street_address", "ул. Тверская, д. 1"),
    ("organization_name", "ООО «Ключ»"),
    ("title", "Генеральный директор"),
    ("surname", "Иванов"),
    ("given_name", "Иван Иванович"),
    ("common_name", "ООО «Ключ»"),
    ("email_address", "ivanov@example.ru"),
    ("ogrn", "1027700132195"),
    ("innle", "7707083893"),
    ("inn", "007707083893"),
    ("snils", "12345678901"),
]
KINDS = [*GOST_PARAMSETS, *INTERNATIONAL_KINDS]
IDS = [str(getattr(k, "name", k)) for k in KINDS]


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_build_and_parse(kind: ParamSet | str) -> None:
    key = any_key(kind)
    request = build_request(
        key,
        subject=SUBJECT,
        key_usages={"digital_signature", "non_repudiation"},
        extended_key_usages=["client_auth", "email_protection", "1.2.643.2.2.34.6"],
        subject_alt_names=[("rfc822_name", "ivanov@example.ru"), ("dns_name", "klyuch.example")],
    )
    parsed = CertificationRequest.load(request.pem())
    assert parsed == request
    assert parsed.der == request.der
    assert name_attributes(parsed.subject) == SUBJECT
    assert parsed.public_key().spki() == key.public_key().spki()
    assert parsed.signature_algorithm is key.signature_algorithm
    assert parsed.key_usage == frozenset({"digital_signature", "non_repudiation"})
    assert parsed.extended_key_usage == ("client_auth", "email_protection", "1.2.643.2.2.34.6")
    assert parsed.subject_alt_names == (("rfc822_name", "ivanov@example.ru"), ("dns_name", "klyuch.example"))


def test_prepare_sign_finish_matches_one_step_for_deterministic_rsa() -> None:
    key = any_key("RSA")
    prepared = prepare_request(
        subject={"common_name": "x"}, public_key=key.public_key(), signature_algorithm=key.signature_algorithm
    )
    assert len(prepared.digest) == 32
    # The raw sign step happens "elsewhere" (an HSM): only the digest crosses.
    request = prepared.finish(key.sign_digest(prepared.digest))
    assert request == build_request(key, subject={"common_name": "x"})


def test_request_without_extensions_has_an_empty_attribute_set() -> None:
    request = build_request(any_key("P-256"), subject={"common_name": "x"})
    assert request.extensions == ()
    assert request.key_usage is None
    assert request.extended_key_usage is None
    assert request.subject_alt_names == ()
    info = request.asn1["certification_request_info"]
    assert info["attributes"].dump() == b"\xa0\x00"


def test_finish_refuses_a_wrong_signature() -> None:
    key, other = any_key(ParamSet.CRYPTOPRO_B), any_key(ParamSet.CRYPTOPRO_B, 1)
    prepared = prepare_request(
        subject={"common_name": "x"}, public_key=key.public_key(), signature_algorithm=key.signature_algorithm
    )
    with pytest.raises(InvalidSignatureError):
        prepared.finish(other.sign_digest(prepared.digest))
    with pytest.raises(UnsupportedAlgorithmError):
        prepare_request(
            subject={"common_name": "x"},
            public_key=key.public_key(),
            signature_algorithm=algorithms.signature_algorithm("sha256_ecdsa"),
        )


@pytest.mark.parametrize("kind", [ParamSet.TC26_512_A, "P-256"], ids=["gost", "ecdsa"])
def test_tampering_is_detected(kind: ParamSet | str) -> None:
    request = build_request(any_key(kind), subject={"common_name": "Петров"})
    der = bytearray(request.der)
    der[-1] ^= 0x01  # last byte of the signature
    with pytest.raises(InvalidSignatureError):
        CertificationRequest.load(bytes(der))
    subject_at = request.der.index("Петров".encode())
    der = bytearray(request.der)
    der[subject_at] ^= 0x01  # still valid UTF-8 in a valid structure, different subject
    with pytest.raises((InvalidSignatureError, MalformedDataError)):
        CertificationRequest.load(bytes(der))


def test_truncated_and_garbage_requests_are_malformed() -> None:
    der = build_request(any_key(ParamSet.CRYPTOPRO_A), subject={"common_name": "x"}).der
    for candidate in (
        der[:-1],
        der[:10],
        der + b"\x00",
        b"",
        b"\x30\x00",
        b"-----BEGIN CERTIFICATE REQUEST-----\n",
    ):
        with pytest.raises(MalformedDataError):
            CertificationRequest.load(candidate)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_damaged_requests_raise_only_typed_errors(data: st.DataObject) -> None:
    der = build_request(any_key(ParamSet.TC26_256_B), subject={"common_name": "x", "inn": "500100732259"}).der
    position = data.draw(st.integers(min_value=0, max_value=len(der) - 1))
    damaged = bytearray(der)
    damaged[position] ^= data.draw(st.integers(min_value=1, max_value=255))
    with pytest.raises(SigningError):
        CertificationRequest.load(bytes(damaged))


@settings(max_examples=40, deadline=None)
@given(
    common_name=st.text(min_size=1, max_size=64).filter(lambda s: "\x00" not in s),
    inn=st.text(alphabet="0123456789", min_size=12, max_size=12),
)
def test_subject_round_trip(common_name: str, inn: str) -> None:
    request = build_request(any_key("P-256"), subject=[("common_name", common_name), ("inn", inn)])
    assert name_attributes(CertificationRequest.load(request.der).subject) == [
        ("common_name", common_name),
        ("inn", inn),
    ]


@pytest.mark.parametrize(
    "subject",
    [
        [("inn", "12345")],  # too short
        [("snils", "1234567890a")],  # not digits
        [("ogrn", "１０２７７００１３２１９５")],  # non-ASCII digits
        [("country_name", "Россия")],  # not a PrintableString
        [("no_such_attribute", "x")],
    ],
)
def test_invalid_subjects_are_refused(subject: list[tuple[str, str]]) -> None:
    with pytest.raises(InvalidInputError):
        build_request(any_key("P-256"), subject=subject)


def test_invalid_alt_names_are_refused() -> None:
    with pytest.raises(InvalidInputError):
        build_request(
            any_key("P-256"), subject={"common_name": "x"}, subject_alt_names=[("no_such_kind", "x")]
        )


def test_signature_bit_string_with_unused_bits_is_malformed() -> None:
    request = build_request(any_key(ParamSet.TC26_256_D), subject={"common_name": "x"})
    unused_at = len(request.der) - len(request.signature) - 1
    damaged = bytearray(request.der)
    damaged[unused_at] = 1
    damaged[-1] &= 0xFE
    with pytest.raises(MalformedDataError, match="unused bits"):
        CertificationRequest.load(bytes(damaged))
