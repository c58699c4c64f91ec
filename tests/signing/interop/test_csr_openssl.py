"""PKCS#10 requests against ``openssl req``, both directions, every parameter set.

* ``openssl req -new`` requests (Russian subject, requested extensions) parse and verify here,
  re-serialise byte-identically, and our own encoder rebuilds their signed part byte for byte.
* Our requests pass ``openssl req -verify``.
"""

from __future__ import annotations

import pytest

from signing.algorithms import signature_algorithm
from signing.csr import CertificationRequest, build_request, prepare_request
from signing.gost.params import ParamSet
from signing.keys import load_private_key, private_key_pem
from signing.x509 import name_attributes
from tests.signing.conftest import GOST_PARAMSETS, OpenSSL, any_key, cached_international_key

IDS = [p.name for p in GOST_PARAMSETS]
OPENSSL_SUBJECT = "/C=RU/O=ООО Ключ/CN=Иванов Иван/INN=500100732259/OGRN=1027700132195/SNILS=12345678901"
SUBJECT = [
    ("country_name", "RU"),
    ("organization_name", "ООО Ключ"),
    ("common_name", "Иванов Иван"),
    ("inn", "500100732259"),
    ("ogrn", "1027700132195"),
    ("snils", "12345678901"),
]
ADDEXT = [
    "-addext",
    "keyUsage=critical,digitalSignature,nonRepudiation",
    "-addext",
    "extendedKeyUsage=clientAuth,emailProtection",
    "-addext",
    "subjectAltName=email:ivanov@example.ru",
]


def _openssl_request(ossl: OpenSSL, key_pem: bytes, name: str, options: list[str]) -> bytes:
    key_path = ossl.write(f"csr-key-{name}.pem", key_pem)
    return ossl.out(
        "req",
        *options,
        "-new",
        "-key",
        key_path,
        "-utf8",
        "-subj",
        OPENSSL_SUBJECT,
        *ADDEXT,
        "-outform",
        "DER",
    )


def _check_openssl_request(der: bytes, key_spki: bytes) -> CertificationRequest:
    request = CertificationRequest.load(der)  # verifies the signature
    assert request.der == der
    assert request.asn1.dump(force=True) == der
    assert request.public_key().spki() == key_spki
    assert name_attributes(request.subject) == SUBJECT
    assert request.key_usage == frozenset({"digital_signature", "non_repudiation"})
    assert request.extended_key_usage == ("client_auth", "email_protection")
    assert request.subject_alt_names == (("rfc822_name", "ivanov@example.ru"),)
    # Our encoder, given the same content, produces OpenSSL's signed part byte for byte.
    prepared = prepare_request(
        subject=SUBJECT,
        public_key=request.public_key(),
        signature_algorithm=request.signature_algorithm,
        key_usages={"digital_signature", "non_repudiation"},
        extended_key_usages=["client_auth", "email_protection"],
        subject_alt_names=[("rfc822_name", "ivanov@example.ru")],
    )
    assert prepared.tbs_der == request.info_der
    return request


@pytest.mark.parametrize("paramset", GOST_PARAMSETS, ids=IDS)
def test_openssl_gost_requests_parse_verify_and_rebuild(ossl: OpenSSL, paramset: ParamSet) -> None:
    key_pem = ossl.genpkey(paramset)
    der = _openssl_request(ossl, key_pem, paramset.name, ["-engine", "gost"])
    key = load_private_key(key_pem)
    request = _check_openssl_request(der, key.public_key().spki())
    assert request.signature_algorithm is key.signature_algorithm


@pytest.mark.parametrize("paramset", GOST_PARAMSETS, ids=IDS)
def test_openssl_verifies_our_gost_requests(ossl: OpenSSL, paramset: ParamSet) -> None:
    request = build_request(
        any_key(paramset),
        subject=SUBJECT,
        key_usages={"digital_signature"},
        extended_key_usages=["client_auth"],
        subject_alt_names=[("rfc822_name", "ivanov@example.ru")],
    )
    done = ossl.run("req", "-engine", "gost", "-verify", "-noout", "-inform", "DER", input=request.der)
    assert b"verify OK" in done.stdout + done.stderr
    text = ossl.out("req", "-engine", "gost", "-noout", "-text", "-inform", "DER", input=request.der).decode()
    assert "INN = 500100732259" in text
    assert "Digital Signature" in text


def test_openssl_rejects_our_tampered_request(ossl: OpenSSL) -> None:
    der = bytearray(build_request(any_key(ParamSet.TC26_512_A), subject=SUBJECT).der)
    der[-5] ^= 0x01
    done = ossl.run(
        "req", "-engine", "gost", "-verify", "-noout", "-inform", "DER", input=bytes(der), check=False
    )
    assert b"verify OK" not in done.stdout + done.stderr


PSS = ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"]
INTERNATIONAL = [
    ("P-256", "sha256_ecdsa", ["-sha256"]),
    ("P-384", "sha384_ecdsa", ["-sha384"]),
    ("RSA", "sha256_rsa", ["-sha256"]),
    ("RSA", "sha512_rsassa_pss", ["-sha512", *PSS]),
]


@pytest.mark.parametrize(("kind", "algorithm", "options"), INTERNATIONAL, ids=[i[1] for i in INTERNATIONAL])
def test_international_requests_both_ways(
    ossl: OpenSSL, kind: str, algorithm: str, options: list[str]
) -> None:
    key = cached_international_key(kind).with_algorithm(signature_algorithm(algorithm))
    ours = build_request(key, subject=SUBJECT, key_usages={"digital_signature"})
    done = ossl.run("req", "-verify", "-noout", "-inform", "DER", input=ours.der)
    assert b"verify OK" in done.stdout + done.stderr
    der = _openssl_request(ossl, private_key_pem(key), algorithm, options)
    request = _check_openssl_request(der, key.public_key().spki())
    assert request.signature_algorithm is key.signature_algorithm
