"""Keys of every kind in real soft-HSM units, their requests and certificates, checked by openssl."""

from __future__ import annotations

from signing.csr import CertificationRequest
from signing.keys import pem_decode
from signing.x509 import Certificate, name_attributes
from tests.keys.conftest import Accounts, OpenSSL, StartKeysApi

KINDS = [
    ("gost3410_2012_256", None, "CRYPTOPRO_A"),
    ("gost3410_2012_256", "TC26_256_A", "TC26_256_A"),
    ("gost3410_2012_256", "1.2.643.2.2.35.3", "CRYPTOPRO_C"),
    ("gost3410_2012_512", None, "TC26_512_A"),
    ("gost3410_2012_512", "tc26_512_c", "TC26_512_C"),
    ("ecdsa_p256", None, None),
]


async def test_keys_csrs_and_certificates_verify_with_openssl(
    keys_api: StartKeysApi, people: Accounts, ossl: OpenSSL
) -> None:
    api = await keys_api()
    ca_pem = (await api.client.get("/api/v1/ca/certificate")).content
    ca_path = ossl.write("ca.pem", ca_pem)
    ca = Certificate.load(ca_pem)
    assert ca.is_ca
    assert ca.signature_algorithm.name == "streebog256_gost3410_2012_256"
    for index, (algorithm, paramset, expected) in enumerate(KINDS):
        key = await api.new_key("alice", algorithm=algorithm, paramset=paramset, label=f"k{index}")
        assert key["paramset"] == expected
        assert key["is_default"] is (index == 0)
        engine = [] if algorithm == "ecdsa_p256" else ["-engine", "gost"]

        response = await api.call("POST", f"/keys/{key['id']}/csr", "alice", json={})
        assert response.status_code == 200, response.text
        csr_pem = response.json()["pem"].encode()
        # openssl 3.0 exits 0 even when the self-signature fails: read its verdict.
        checked = ossl.run("req", *engine, "-verify", "-noout", input=csr_pem)
        assert b"self-signature verify OK" in checked.stdout + checked.stderr, checked.stderr
        request = CertificationRequest.load(csr_pem)
        assert request.public_key().spki() == _spki(key["public_key_pem"])
        assert name_attributes(request.subject) == [
            ("common_name", "Алиса Петрова"),
            ("email_address", "alice@example.ru"),
        ]

        issued = await api.issue("alice", key["id"])
        cert_path = ossl.write(f"ee{index}.pem", issued["pem"])
        verified = ossl.out("verify", "-engine", "gost", "-x509_strict", "-CAfile", ca_path, cert_path)
        assert verified.strip().endswith(b"OK")
        certificate = Certificate.load(issued["pem"].encode())
        assert certificate.spki == _spki(key["public_key_pem"])
        assert certificate.key_usage == frozenset({"digital_signature", "non_repudiation"})
        assert issued["source"] == "builtin_ca"
        assert issued["chain_validated"] is True
        assert issued["is_default"] is (index == 0)

    der = await api.client.get("/api/v1/ca/certificate", params={"format": "der"})
    assert der.headers["content-type"] == "application/pkix-cert"
    assert der.content == ca.der


async def test_subject_from_the_request_with_russian_attributes(
    keys_api: StartKeysApi, people: Accounts, ossl: OpenSSL
) -> None:
    api = await keys_api()
    key = await api.new_key("bob", algorithm="gost3410_2012_512")
    subject = {
        "common_name": "ООО «Ромашка»",
        "surname": "Иванов",
        "given_name": "Иван Иванович",
        "title": "Генеральный директор",
        "organization_name": "ООО «Ромашка»",
        "locality_name": "Москва",
        "country_name": "RU",
        "inn": "123456789012",
        "snils": "12345678901",
        "ogrn": "1234567890123",
    }
    response = await api.call("POST", f"/keys/{key['id']}/csr", "bob", json={"subject": subject})
    assert response.status_code == 200, response.text
    text = ossl.out(
        "req",
        "-engine",
        "gost",
        "-noout",
        "-subject",
        "-nameopt",
        "utf8,sep_comma_plus",
        input=response.json()["pem"].encode(),
    )
    assert "INN=123456789012" in text.decode()
    assert "Иванов" in text.decode()
    issued = await api.issue("bob", key["id"], subject=subject, validity_days=30)
    certificate = Certificate.load(issued["pem"].encode())
    assert dict(name_attributes(certificate.subject))["snils"] == "12345678901"
    assert (certificate.not_after - certificate.not_before).days in (29, 30)


def _spki(pem: str) -> bytes:
    return pem_decode(pem.encode(), "PUBLIC KEY")
