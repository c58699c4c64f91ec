"""The contract of the operations layer: ``load_signing_material`` and ``trust_anchors``; the CA race."""

from __future__ import annotations

import datetime as dt
import uuid
from uuid import UUID

import pytest
import trio

from actors.keys import load_signing_material, trust_anchors
from actors.keys.ca import BuiltinCa
from actors.keys.errors import (
    CertificateNotFoundError,
    CertificateNotValidNowError,
    CertificateRevokedError,
    KeyRevokedError,
    NoDefaultCertificateError,
)
from actors.keys.settings import CaSettings
from signing.x509 import Certificate
from storage import Connection
from tests.keys.conftest import Accounts, StartKeysApi


async def test_material_signs_in_the_hsm_and_verifies_with_the_certificate(
    keys_api: StartKeysApi, people: Accounts
) -> None:
    api = await keys_api()
    db, hsm = api.services.db, api.services.hsm
    with pytest.raises(NoDefaultCertificateError):
        await load_signing_material(db, user_id=people.alice, certificate_id=None)

    certificates = {}
    for algorithm in ("gost3410_2012_256", "gost3410_2012_512", "ecdsa_p256"):
        key = await api.new_key("alice", algorithm=algorithm)
        certificates[algorithm] = (key["id"], await api.issue("alice", key["id"]))
    default = await load_signing_material(db, user_id=people.alice, certificate_id=None)
    assert str(default.certificate_id) == certificates["gost3410_2012_256"][1]["id"]

    for key_id, issued in certificates.values():
        material = await load_signing_material(db, user_id=people.alice, certificate_id=UUID(issued["id"]))
        assert str(material.key_id) == key_id
        assert material.user_id == people.alice
        assert material.certificate == Certificate.load(issued["pem"].encode())
        digest = material.signature_algorithm.digest.hash(b"document")
        raw = await hsm.sign_digest(material.hsm_key, digest)
        material.certificate.public_key().verify_digest(
            digest, material.encode_signature(raw), material.signature_algorithm
        )

    with pytest.raises(CertificateNotFoundError):  # someone else's looks missing
        await load_signing_material(db, user_id=people.bob, certificate_id=UUID(issued["id"]))
    with pytest.raises(CertificateNotFoundError):
        await load_signing_material(db, user_id=people.alice, certificate_id=uuid.uuid4())
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=400)
    with pytest.raises(CertificateNotValidNowError, match="expired at"):
        await load_signing_material(db, user_id=people.alice, certificate_id=UUID(issued["id"]), at=later)


async def test_revoked_certificates_and_keys_cannot_sign(keys_api: StartKeysApi, people: Accounts) -> None:
    api = await keys_api()
    db = api.services.db
    key = await api.new_key("bob")
    first = await api.issue("bob", key["id"])
    second = await api.issue("bob", key["id"])
    await api.call("POST", f"/certificates/{first['id']}/revoke", "bob", json={"reason": "superseded"})
    with pytest.raises(CertificateRevokedError, match="superseded"):
        await load_signing_material(db, user_id=people.bob, certificate_id=UUID(first["id"]))
    with pytest.raises(NoDefaultCertificateError):  # the revoked one was the default
        await load_signing_material(db, user_id=people.bob, certificate_id=None)
    assert (await load_signing_material(db, user_id=people.bob, certificate_id=UUID(second["id"]))).key_id
    await api.call("POST", f"/keys/{key['id']}/revoke", "bob", json={})
    with pytest.raises(CertificateRevokedError):
        await load_signing_material(db, user_id=people.bob, certificate_id=UUID(second["id"]))
    await db.run(_unrevoke_certificate, UUID(second["id"]))
    with pytest.raises(KeyRevokedError):  # a certificate row made valid by hand still cannot sign
        await load_signing_material(db, user_id=people.bob, certificate_id=UUID(second["id"]))


async def _unrevoke_certificate(conn: Connection, certificate_id: UUID) -> None:
    await conn.execute(
        "UPDATE certificates SET status = 'valid', revoked_at = NULL, revocation_reason = NULL WHERE id = $1",
        certificate_id,
    )


async def test_one_ca_when_workers_race_and_trust_anchors(keys_api: StartKeysApi, people: Accounts) -> None:
    api = await keys_api()
    db, hsm = api.services.db, api.services.hsm
    assert await trust_anchors(db) == []
    racers = [BuiltinCa(db, hsm, CaSettings()) for _ in range(4)]
    loaded = []
    async with trio.open_nursery() as nursery:
        for racer in racers:

            async def load(ca: BuiltinCa = racer) -> None:
                loaded.append(await ca.get())

            nursery.start_soon(load)
    assert len({ca.id for ca in loaded}) == 1
    assert len({ca.certificate for ca in loaded}) == 1
    anchors = await trust_anchors(db)
    assert anchors == [loaded[0].certificate]
    served = Certificate.load((await api.client.get("/api/v1/ca/certificate")).content)
    assert served == loaded[0].certificate
