"""``/api/v1/devices``: enrolment with QR codes, listing, ownership, revocation."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from edge.device_cli.client import DeviceClient
from tests.devices.conftest import AuditLog, Person, Worker, enrol
from tests.devices.qrcheck import ZBARIMG, decode_png, expected_modules, svg_modules


async def test_enrol_returns_a_pending_device_and_its_qr_codes(
    worker: Worker, alice: Person, tmp_path: Path, audit_log: AuditLog
) -> None:
    state, body = await enrol(worker, alice, "Alice's phone")
    device = body["device"]
    assert device["status"] == "pending"
    assert device["name"] == "Alice's phone"
    assert device["user_id"] == str(alice.id)
    assert device["id"] == str(state.device_id)
    payload = body["enrolment"]["payload"]
    assert payload.startswith("klyuch://enroll?")
    assert state.server_url == worker.url, "without server.public_url the URL the request reached is used"
    png = base64.b64decode(body["enrolment"]["qr_png_base64"])
    svg = base64.b64decode(body["enrolment"]["qr_svg_base64"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert svg_modules(svg) == expected_modules(payload)
    if ZBARIMG is not None:
        assert decode_png(png, tmp_path) == payload
    assert audit_log.named("audit_device_enrolled")[0]["device_id"] == device["id"]


async def test_secret_is_stored_sealed(worker: Worker, alice: Person) -> None:
    state, _ = await enrol(worker, alice)
    sealed = await worker.services.db.run_readonly(
        lambda conn: conn.fetchval("SELECT secret_sealed FROM devices WHERE id = $1", state.device_id)
    )
    assert state.secret not in sealed
    assert len(sealed) == 57


async def test_qr_again_while_pending_gone_after_activation(worker: Worker, alice: Person) -> None:
    state, body = await enrol(worker, alice)
    base = f"/api/v1/devices/{state.device_id}"
    png = await worker.http.get(f"{base}/qr.png", headers=alice.headers)
    assert png.status_code == 200
    assert png.headers["content-type"] == "image/png"
    assert png.headers["cache-control"] == "no-store"
    svg = await worker.http.get(f"{base}/qr.svg", headers=alice.headers)
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert svg_modules(svg.content) == expected_modules(body["enrolment"]["payload"])

    async with DeviceClient.connect(state):
        pass
    listed = (await worker.http.get(base, headers=alice.headers)).json()
    assert listed["status"] == "active"
    assert listed["activated_at"] is not None
    gone = await worker.http.get(f"{base}/qr.png", headers=alice.headers)
    assert gone.status_code == 410, gone.text
    assert gone.json()["code"] == "enrolment_closed"


async def test_list_get_and_revoke_own_devices(worker: Worker, alice: Person, audit_log: AuditLog) -> None:
    first, _ = await enrol(worker, alice, "one")
    await enrol(worker, alice, "two")
    listed = (await worker.http.get("/api/v1/devices", headers=alice.headers)).json()["items"]
    assert [d["name"] for d in listed] == ["one", "two"]

    revoked = await worker.http.delete(f"/api/v1/devices/{first.device_id}", headers=alice.headers)
    assert revoked.status_code == 204
    again = await worker.http.delete(f"/api/v1/devices/{first.device_id}", headers=alice.headers)
    assert again.status_code == 204, "revoking is idempotent"
    one = (await worker.http.get(f"/api/v1/devices/{first.device_id}", headers=alice.headers)).json()
    assert one["status"] == "revoked"
    assert one["revoked_at"] is not None
    assert [e["device_id"] for e in audit_log.named("audit_device_revoked")] == [str(first.device_id)] * 2
    qr = await worker.http.get(f"/api/v1/devices/{first.device_id}/qr.svg", headers=alice.headers)
    assert qr.status_code == 410


async def test_someone_elses_device_is_not_found(worker: Worker, alice: Person, bob: Person) -> None:
    state, _ = await enrol(worker, alice)
    base = f"/api/v1/devices/{state.device_id}"
    for method, path in (("GET", base), ("GET", f"{base}/qr.png"), ("DELETE", base)):
        response = await worker.http.request(method, path, headers=bob.headers)
        assert response.status_code == 404, (method, path, response.text)
    assert (await worker.http.get("/api/v1/devices", headers=bob.headers)).json()["items"] == []
    still = (await worker.http.get(base, headers=alice.headers)).json()
    assert still["status"] == "pending"


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "x" * 101}, {"name": "a", "extra": 1}])
async def test_bad_enrolment_requests(worker: Worker, alice: Person, body: dict[str, object]) -> None:
    response = await worker.http.post("/api/v1/devices", json=body, headers=alice.headers)
    assert response.status_code == 422, response.text


async def test_anonymous_callers_are_refused(worker: Worker) -> None:
    response = await worker.http.post("/api/v1/devices", json={"name": "x"})
    assert response.status_code == 401
    assert (await worker.http.get("/api/v1/devices")).status_code == 401


async def test_endpoints_are_in_the_openapi_document(worker: Worker) -> None:
    document = (await worker.http.get("/openapi.json")).json()
    paths = document["paths"]
    assert set(paths["/api/v1/devices"]) >= {"get", "post"}
    assert set(paths["/api/v1/devices/{device_id}"]) >= {"get", "delete"}
    assert any(path.startswith("/api/v1/devices/{device_id}/qr") for path in paths)
