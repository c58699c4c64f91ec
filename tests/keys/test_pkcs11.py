"""A key on a PKCS#11 token (SoftHSM2, ECDSA P-256) next to soft units; the CA key stays soft."""

from __future__ import annotations

from uuid import UUID

import pytest
from pydantic import SecretStr

from actors.hsmpool import pkcs11_domain
from actors.keys import load_signing_material
from config.settings import HsmSettings
from tests.actors.hsmpool.conftest import SOFTHSM_MODULE, TOKEN, USER_PIN, SoftHsm
from tests.keys.conftest import FAST_HSM, Accounts, OpenSSL, StartKeysApi


async def test_ecdsa_key_on_a_pkcs11_token(
    keys_api: StartKeysApi,
    people: Accounts,
    ossl: OpenSSL,
    softhsm: SoftHsm,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    softhsm.use(monkeypatch)
    hsm = HsmSettings(
        **{**FAST_HSM, "soft_units": 1},
        pkcs11_module=SOFTHSM_MODULE,
        pkcs11_token_labels=(TOKEN,),
        pkcs11_pin=SecretStr(USER_PIN),
    )
    api = await keys_api(hsm=hsm)
    domain = pkcs11_domain(TOKEN)
    key = await api.new_key("alice", algorithm="ecdsa_p256", hsm_domain=domain)
    assert key["hsm_domain"] == domain
    refused = await api.call(
        "POST", "/keys", "alice", json={"algorithm": "gost3410_2012_256", "hsm_domain": domain}
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "invalid_key_request"

    csr = (await api.call("POST", f"/keys/{key['id']}/csr", "alice", json={})).json()["pem"].encode()
    checked = ossl.run("req", "-verify", "-noout", input=csr)
    assert b"self-signature verify OK" in checked.stdout + checked.stderr, checked.stderr
    issued = await api.issue("alice", key["id"])
    ca_path = ossl.write("ca.pem", (await api.client.get("/api/v1/ca/certificate")).content)
    cert_path = ossl.write("ee.pem", issued["pem"])
    assert ossl.out("verify", "-engine", "gost", "-CAfile", ca_path, cert_path).strip().endswith(b"OK")

    material = await load_signing_material(
        api.services.db, user_id=people.alice, certificate_id=UUID(issued["id"])
    )
    assert material.hsm_key.domain == domain
    assert material.hsm_key.ref.blob is None
    digest = material.signature_algorithm.digest.hash(b"on the token")
    raw = await api.services.hsm.sign_digest(material.hsm_key, digest)
    material.certificate.public_key().verify_digest(
        digest, material.encode_signature(raw), material.signature_algorithm
    )
