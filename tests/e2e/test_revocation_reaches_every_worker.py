"""A revoked certificate stops signing at once in every worker, although each caches signing material.

A real ``klyuch serve`` with two worker processes: both sign with the certificate (so both have it
cached), it is revoked through the API, and every later request on fresh connections (the kernel
spreads them over both workers) is refused — the trigger's NOTIFY cleared the other worker's cache,
and the revoking worker cleared its own before answering.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.support import klyuch
from tests.e2e.test_walkthrough import PASSWORD
from tests.edge.test_serve import Server, home  # noqa: F401 - the fixture is used by name

CONNECTIONS = 16
DOCUMENT = base64.b64encode(b"a document signed before and refused after the revocation\n").decode()


@pytest.fixture
def two_workers(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:  # noqa: F811
    monkeypatch.setenv("KLYUCH_SERVER__WORKERS", "2")
    monkeypatch.setenv("KLYUCH_HSM__SOFT_UNITS", "1")
    started = Server(home)
    try:
        started.wait_ready(workers=2)
        yield started
    finally:
        if started.process.poll() is None:
            started.stop()


def _sign(url: str, token: str, certificate_id: str) -> httpx.Response:
    with httpx.Client(base_url=f"{url}/api/v1", timeout=30) as fresh:  # a new connection each time
        return fresh.post(
            "/operations",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "type": "sign",
                "format": "raw",
                "certificate_id": certificate_id,
                "confirmation": "none",
                "items": [{"name": "doc.txt", "content": DOCUMENT}],
            },
        )


def test_a_revocation_reaches_every_worker_s_cache(two_workers: Server, home: Path) -> None:  # noqa: F811
    env = {**os.environ, "KLYUCH_HOME": str(home), "KLYUCH_LOGGING__LEVEL": "warning"}
    create = ("admin", "create", "--username", "root", "--role", "admin", "--password-stdin")
    klyuch(*create, env=env, stdin=PASSWORD)
    url = two_workers.url
    with httpx.Client(base_url=f"{url}/api/v1", timeout=30) as api:
        login = {"grant_type": "password", "username": "root", "password": PASSWORD}
        admin = {"Authorization": f"Bearer {api.post('/auth/token', data=login).json()['access_token']}"}
        user = api.post("/users", json={"username": "alice"}, headers=admin).json()
        # An information system acting for alice: it may sign without confirmation.
        client = api.post("/clients", json={"name": "erp", "user_id": user["id"]}, headers=admin).json()
        grant = {
            "grant_type": "client_credentials",
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
        }
        token = api.post("/auth/token", data=grant).json()["access_token"]
        api.headers["Authorization"] = f"Bearer {token}"
        key = api.post("/keys", json={"algorithm": "gost3410_2012_256"}).json()
        certificate = api.post(f"/keys/{key['id']}/certificate", json={}).json()

        before = [_sign(url, token, certificate["id"]) for _ in range(CONNECTIONS)]
        assert [response.status_code for response in before] == [201] * CONNECTIONS, before[0].text

        revoked = api.post(f"/certificates/{certificate['id']}/revoke", json={"reason": "key_compromise"})
        assert revoked.status_code == 200, revoked.text

    after = [_sign(url, token, certificate["id"]) for _ in range(CONNECTIONS)]
    assert {response.status_code for response in after} == {409}, after[0].text
    assert {response.json()["code"] for response in after} == {"certificate_revoked"}
