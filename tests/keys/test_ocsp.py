"""The built-in CA's OCSP responder on a real server: ``openssl ocsp`` asks, the HSM signs.

One served app (real PostgreSQL, soft-HSM unit processes) per test; ``openssl ocsp`` with the gost
engine is the client and the verifier (it runs as a trio subprocess, so the server keeps serving).
"""

from __future__ import annotations

import base64
import urllib.parse
from pathlib import Path

import httpx
import pytest
import structlog
import trio

from actors.keys.ocsp import MAX_CERT_IDS, MAX_REQUEST_BYTES, OcspResponder
from actors.keys.settings import CaSettings, ocsp_urls
from config.settings import HsmSettings, ServerSettings, Settings
from signing.gost.params import ParamSet
from signing.keys import GostSigningKey
from signing.ocsp import CertStatus, OcspResponse
from signing.x509 import Certificate, self_signed_ca
from tests.keys.conftest import FAST_HSM, Accounts, KeysApi, StartKeysApi, hsm_stopped
from tests.oracle import gost_environment
from tests.signing.test_ocsp import HOUR, NOW

PUBLIC_URL = "https://klyuch.example/"
OCSP_URL = "https://klyuch.example/api/v1/ca/ocsp"
OCSP_REQUEST = {"Content-Type": "application/ocsp-request"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The keys fixtures' settings with a public URL, so issued certificates name the responder."""
    return settings.model_copy(
        update={"server": settings.server.model_copy(update={"public_url": PUBLIC_URL})}
    )


class Ocsp:
    """``openssl ocsp`` against the served responder, in one folder."""

    def __init__(self, api: KeysApi, folder: Path) -> None:
        self.url = f"{api.client.base_url}".rstrip("/") + "/api/v1/ca/ocsp"
        self.folder = folder
        self.env = gost_environment(folder)

    def write(self, name: str, data: bytes | str) -> str:
        """Write a file in the folder; its name."""
        (self.folder / name).write_bytes(data.encode() if isinstance(data, str) else data)
        return name

    async def ask(self, *args: str) -> str:
        """``openssl ocsp <args> -url <responder> -CAfile ca.pem -resp_text``: stdout + stderr."""
        done = await trio.run_process(
            ["openssl", "ocsp", *args, "-url", self.url, "-CAfile", "ca.pem", "-resp_text"],
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            cwd=self.folder,
            env=self.env,
        )
        return (done.stdout + done.stderr).decode(errors="replace")

    async def request_der(self, *args: str) -> bytes:
        """The DER request ``openssl ocsp <args>`` would send (written with ``-reqout``, not sent)."""
        done = await trio.run_process(
            ["openssl", "ocsp", *args, "-reqout", "req.der"],
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            cwd=self.folder,
            env=self.env,
        )
        assert done.returncode == 0, done.stderr
        return (self.folder / "req.der").read_bytes()


async def post(api: KeysApi, der: bytes) -> OcspResponse:
    """POST an OCSP request without credentials; the parsed response (HTTP 200 expected)."""
    response = await api.client.post("/api/v1/ca/ocsp", content=der, headers=OCSP_REQUEST)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/ocsp-response"
    return OcspResponse.load(response.content)


async def setup(
    keys_api: StartKeysApi, tmp_path: Path, hsm: HsmSettings | None = None
) -> tuple[KeysApi, Ocsp, Certificate, dict[str, str]]:
    """A served app, the openssl client with ca.pem, and alice's certificate (alice.pem)."""
    api = await keys_api(hsm=hsm)
    ocsp = Ocsp(api, tmp_path)
    ca = Certificate.load((await api.client.get("/api/v1/ca/certificate")).content)
    ocsp.write("ca.pem", ca.pem())
    issued = await api.issue("alice", (await api.new_key("alice"))["id"])
    ocsp.write("alice.pem", issued["pem"])
    return api, ocsp, ca, issued


async def test_openssl_sees_good_then_revoked_and_the_cache_never_hides_it(
    keys_api: StartKeysApi, people: Accounts, tmp_path: Path
) -> None:
    api, ocsp, ca, issued = await setup(keys_api, tmp_path)
    alice = Certificate.load(issued["pem"].encode())
    assert alice.ocsp_urls == (OCSP_URL,)  # authorityInfoAccess names the responder

    text = await ocsp.ask("-issuer", "ca.pem", "-cert", "alice.pem")
    assert "Response verify OK" in text, text
    assert "alice.pem: good" in text, text
    assert "WARNING: no nonce" not in text, text
    assert "Nonce Verify error" not in text, text

    # Without a nonce the same question is answered from the cache: one HSM signature, one audit event.
    plain = await ocsp.request_der("-issuer", "ca.pem", "-cert", "alice.pem", "-no_nonce")
    with structlog.testing.capture_logs() as events:
        first = await post(api, plain)
        again = await post(api, plain)
    assert first.der == again.der
    answered = [event for event in events if event["event"] == "audit_ocsp_answered"]
    assert len(answered) == 1, answered
    assert answered[0]["serials"] == [issued["serial"]]
    assert answered[0]["count"] == 1
    assert first.answers == ((alice.serial_number, CertStatus.good()),)
    first.verify_signature(ca.public_key())

    revoked = await api.call(
        "POST", f"/certificates/{issued['id']}/revoke", "alice", json={"reason": "key_compromise"}
    )
    assert revoked.status_code == 200, revoked.text
    text = await ocsp.ask("-issuer", "ca.pem", "-cert", "alice.pem")
    assert "Response verify OK" in text, text
    assert "alice.pem: revoked" in text, text
    assert "Reason: keyCompromise" in text, text
    # The cached "good" is not served once the certificate is revoked.
    after = await post(api, plain)
    [(serial, status)] = after.answers
    assert serial == alice.serial_number
    assert status.kind == "revoked"
    assert status.reason == "key_compromise"

    # GET (RFC 6960 Appendix A.1): base64, url-encoded; also left raw, slashes and all.
    encoded = base64.b64encode(plain).decode()
    for path in (urllib.parse.quote(encoded, safe=""), encoded):
        response = await api.client.get(f"/api/v1/ca/ocsp/{path}")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/ocsp-response"
        got = OcspResponse.load(response.content)
        assert got.answers == after.answers
    got.verify_signature(ca.public_key())
    document = (await api.client.get("/openapi.json")).json()
    assert not document["paths"]["/api/v1/ca/ocsp"]["post"].get("security")


async def test_unknown_other_issuer_garbage_and_limits(
    keys_api: StartKeysApi, people: Accounts, tmp_path: Path
) -> None:
    api, ocsp, _, issued = await setup(keys_api, tmp_path)
    serial = f"0x{issued['serial']}"

    text = await ocsp.ask("-issuer", "ca.pem", "-serial", "0x1234567")
    assert "Response verify OK" in text, text
    assert "0x1234567: unknown" in text, text

    # The same serial under another issuer's name and key is not ours to vouch for.
    other_key = GostSigningKey.generate(ParamSet.CRYPTOPRO_A)
    other = self_signed_ca(
        other_key, subject={"common_name": "Klyuch built-in CA"}, not_before=NOW, not_after=NOW + HOUR
    )
    ocsp.write("other.pem", other.pem())
    der = await ocsp.request_der(
        "-issuer", "other.pem", "-serial", serial, "-issuer", "ca.pem", "-serial", serial
    )
    answered = await post(api, der)
    assert [status.kind for _, status in answered.answers] == ["unknown", "good"]

    for garbage in (b"", b"not an OCSP request", der[:-2]):
        assert (await post(api, garbage)).status == "malformed_request"
    for path in ("!!!", "AAAA", "%ZZ"):
        response = await api.client.get(f"/api/v1/ca/ocsp/{path}")
        assert response.status_code == 200, (path, response.text)
        assert OcspResponse.load(response.content).status == "malformed_request"

    many = ["-issuer", "ca.pem"] + [arg for n in range(MAX_CERT_IDS + 1) for arg in ("-serial", str(n + 1))]
    text = await ocsp.ask(*many)
    assert "malformedrequest" in text, text
    assert (await post(api, await ocsp.request_der(*many))).status == "malformed_request"

    too_large = await api.client.post(
        "/api/v1/ca/ocsp", content=b"\x30" * (MAX_REQUEST_BYTES + 1), headers=OCSP_REQUEST
    )
    assert too_large.status_code == 413

    # Nothing here needs a login; a request with a nonce is answered with it.
    with_nonce = await ocsp.request_der("-issuer", "ca.pem", "-serial", serial)
    async with httpx.AsyncClient(base_url=str(api.client.base_url)) as anonymous:
        response = await anonymous.post("/api/v1/ca/ocsp", content=with_nonce, headers=OCSP_REQUEST)
    answer = OcspResponse.load(response.content)
    assert answer.nonce is not None
    assert answer.nonce in with_nonce


async def test_an_hsm_outage_answers_try_later_or_a_still_valid_signed_answer(
    keys_api: StartKeysApi, people: Accounts, tmp_path: Path
) -> None:
    quick = HsmSettings(
        **{**FAST_HSM, "call_timeout_s": 1.0, "health_interval_s": 0.2, "health_timeout_s": 0.5}
    )
    api, ocsp, _, _ = await setup(keys_api, tmp_path, hsm=quick)
    keys = api.services.keys
    # A responder of its own with a cache that expires at once: the outage path, not the cache, answers.
    responder = OcspResponder(keys.ca, keys.db, keys.hsm, cache_s=0.01)
    plain = await ocsp.request_der("-issuer", "ca.pem", "-cert", "alice.pem", "-no_nonce")
    with_nonce = await ocsp.request_der("-issuer", "ca.pem", "-cert", "alice.pem")
    # Identical concurrent questions wait for one signature.
    shared = OcspResponder(keys.ca, keys.db, keys.hsm)
    answers: list[bytes] = []

    async def ask() -> None:
        answers.append(await shared.respond(plain))

    with structlog.testing.capture_logs() as events:
        async with trio.open_nursery() as nursery:
            for _ in range(5):
                nursery.start_soon(ask)
    assert len(set(answers)) == 1
    assert [event["event"] for event in events].count("audit_ocsp_answered") == 1

    first = await responder.respond(plain)
    assert OcspResponse.load(first).status == "successful"
    await trio.sleep(0.05)
    async with hsm_stopped(keys.hsm):
        with structlog.testing.capture_logs() as events:
            again = await responder.respond(plain)
            nonced = await post(api, with_nonce)
        assert again == first  # same statuses, before its nextUpdate: still a true answer
        assert any(event["event"] == "ocsp_resign_deferred" for event in events)
        assert nonced.status == "try_later"  # a nonce cannot be echoed without a new signature
    assert (await post(api, with_nonce)).status == "successful"


async def test_nonce_signatures_are_rate_limited(
    keys_api: StartKeysApi, people: Accounts, tmp_path: Path
) -> None:
    """A nonce makes every answer a new HSM signature: past the worker's budget they are tryLater,
    while answers the cache can give (no nonce) are not limited."""
    api, ocsp, _, _ = await setup(keys_api, tmp_path)
    keys = api.services.keys
    responder = OcspResponder(keys.ca, keys.db, keys.hsm, nonce_signatures_per_s=1)
    with_nonce = await ocsp.request_der("-issuer", "ca.pem", "-cert", "alice.pem")
    plain = await ocsp.request_der("-issuer", "ca.pem", "-cert", "alice.pem", "-no_nonce")
    statuses = [OcspResponse.load(await responder.respond(with_nonce)).status for _ in range(4)]
    assert statuses[0] == "successful"  # the burst: one second's worth
    assert statuses[1:] == ["try_later"] * 3
    assert OcspResponse.load(await responder.respond(plain)).status == "successful"
    await trio.sleep(1.1)  # the bucket refills at 1 per second
    assert OcspResponse.load(await responder.respond(with_nonce)).status == "successful"


def test_ocsp_urls_follow_the_configured_public_url(settings: Settings) -> None:
    assert ocsp_urls(settings) == (OCSP_URL,)
    assert ocsp_urls(settings.model_copy(update={"server": ServerSettings()})) == ()
    explicit = settings.model_copy(update={"ca": CaSettings(ocsp_url="http://ocsp.example.test/")})
    assert ocsp_urls(explicit) == ("http://ocsp.example.test/",)  # ca.ocsp_url wins


def test_ocsp_settings_are_coherent() -> None:
    """An answer is reused only while still valid: the validity must exceed the reuse time."""
    with pytest.raises(ValueError, match="ocsp_validity_s must exceed ocsp_cache_s"):
        CaSettings(ocsp_cache_s=3600, ocsp_validity_s=600)
