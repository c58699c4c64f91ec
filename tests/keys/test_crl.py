"""The built-in CA's CRL on a real server: public, signed in the HSM, listing revocations; openssl checks."""

from __future__ import annotations

import datetime as dt
import subprocess
from typing import Any

import structlog

from actors.keys.settings import CaSettings, crl_distribution_urls
from config.settings import HsmSettings, ServerSettings, Settings
from signing.crl import Crl
from signing.x509 import Certificate
from storage import Connection, Database
from tests.keys.conftest import FAST_HSM, Accounts, KeysApi, StartKeysApi, hsm_stopped
from tests.oracle import OpenSSL, gost_environment


def openssl_verifies_crl(ossl: OpenSSL, crl_der: bytes, ca_path: str) -> None:
    """``openssl crl -verify`` (gost engine through OPENSSL_CONF) accepts the CRL's signature."""
    crl_path = ossl.write("crl.der", crl_der)
    # ``openssl crl`` has no -engine option: the environment loads the engine.
    done = subprocess.run(
        ["openssl", "crl", "-inform", "DER", "-in", crl_path, "-CAfile", ca_path, "-noout", "-verify"],
        capture_output=True,
        check=False,
        timeout=60,
        env=gost_environment(ossl.workdir),
    )
    assert done.returncode == 0, done.stderr
    assert b"verify OK" in done.stdout + done.stderr, done.stderr


async def fetch_crl(api: KeysApi, **params: Any) -> Crl:
    """GET /ca/crl without credentials; the parsed CRL."""
    response = await api.client.get("/api/v1/ca/crl", params=params)
    assert response.status_code == 200, response.text
    return Crl.load(response.content)


async def test_crl_is_public_signed_and_lists_revocations(
    keys_api: StartKeysApi, people: Accounts, ossl: OpenSSL
) -> None:
    api = await keys_api(ca=CaSettings(crl_validity_s=7200))
    ca_pem = (await api.client.get("/api/v1/ca/certificate")).content
    ca = Certificate.load(ca_pem)
    ca_path = ossl.write("ca.pem", ca_pem)

    with structlog.testing.capture_logs() as events:
        response = await api.client.get("/api/v1/ca/crl")  # no Authorization header
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/pkix-crl"
        first = Crl.load(response.content)
        again = await fetch_crl(api)
    issued_events = [event for event in events if event["event"] == "audit_crl_issued"]
    assert len(issued_events) == 1, "an unchanged CRL is served from the cache, not signed again"
    assert issued_events[0]["crl_number"] == first.number
    assert again.der == first.der
    assert first.entries == ()
    assert first.next_update is not None
    assert first.next_update - first.this_update == dt.timedelta(seconds=7200)
    assert first.authority_key_identifier == ca.subject_key_identifier
    first.verify_signature(ca.public_key())
    openssl_verifies_crl(ossl, first.der, ca_path)

    key = await api.new_key("alice")
    issued = await api.issue("alice", key["id"])
    revoked = await api.call(
        "POST", f"/certificates/{issued['id']}/revoke", "alice", json={"reason": "key_compromise"}
    )
    assert revoked.status_code == 200, revoked.text
    second = await fetch_crl(api)
    assert second.number is not None
    assert first.number is not None
    assert second.number > first.number
    [entry] = second.entries
    assert entry.serial_number == int(issued["serial"], 16)
    assert entry.reason == "key_compromise"
    revoked_at = dt.datetime.fromisoformat(revoked.json()["revoked_at"])
    assert entry.revoked_at == revoked_at.replace(microsecond=0)
    openssl_verifies_crl(ossl, second.der, ca_path)
    # openssl's own path validation with the CRL sees the certificate as revoked (X509 error 23).
    cert_path = ossl.write("alice.pem", issued["pem"])
    crl_pem = (await api.client.get("/api/v1/ca/crl", params={"format": "pem"})).content
    assert crl_pem.startswith(b"-----BEGIN X509 CRL-----")
    crl_path = ossl.write("crl.pem", crl_pem)
    checked = ossl.run(
        "verify", "-engine", "gost", "-crl_check", "-CAfile", ca_path, "-CRLfile", crl_path, cert_path
    )
    assert checked.returncode != 0
    assert b"certificate revoked" in checked.stdout + checked.stderr

    # Revoking a key revokes its other certificate: the next CRL lists both, with a higher number;
    # a reason that is no RFC 5280 CRLReason ("unspecified") leaves the reasonCode out.
    other = await api.issue("alice", (await api.new_key("alice"))["id"])
    await api.call("POST", f"/keys/{other['key_id']}/revoke", "alice", json={})
    third = await fetch_crl(api)
    assert third.number is not None
    assert third.number > second.number
    assert {e.serial_number: e.reason for e in third.entries} == {
        int(issued["serial"], 16): "key_compromise",
        int(other["serial"], 16): None,
    }
    pem_by_accept = await api.client.get("/api/v1/ca/crl", headers={"Accept": "application/x-pem-file"})
    assert pem_by_accept.headers["content-type"] == "application/x-pem-file"
    assert Crl.load(pem_by_accept.content).der == third.der


async def test_crl_validity_defaults_to_a_day(keys_api: StartKeysApi) -> None:
    api = await keys_api()
    crl = await fetch_crl(api)
    assert crl.next_update is not None
    assert crl.next_update - crl.this_update == dt.timedelta(days=1)
    document = (await api.client.get("/openapi.json")).json()
    assert not document["paths"]["/api/v1/ca/crl"]["get"].get("security")


async def test_an_hsm_outage_serves_the_cached_crl_until_its_next_update(
    keys_api: StartKeysApi, people: Accounts
) -> None:
    quick = HsmSettings(
        **{**FAST_HSM, "call_timeout_s": 1.0, "health_interval_s": 0.2, "health_timeout_s": 0.5}
    )
    api = await keys_api(hsm=quick)
    key = await api.new_key("alice")
    issued = await api.issue("alice", key["id"])
    first = await fetch_crl(api)
    revoked = await api.call(
        "POST", f"/certificates/{issued['id']}/revoke", "alice", json={"reason": "superseded"}
    )
    assert revoked.status_code == 200
    async with hsm_stopped(api.services.hsm):
        with structlog.testing.capture_logs() as events:
            stale = await fetch_crl(api)
        # Still a valid CRL (before its nextUpdate), the one already issued; the deferral is logged.
        assert stale.der == first.der
        assert any(event["event"] == "crl_reissue_deferred" for event in events)
    fresh = await fetch_crl(api)
    assert [entry.serial_number for entry in fresh.entries] == [int(issued["serial"], 16)]


async def test_issued_certificates_name_the_crl(
    keys_api: StartKeysApi, people: Accounts, ossl: OpenSSL
) -> None:
    """``ca.crl_url`` becomes the CRL distribution point of every certificate the CA issues."""
    url = "http://pki.example.test/klyuch-ca.crl"
    api = await keys_api(ca=CaSettings(crl_url=url))
    issued = await api.issue("alice", (await api.new_key("alice"))["id"])
    assert Certificate.load(issued["pem"].encode()).crl_urls == (url,)
    path = ossl.write("alice.pem", issued["pem"])
    text = ossl.out("x509", "-engine", "gost", "-in", path, "-noout", "-text")
    assert f"URI:{url}".encode() in text


def test_crl_distribution_urls_follow_the_configured_public_url(settings: Settings) -> None:
    """Explicit ``ca.crl_url`` first; else the server's configured public URL; never a guessed one."""
    assert crl_distribution_urls(settings.model_copy(update={"server": ServerSettings()})) == ()
    public = settings.model_copy(update={"server": ServerSettings(public_url="https://sign.example.test/")})
    assert crl_distribution_urls(public) == ("https://sign.example.test/api/v1/ca/crl",)
    explicit = public.model_copy(update={"ca": CaSettings(crl_url="http://pki.example.test/x.crl")})
    assert crl_distribution_urls(explicit) == ("http://pki.example.test/x.crl",)


async def test_a_stored_crl_past_its_refresh_point_is_signed_again(
    keys_api: StartKeysApi, people: Accounts, db: Database
) -> None:
    """The refresh point (3/4 of the validity) is stored with the CRL and judged by the database clock."""
    api = await keys_api(ca=CaSettings(crl_validity_s=7200))
    first = await fetch_crl(api)
    assert (await fetch_crl(api)).der == first.der
    # Age the stored CRL by 6000 s of its 7200 s (past 3/4, before nextUpdate): its times are columns.
    await db.run(_age_stored_crls)
    with structlog.testing.capture_logs() as events:
        second = await fetch_crl(api)
    assert second.number is not None
    assert first.number is not None
    assert second.number > first.number
    assert [event["crl_number"] for event in events if event["event"] == "audit_crl_issued"] == [
        second.number
    ]


async def _age_stored_crls(conn: Connection) -> None:
    await conn.execute(
        """UPDATE ca_crls SET this_update = this_update - interval '6000 s',
                  next_update = next_update - interval '6000 s',
                  refresh_at = refresh_at - interval '6000 s'"""
    )


async def test_a_shorter_configured_validity_takes_effect_at_once_without_ping_pong(
    keys_api: StartKeysApi, people: Accounts
) -> None:
    """A worker configured for a shorter validity re-signs a longer-lived stored CRL; a worker allowing
    longer serves the shorter one (two configurations during a rolling change never alternate)."""
    long_lived = await keys_api(ca=CaSettings(crl_validity_s=7200))
    first = await fetch_crl(long_lived)
    short_lived = await keys_api(ca=CaSettings(crl_validity_s=3600))
    second = await fetch_crl(short_lived)
    assert second.number is not None
    assert first.number is not None
    assert second.number > first.number
    assert second.next_update is not None
    assert second.next_update - second.this_update == dt.timedelta(seconds=3600)
    assert (await fetch_crl(long_lived)).der == second.der
    assert (await fetch_crl(short_lived)).der == second.der
