"""README's walkthrough, as a new user types it: a real ``klyuch serve`` process tree, ``klyuch admin``,
the REST API over real HTTP, the reference device client as a subprocess, and ``openssl`` as the oracle.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from pathlib import Path

import httpx

from tests.e2e.support import confirming_device, klyuch, server, wait_finished  # noqa: F401 - fixture
from tests.edge.test_serve import Server, home  # noqa: F401 - the fixture is used by name

PASSWORD = "S3cret-passw0rd!"
DOCUMENT = b"Hello, Klyuch: a document to sign\n"


def test_sign_with_device_confirmation_as_the_readme_says(server: Server, home: Path, tmp_path: Path) -> None:  # noqa: F811
    env = {**os.environ, "KLYUCH_HOME": str(home), "KLYUCH_LOGGING__LEVEL": "warning"}
    klyuch(
        "admin",
        "create",
        "--username",
        "alice",
        "--role",
        "user",
        "--password-stdin",
        env=env,
        stdin=PASSWORD,
    )
    api = httpx.Client(base_url=f"{server.url}/api/v1", timeout=30)

    token = api.post(
        "/auth/token", data={"grant_type": "password", "username": "alice", "password": PASSWORD}
    ).json()["access_token"]
    api.headers["Authorization"] = f"Bearer {token}"
    key = api.post("/keys", json={"algorithm": "gost3410_2012_256"}).json()
    assert api.post(f"/keys/{key['id']}/certificate", json={}).status_code == 201

    with confirming_device(api, env, tmp_path / "device.json") as device:
        time.sleep(1.0)  # let the device connect; an operation made earlier is pushed on connect anyway
        created = api.post(
            "/operations",
            json={
                "type": "sign",
                "format": "cades-bes",
                "detached": True,
                "items": [{"name": "doc.txt", "content": base64.b64encode(DOCUMENT).decode()}],
            },
        )
        assert created.status_code == 202, created.text
        operation = wait_finished(api, created.json()["id"])
    assert operation["state"] == "completed", operation
    assert any(json.loads(line).get("event") == "operation" for line in device.output.splitlines() if line)

    signature = base64.b64decode(operation["items"][0]["signature"])
    (tmp_path / "doc.txt").write_bytes(DOCUMENT)
    (tmp_path / "doc.p7s").write_bytes(signature)
    (tmp_path / "ca.pem").write_bytes(httpx.get(f"{server.url}/api/v1/ca/certificate").content)
    verified = subprocess.run(
        ["openssl", "cms", "-verify", "-engine", "gost", "-binary", "-inform", "DER", "-in", "doc.p7s",
         "-content", "doc.txt", "-CAfile", "ca.pem", "-out", os.devnull],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stderr
    report = api.post(
        "/verify",
        json={
            "format": "cades-bes",
            "signature": base64.b64encode(signature).decode(),
            "content": base64.b64encode(DOCUMENT).decode(),
        },
    ).json()
    assert report["indication"] == "TOTAL_PASSED", report
