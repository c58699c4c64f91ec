"""Certificates from an external CA (made with openssl for our CSR) uploaded and checked."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import NamedTuple

from actors.keys.settings import CaSettings
from signing.x509 import Certificate
from tests.keys.conftest import Accounts, KeysApi, OpenSSL, StartKeysApi

EE_EXTENSIONS = "keyUsage=critical,digitalSignature,nonRepudiation\nextendedKeyUsage=emailProtection\n"


class ExternalCa(NamedTuple):
    """A CA made by openssl."""

    key_path: str
    cert_path: str
    pem: bytes


def external_ca(ossl: OpenSSL, name: str) -> ExternalCa:
    """A GOST CA made by openssl."""
    key = ossl.out("genpkey", "-engine", "gost", "-algorithm", "gost2012_256", "-pkeyopt", "paramset:A")
    key_path = ossl.write(f"{name}.key", key)
    cert = ossl.out(
        "req", "-engine", "gost", "-x509", "-new", "-key", key_path, "-utf8",
        "-subj", f"/C=RU/O=УЦ/CN={name}", "-days", "30", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    return ExternalCa(key_path, ossl.write(f"{name}.pem", cert), cert)


def certify(ossl: OpenSSL, ca: ExternalCa, csr_pem: bytes, name: str) -> bytes:
    """openssl x509 -req: the external CA certifies a request; PEM."""
    csr_path = ossl.write(f"{name}.csr", csr_pem)
    ext_path = ossl.write("ee.ext", EE_EXTENSIONS)
    return ossl.out(
        "x509", "-engine", "gost", "-req", "-in", csr_path, "-CA", ca.cert_path, "-CAkey", ca.key_path,
        "-CAcreateserial", "-days", "10", "-extfile", ext_path,
    )  # fmt: skip


async def csr_of(api: KeysApi, user: str, key_id: str) -> bytes:
    response = await api.call("POST", f"/keys/{key_id}/csr", user, json={"subject": {"common_name": "Боб"}})
    assert response.status_code == 200, response.text
    pem: str = response.json()["pem"]
    return pem.encode()


async def test_upload_without_anchors_is_accepted_with_a_warning(
    keys_api: StartKeysApi, people: Accounts, ossl: OpenSSL
) -> None:
    api = await keys_api(ca=CaSettings(auto_issue=False))
    key = await api.new_key("bob")
    ca = external_ca(ossl, "External CA")
    cert_pem = certify(ossl, ca, await csr_of(api, "bob", key["id"]), "bob")

    refused = await api.call("POST", f"/keys/{key['id']}/certificate", "bob", json={})
    assert refused.status_code == 403
    assert refused.json()["code"] == "ca_auto_issue_disabled"

    response = await api.call(
        "PUT", f"/keys/{key['id']}/certificate", "bob", json={"certificate": cert_pem.decode()}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["source"] == "uploaded"
    assert body["chain_validated"] is False
    assert body["is_default"] is True
    assert any("no trust anchor" in warning for warning in body["warnings"])
    assert Certificate.load(body["pem"].encode()) == Certificate.load(cert_pem)
    assert body["issuer"] == "CN=External CA, O=УЦ, C=RU"

    # The same certificate again (as base64 DER this time): a conflict, not a second row.
    der = Certificate.load(cert_pem).der
    again = await api.call(
        "PUT", f"/keys/{key['id']}/certificate", "bob", json={"certificate": base64.b64encode(der).decode()}
    )
    assert again.status_code == 409
    assert again.json()["code"] == "certificate_exists"


async def test_a_certificate_for_another_key_is_refused(
    keys_api: StartKeysApi, people: Accounts, ossl: OpenSSL
) -> None:
    api = await keys_api()
    first = await api.new_key("bob")
    second = await api.new_key("bob", algorithm="gost3410_2012_512")
    ca = external_ca(ossl, "External CA")
    cert_pem = certify(ossl, ca, await csr_of(api, "bob", first["id"]), "first")

    response = await api.call(
        "PUT", f"/keys/{second['id']}/certificate", "bob", json={"certificate": cert_pem.decode()}
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "certificate_key_mismatch"
    assert second["id"] in problem["detail"]
    assert "gost3410_2012_256/CRYPTOPRO_A" in problem["detail"]
    assert "gost3410_2012_512/TC26_512_A" in problem["detail"]
    assert response.headers["content-type"] == "application/problem+json"

    # A certificate our own CA issued for the first key, uploaded for the second: refused too.
    issued = await api.issue("bob", first["id"])
    response = await api.call(
        "PUT", f"/keys/{second['id']}/certificate", "bob", json={"certificate": issued["pem"]}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "certificate_key_mismatch"

    # Not a certificate at all, or not even base64.
    garbage = base64.b64encode(b"\x30\x03\x02\x01\x01").decode()
    response = await api.call("PUT", f"/keys/{first['id']}/certificate", "bob", json={"certificate": garbage})
    assert response.status_code == 422
    assert response.json()["code"] == "malformed_data"
    response = await api.call("PUT", f"/keys/{first['id']}/certificate", "bob", json={"certificate": "%%%"})
    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"
    # A CA certificate is not a key's certificate.
    response = await api.call(
        "PUT",
        f"/keys/{first['id']}/certificate",
        "bob",
        json={"certificate": ca.pem.decode()},
    )
    assert response.status_code == 422


async def test_with_trust_anchors_the_chain_must_validate(
    keys_api: StartKeysApi, people: Accounts, ossl: OpenSSL
) -> None:
    trusted = external_ca(ossl, "Trusted CA")
    untrusted = external_ca(ossl, "Rogue CA")
    api = await keys_api(ca=CaSettings(trust_anchor_files=(Path(trusted.cert_path),)))
    key = await api.new_key("bob")
    csr = await csr_of(api, "bob", key["id"])

    rogue_pem = certify(ossl, untrusted, csr, "rogue")
    response = await api.call(
        "PUT", f"/keys/{key['id']}/certificate", "bob", json={"certificate": rogue_pem.decode()}
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "certificate_untrusted"
    assert "no_chain" in problem["detail"]

    good_pem = certify(ossl, trusted, csr, "good")
    response = await api.call(
        "PUT", f"/keys/{key['id']}/certificate", "bob", json={"certificate": good_pem.decode()}
    )
    assert response.status_code == 201, response.text
    assert response.json()["chain_validated"] is True
    assert response.json()["warnings"] == []
