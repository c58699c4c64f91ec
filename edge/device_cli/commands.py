"""The ``klyuch device`` subcommands: enroll, listen, confirm, decline.

Everything printed on stdout is one JSON object per line (``{"event": ...}``), so scripts and tests
read it with a JSON parser; diagnostics go to stderr. Nonces, MACs and the secret are never printed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from uuid import UUID

import trio

from actors.sessions.protocol import Decision
from edge.device_cli.client import ConnectionClosed, DeviceClient, DeviceProtocolError, ShownOperation
from edge.device_cli.state import DeviceState
from edge.devices.qr import EnrolmentPayload

RECONNECT_CODES = frozenset({1001, 1006, 1011, 1012, 1013})
"""Close codes after which ``listen`` reconnects (server going away or restarting, abnormal end)."""
EXIT_REJECTED = 3
"""Exit status of ``confirm``/``decline`` when the server did not accept the decision."""


def emit(event: str, **fields: Any) -> None:
    """Print one JSON line on stdout."""
    print(json.dumps({"event": event, **fields}, ensure_ascii=False), flush=True)


def fail(message: str) -> int:
    """Print an error on stderr; exit status 1."""
    print(f"klyuch device: {message}", file=sys.stderr)
    return 1


# -- enroll -----------------------------------------------------------------------------------------


def read_png_payload(path: Path) -> str:
    """Decode a QR PNG with ``zbarimg`` (Debian ``zbar-tools``); ``ValueError`` when impossible."""
    program = shutil.which("zbarimg")
    if program is None:
        raise ValueError("reading a PNG needs zbarimg (apt-get install zbar-tools); or pass --qr-payload")
    done = subprocess.run(  # a fixed program; the file name is one argument
        [program, "--raw", "-q", str(path)], capture_output=True, text=True, timeout=30, check=False
    )
    if done.returncode != 0 or not done.stdout.strip():
        raise ValueError(f"no QR code found in {path}")
    return done.stdout.strip().splitlines()[0]


async def enroll(payload_text: str, state_path: Path, *, activate: bool, timeout_s: float) -> int:
    """Store the enrolment and (unless told not to) authenticate once, which activates the device."""
    try:
        payload = EnrolmentPayload.parse(payload_text)
    except ValueError as exc:
        return fail(f"bad enrolment payload: {exc}")
    state = DeviceState.of(payload)
    state.save(state_path)
    emit("enrolled", device_id=str(state.device_id), server_url=state.server_url, state=str(state_path))
    if not activate:
        return 0
    try:
        async with DeviceClient.connect(state, timeout_s=timeout_s) as client:
            emit("activated", device_id=str(state.device_id), user_id=str(client.user_id))
    except (OSError, ConnectionClosed, DeviceProtocolError, trio.TooSlowError) as exc:
        return fail(f"saved, but the first connection failed: {_describe(exc)}")
    return 0


# -- listen -----------------------------------------------------------------------------------------


async def listen(state: DeviceState, *, auto: Decision | None, count: int | None, timeout_s: float) -> int:
    """Print operations (deciding them with ``auto``) until ``count`` are done; reconnect when told to."""
    handled = 0
    delay = 0.5
    while count is None or handled < count:
        try:
            async with DeviceClient.connect(state, timeout_s=timeout_s) as client:
                emit("authenticated", device_id=str(state.device_id), user_id=str(client.user_id))
                delay = 0.5
                handled = await _serve(client, auto=auto, handled=handled, count=count)
                return 0
        except ConnectionClosed as exc:
            code, reason = _close_of(exc)
            emit("disconnected", code=code, reason=reason)
            if code not in RECONNECT_CODES:
                return 1
        except (OSError, trio.TooSlowError) as exc:
            emit("disconnected", error=_describe(exc))
        except DeviceProtocolError as exc:
            return fail(_describe(exc))
        await trio.sleep(delay)
        delay = min(delay * 2, 10.0)
    return 0


async def _serve(client: DeviceClient, *, auto: Decision | None, handled: int, count: int | None) -> int:
    while count is None or handled < count:
        message = await client.receive()
        kind = message["type"]
        if kind == "operation":
            operation = ShownOperation.parse(message)
            emit("operation", **operation.summary())
            if auto is None:
                handled += 1
            else:
                await client.send(client.decision_message(operation, auto))
        elif kind == "outcome":
            emit("outcome", **_fields(message))
            handled += 1
        elif kind in ("withdrawn", "error"):
            emit(kind, **_fields(message))
    return handled


# -- confirm / decline ------------------------------------------------------------------------------


async def decide_one(state: DeviceState, op_id: UUID, decision: Decision, *, timeout_s: float) -> int:
    """Connect, wait for ``op_id`` to be shown, decide it, print the outcome."""
    try:
        async with DeviceClient.connect(state, timeout_s=timeout_s) as client:
            with trio.move_on_after(timeout_s):
                while True:
                    operation = await client.next_operation()
                    if operation.op_id == op_id:
                        break
                answer = await client.decide(operation, decision)
                emit(answer["type"], **_fields(answer))
                return 0 if answer.get("status") == "accepted" else EXIT_REJECTED
            return fail(f"operation {op_id} was not shown to this device within {timeout_s} s")
    except (OSError, ConnectionClosed, DeviceProtocolError, trio.TooSlowError) as exc:
        return fail(_describe(exc))


def _close_of(exc: ConnectionClosed) -> tuple[int | None, str | None]:
    return (None, None) if exc.reason is None else (exc.reason.code, exc.reason.reason)


def _fields(message: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in message.items() if key not in ("type", "nonce", "mac")}


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionClosed):
        code, reason = _close_of(exc)
        return f"the server closed the connection ({code} {reason or ''})".strip()
    if isinstance(exc, DeviceProtocolError) and exc.code:
        return f"{exc.code}: {exc}"
    if isinstance(exc, trio.TooSlowError):
        return "timed out"
    return str(exc) or type(exc).__name__
