"""Certificates and chains against ``openssl req -x509`` / ``openssl x509`` / ``openssl verify``.

* OpenSSL-made CA and end-entity certificates (every GOST parameter set, ECDSA, RSA) parse here,
  re-serialise byte-identically and validate with :func:`signing.chain.verify_chain`.
* Our root → subordinate → end-entity chains pass ``openssl verify -x509_strict``; damaged or
  expired ones fail there and here alike.
* Our CA code issues with an OpenSSL-made CA certificate and key, and OpenSSL accepts the result.
"""

from __future__ import annotations

import datetime as dt

import pytest

from signing.chain import ChainFailure, verify_chain
from signing.gost.params import ParamSet
from signing.keys import load_private_key
from signing.x509 import CA_PROFILE, Certificate, CertificateAuthority, name_attributes, self_signed_ca
from tests.signing.conftest import GOST_PARAMSETS, NOW, OPENSSL_PARAMSET, OpenSSL, any_key

IDS = [p.name for p in GOST_PARAMSETS]
YEAR = dt.timedelta(days=365)
AT = ["-attime", str(int(NOW.timestamp()))]
EE_EXTENSIONS = b"""basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,nonRepudiation
extendedKeyUsage=clientAuth,emailProtection
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
crlDistributionPoints=URI:http://ca.klyuch.example/ca.crl
authorityInfoAccess=OCSP;URI:http://ca.klyuch.example/ocsp,caIssuers;URI:http://ca.klyuch.example/ca.crt
subjectAltName=email:ivanov@example.ru
"""


def _genpkey(ossl: OpenSSL, kind: ParamSet | str) -> bytes:
    if isinstance(kind, ParamSet):
        return ossl.genpkey(kind)
    if kind == "RSA":
        return ossl.out("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048")
    return ossl.out("genpkey", "-algorithm", "EC", "-pkeyopt", f"ec_paramgen_curve:{kind}")


def _engine(kind: ParamSet | str) -> list[str]:
    return ["-engine", "gost"] if isinstance(kind, ParamSet) else []


def _name(kind: ParamSet | str) -> str:
    return kind.name if isinstance(kind, ParamSet) else kind


def _openssl_chain(ossl: OpenSSL, kind: ParamSet | str) -> tuple[bytes, bytes, bytes, bytes]:
    """(CA key PEM, CA certificate PEM, end-entity certificate DER, end-entity key PEM), all by OpenSSL."""
    name, engine = _name(kind), _engine(kind)
    ca_key = _genpkey(ossl, kind)
    ca_key_path = ossl.write(f"ca-{name}.key", ca_key)
    ca_pem = ossl.out(
        "req", *engine, "-x509", "-new", "-key", ca_key_path, "-utf8",
        "-subj", f"/C=RU/O=Ключ/CN=OpenSSL CA {name}", "-days", "3650", "-set_serial", "0x7a5c",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    ca_path = ossl.write(f"ca-{name}.crt", ca_pem)
    ee_key = _genpkey(ossl, kind)
    ee_key_path = ossl.write(f"ee-{name}.key", ee_key)
    csr = ossl.out(
        "req", *engine, "-new", "-key", ee_key_path, "-utf8", "-subj", "/CN=Иванов/SNILS=12345678901"
    )
    csr_path = ossl.write(f"ee-{name}.csr", csr)
    ext_path = ossl.write("ee.ext", EE_EXTENSIONS)
    ee_der = ossl.out(
        "x509", *engine, "-req", "-in", csr_path, "-CA", ca_path, "-CAkey", ca_key_path,
        "-set_serial", "0x1234", "-days", "365", "-extfile", ext_path, "-outform", "DER",
    )  # fmt: skip
    return ca_key, ca_pem, ee_der, ee_key


KINDS: list[ParamSet | str] = [*GOST_PARAMSETS, "P-256", "P-384", "RSA"]
KIND_IDS = [_name(k) for k in KINDS]


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_openssl_certificates_parse_round_trip_and_validate(ossl: OpenSSL, kind: ParamSet | str) -> None:
    _, ca_pem, ee_der, ee_key = _openssl_chain(ossl, kind)
    ca = Certificate.load(ca_pem)
    ee = Certificate.load(ee_der)
    for certificate in (ca, ee):
        assert certificate.asn1.dump(force=True) == certificate.der
    assert ca.is_ca
    assert ca.key_usage == frozenset({"key_cert_sign", "crl_sign"})
    assert ca.serial_number == 0x7A5C
    assert ee.serial_number == 0x1234
    assert name_attributes(ee.subject) == [("common_name", "Иванов"), ("snils", "12345678901")]
    assert ee.key_usage == frozenset({"digital_signature", "non_repudiation"})
    assert ee.extended_key_usage == ("client_auth", "email_protection")
    assert ee.crl_urls == ("http://ca.klyuch.example/ca.crl",)
    assert ee.ocsp_urls == ("http://ca.klyuch.example/ocsp",)
    assert ee.ca_issuers_urls == ("http://ca.klyuch.example/ca.crt",)
    assert ee.authority_key_identifier == ca.subject_key_identifier
    assert ee.public_key().spki() == load_private_key(ee_key).public_key().spki()
    if isinstance(kind, ParamSet):
        assert ee.signature_algorithm.name.endswith(str(kind.key_size))
        # OpenSSL writes NULL signature parameters for GOST; we read them all the same.
        assert ee.asn1["signature_algorithm"]["parameters"].dump() == b"\x05\x00"
    now = ee.not_before + dt.timedelta(hours=1)
    result = verify_chain(ee, trust_anchors=[ca], at=now, required_key_usages=["non_repudiation"])
    assert result.valid, result.problems
    assert result.path == (ee, ca)


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_our_chains_pass_openssl_verify(ossl: OpenSSL, kind: ParamSet | str) -> None:
    name, engine = _name(kind), _engine(kind)
    root_key, sub_key = any_key(kind, 5), any_key(kind, 6)
    root = self_signed_ca(
        root_key,
        subject=[("country_name", "RU"), ("common_name", f"Klyuch Root {name}")],
        not_before=NOW - YEAR,
        not_after=NOW + 5 * YEAR,
    )
    sub = CertificateAuthority(root, root_key).issue(
        subject=[("common_name", f"Klyuch Sub {name}"), ("ogrn", "1027700132195")],
        public_key=sub_key.public_key(),
        not_before=NOW - YEAR,
        not_after=NOW + 3 * YEAR,
        profile=CA_PROFILE,
    )
    ee = CertificateAuthority(
        sub,
        sub_key,
        crl_urls=["http://ca/sub.crl"],
        ocsp_urls=["http://ca/ocsp"],
        ca_issuers_urls=["http://ca/sub.crt"],
    ).issue(
        subject=[("common_name", "Иванов"), ("inn", "500100732259")],
        public_key=any_key(kind, 7).public_key(),
        not_before=NOW - dt.timedelta(days=1),
        not_after=NOW + YEAR,
        subject_alt_names=[("rfc822_name", "ivanov@example.ru")],
    )
    root_path = ossl.write(f"our-root-{name}.pem", root.pem())
    sub_path = ossl.write(f"our-sub-{name}.pem", sub.pem())
    verify = ["verify", *engine, "-x509_strict", "-CAfile", root_path, "-untrusted", sub_path]
    assert ossl.out(*verify, *AT, input=ee.pem()).strip().endswith(b"OK")
    assert verify_chain(ee, trust_anchors=[root], intermediates=[sub], at=NOW).valid

    # Damaged signature: both refuse.
    damaged = bytearray(ee.der)
    damaged[-1] ^= 0x01
    damaged_certificate = Certificate.load(bytes(damaged))
    assert ossl.run(*verify, *AT, input=damaged_certificate.pem(), check=False).returncode != 0
    result = verify_chain(damaged_certificate, trust_anchors=[root], intermediates=[sub], at=NOW)
    assert [p.code for p in result.problems] == [ChainFailure.SIGNATURE_INVALID]

    # After the end entity expires: both refuse.
    later = NOW + YEAR + dt.timedelta(days=1)
    assert (
        ossl.run(*verify, "-attime", str(int(later.timestamp())), input=ee.pem(), check=False).returncode != 0
    )
    result = verify_chain(ee, trust_anchors=[root], intermediates=[sub], at=later)
    assert [p.code for p in result.problems] == [ChainFailure.EXPIRED]

    # OpenSSL reads every extension we wrote.
    text = ossl.out("x509", *engine, "-noout", "-text", input=ee.pem()).decode()
    fragments = (
        "CA:FALSE",
        "Non Repudiation",
        "E-mail Protection",
        "URI:http://ca/sub.crl",
        "OCSP - URI:http://ca/ocsp",
        "CA Issuers - URI:http://ca/sub.crt",
        "email:ivanov@example.ru",
        "INN = 500100732259",
    )
    for fragment in fragments:
        assert fragment in text


@pytest.mark.parametrize(
    "paramset", [ParamSet.CRYPTOPRO_A, ParamSet.TC26_256_A, ParamSet.TC26_512_C], ids=lambda p: p.name
)
def test_our_ca_code_issues_with_an_openssl_ca(ossl: OpenSSL, paramset: ParamSet) -> None:
    ca_key_pem, ca_pem, _, _ = _openssl_chain(ossl, paramset)
    ca = Certificate.load(ca_pem)
    authority = CertificateAuthority(ca, load_private_key(ca_key_pem))
    start = max(ca.not_before, dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    issued = authority.issue(
        subject={"common_name": "issued by our code"},
        public_key=any_key(ParamSet.TC26_512_A).public_key(),
        not_before=start,
        not_after=start + dt.timedelta(days=30),
    )
    ca_path = ossl.write(f"openssl-ca-{paramset.name}.pem", ca_pem)
    at = ["-attime", str(int((start + dt.timedelta(hours=1)).timestamp()))]
    assert (
        ossl.out("verify", "-engine", "gost", "-x509_strict", "-CAfile", ca_path, *at, input=issued.pem())
        .strip()
        .endswith(b"OK")
    )


def test_openssl_paramset_table_covers_every_production_set() -> None:
    assert set(OPENSSL_PARAMSET) == set(GOST_PARAMSETS)
