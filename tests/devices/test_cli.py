"""``klyuch device`` as a real process against a real server: enroll, listen --auto, confirm, decline."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.devices.conftest import Person, Worker, enrol, wait_until
from tests.devices.qrcheck import ZBARIMG

ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


async def device(*args: str, state: Path, check: bool = False) -> subprocess.CompletedProcess[bytes]:
    """Run ``klyuch device --state STATE ARGS...`` to completion."""
    command = [sys.executable, "-m", "edge.device_cli", "--state", str(state), *args]
    with trio.fail_after(30):
        return await trio.run_process(
            command, capture_stdout=True, capture_stderr=True, check=check, env=_env(), cwd=ROOT
        )


def events(output: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.decode().splitlines() if line.strip()]


async def enrolled(worker: Worker, person: Person, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """A state file as ``enroll`` writes it (saved in process: ``enroll`` has its own test)."""
    device_state, body = await enrol(worker, person)
    state = tmp_path / "device.json"
    device_state.save(state)
    return state, body


async def test_enroll_stores_the_state_privately_and_activates(
    worker: Worker, alice: Person, tmp_path: Path
) -> None:
    _, body = await enrol(worker, alice)
    state = tmp_path / "sub" / "device.json"
    done = await device("enroll", "--qr-payload", body["enrolment"]["payload"], state=state)
    assert done.returncode == 0, done.stderr.decode()
    assert [e["event"] for e in events(done.stdout)] == ["enrolled", "activated"]
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    saved = json.loads(state.read_text())
    assert saved["device_id"] == body["device"]["id"]
    secret = saved["secret"]
    assert secret not in done.stdout.decode()
    assert secret not in done.stderr.decode()
    device_id = body["device"]["id"]
    listed = (await worker.http.get(f"/api/v1/devices/{device_id}", headers=alice.headers)).json()
    assert listed["status"] == "active"


async def test_enroll_from_the_png(worker: Worker, alice: Person, tmp_path: Path) -> None:
    if ZBARIMG is None:
        pytest.skip("zbarimg (zbar-tools) is not installed")
    _, body = await enrol(worker, alice)
    png = tmp_path / "qr.png"
    png.write_bytes(base64.b64decode(body["enrolment"]["qr_png_base64"]))
    done = await device("enroll", "--qr-png", str(png), "--no-activate", state=tmp_path / "d.json")
    assert done.returncode == 0, done.stderr.decode()
    assert events(done.stdout)[0]["device_id"] == body["device"]["id"]


async def test_bad_payload_and_missing_state(tmp_path: Path) -> None:
    done = await device("enroll", "--qr-payload", "klyuch://enroll?u=x", state=tmp_path / "d.json")
    assert done.returncode == 1
    assert b"bad enrolment payload" in done.stderr
    done = await device("listen", state=tmp_path / "missing.json")
    assert done.returncode == 1
    assert b"klyuch device enroll" in done.stderr


async def test_listen_auto_confirm_confirms_a_pushed_operation(
    worker: Worker, alice: Person, tmp_path: Path
) -> None:
    state, _ = await enrolled(worker, alice, tmp_path)
    command = [sys.executable, "-m", "edge.device_cli", "--state", str(state), "listen", "--auto", "confirm"]
    process = await trio.lowlevel.open_process(
        [*command, "--count", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(), cwd=ROOT
    )
    assert process.stdout is not None
    lines: list[dict[str, Any]] = []
    try:
        with trio.fail_after(30):
            buffer = b""
            while not lines or lines[-1]["event"] != "authenticated":
                buffer += await process.stdout.receive_some()
                *complete, buffer = buffer.split(b"\n")
                lines += [json.loads(line) for line in complete if line]
            await wait_until(lambda: worker.hub is not None)
            notice = worker.book.create(alice.id, items=2)
            await worker.hub.push(notice)
            async for chunk in process.stdout:
                buffer += chunk
            lines += events(buffer)
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert worker.book.ops[notice.op_id].state == "confirmed"
    kinds = [line["event"] for line in lines]
    assert kinds == ["authenticated", "operation", "outcome"]
    assert lines[1]["op_id"] == str(notice.op_id)
    assert [item["name"] for item in lines[1]["items"]] == ["doc-0.txt", "doc-1.txt"]
    assert lines[2]["status"] == "accepted"


@pytest.mark.parametrize(("action", "final"), [("confirm", "confirmed"), ("decline", "declined")])
async def test_one_shot_confirm_and_decline(
    worker: Worker, alice: Person, tmp_path: Path, action: str, final: str
) -> None:
    state, _ = await enrolled(worker, alice, tmp_path)
    notice = worker.book.create(alice.id)  # awaiting: shown to the device when it connects
    done = await device(action, str(notice.op_id), state=state)
    assert done.returncode == 0, done.stderr.decode()
    [outcome] = events(done.stdout)
    assert outcome == {"event": "outcome", "op_id": str(notice.op_id), "status": "accepted"}
    assert worker.book.ops[notice.op_id].state == final


async def test_one_shot_on_a_decided_operation_is_rejected(
    worker: Worker, alice: Person, tmp_path: Path
) -> None:
    state, _ = await enrolled(worker, alice, tmp_path)
    notice = worker.book.create(alice.id)
    worker.book.ops[notice.op_id].raced = True  # another device decides first
    done = await device("confirm", str(notice.op_id), state=state)
    assert done.returncode == 3
    assert events(done.stdout)[0]["reason"] == "already_decided"
