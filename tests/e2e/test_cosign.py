"""A co-signature end to end: a real ``klyuch serve`` process tree, ``klyuch admin``, the REST API over
real HTTP, the reference device client as a subprocess, and ``openssl`` as the oracle.

Alice's information system (an OAuth2 client bound to her, so no confirmation is needed) signs a
contract as attached CAdES-BES; Bob adds his signature to her CMS and confirms it on his device.
"""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path

import httpx

from signing.cms import load_signed_data
from tests.e2e.support import confirming_device, klyuch, server, wait_finished  # noqa: F401 - fixture
from tests.edge.test_serve import Server, home  # noqa: F401 - the fixture is used by name

PASSWORD = "S3cret-passw0rd!"
DOCUMENT = "Договор № 7: Алиса и Боб\n".encode()


def _user(api_url: str, name: str, env: dict[str, str]) -> httpx.Client:
    """An account with a key and a certificate; an API client logged in as it."""
    klyuch(
        "admin", "create", "--username", name, "--role", "user", "--password-stdin", env=env, stdin=PASSWORD
    )
    api = httpx.Client(base_url=api_url, timeout=30)
    login = {"grant_type": "password", "username": name, "password": PASSWORD}
    api.headers["Authorization"] = f"Bearer {api.post('/auth/token', data=login).json()['access_token']}"
    key = api.post("/keys", json={"algorithm": "gost3410_2012_256"}).json()
    assert api.post(f"/keys/{key['id']}/certificate", json={}).status_code == 201
    return api


def _information_system(api_url: str, name: str, env: dict[str, str]) -> httpx.Client:
    """An API client holding a client_credentials token of a client bound to ``name``."""
    printed = klyuch("admin", "client", "create", "--name", f"erp-{name}", "--user", name, env=env).stdout
    secrets = dict(line.split(": ", 1) for line in printed.splitlines() if ": " in line)
    api = httpx.Client(base_url=api_url, timeout=30)
    grant = {
        "grant_type": "client_credentials",
        "client_id": secrets["client_id"],
        "client_secret": secrets["client_secret"],
    }
    api.headers["Authorization"] = f"Bearer {api.post('/auth/token', data=grant).json()['access_token']}"
    return api


def test_bob_cosigns_alices_cms_on_his_device(server: Server, home: Path, tmp_path: Path) -> None:  # noqa: F811
    env = {**os.environ, "KLYUCH_HOME": str(home), "KLYUCH_LOGGING__LEVEL": "warning"}
    api_url = f"{server.url}/api/v1"
    _user(api_url, "alice", env)
    alice_erp = _information_system(api_url, "alice", env)
    signed = alice_erp.post(
        "/operations",
        json={"format": "cades-bes", "items": [{"name": "contract.txt", "content": _b64(DOCUMENT)}]},
    )
    assert signed.status_code == 201, signed.text
    alices_cms = signed.json()["items"][0]["signature"]

    bob = _user(api_url, "bob", env)
    with confirming_device(bob, env, tmp_path / "device.json"):
        created = bob.post(
            "/operations",
            json={"format": "cades-bes", "items": [{"name": "contract.txt", "signature": alices_cms}]},
        )
        assert created.status_code == 202, created.text
        assert created.json()["items"][0]["input"] == "signature"
        operation = wait_finished(bob, created.json()["id"])
    assert operation["state"] == "completed", operation
    cosigned = base64.b64decode(operation["items"][0]["signature"])
    assert len(load_signed_data(cosigned).signer_infos) == 2

    (tmp_path / "contract.p7s").write_bytes(cosigned)
    (tmp_path / "ca.pem").write_bytes(httpx.get(f"{api_url}/ca/certificate").content)
    verified = subprocess.run(
        ["openssl", "cms", "-verify", "-engine", "gost", "-binary", "-inform", "DER", "-in", "contract.p7s",
         "-CAfile", "ca.pem", "-out", "contract.txt"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stderr
    assert (tmp_path / "contract.txt").read_bytes() == DOCUMENT
    report = bob.post("/verify", json={"format": "cades-bes", "signature": _b64(cosigned)}).json()
    assert report["indication"] == "TOTAL_PASSED", report
    subjects = [signer["signing_certificate"]["subject"] for signer in report["signers"]]
    assert subjects == ["Common Name: alice", "Common Name: bob"], subjects


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
