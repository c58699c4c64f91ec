"""Device confirmation round trip: N connected device clients, operations pushed at a fixed rate.

Run from the repository root::

    .venv/bin/python -m bench.device_probe                          # 100 devices, 1000 ops at 100/s
    .venv/bin/python -m bench.device_probe --clients 1000 --ops 2000 --rate 200
    .venv/bin/python -m bench.device_probe --workers 2              # pushes cross workers via NOTIFY

Two processes: a server (embedded PostgreSQL in a temporary folder, the real app with the device
websocket on hypercorn, ``SessionHub`` and a recording sink; with ``--workers 2`` two such worker
processes on one database) and this one, which runs the device clients (``DeviceClient``,
trio-websocket). The server pushes ``--ops`` operations round-robin over the users, open loop at
``--rate`` per second, from worker 1; with two workers half of the devices are connected to worker 2, so
their pushes and decisions cross through LISTEN/NOTIFY. Each client confirms what it is shown.

Measured on the client side with the wall clock of one machine (the push time travels in the preview):

* push → shown: ``hub.push`` called → ``operation`` message received by the device;
* decision → outcome: decision sent → ``outcome`` received (HMAC check, routing, sink, answer);
* push → outcome: the whole confirmation round trip.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import numpy as np
import structlog
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve

from actors.identity.server_secret import load_server_secret
from actors.runtime import ActorSystem
from actors.sessions import (
    ACCEPTED,
    Decision,
    DecisionOutcome,
    DeviceDecision,
    NoticeItem,
    OperationNotice,
    OutcomeStatus,
    SessionHub,
    SessionOptions,
    start_sessions,
)
from bench.stats import nearest_rank
from config.settings import Settings, StorageSettings
from edge import devices
from edge.app import create_app
from edge.device_cli.client import DeviceClient, ShownOperation
from edge.device_cli.state import DeviceState
from storage import Connection, Database, open_database
from storage.repos import identity

SERVICES_KEY = "KLYUCH_SERVICES"


# -- server side -------------------------------------------------------------------------------------


@dataclass
class _Services:
    settings: Settings
    db: Database
    sessions: SessionHub


@dataclass
class RecordingSink:
    """Accepts every first decision of an operation; counts them."""

    decided: set[UUID] = field(default_factory=set)
    done: trio.Event = field(default_factory=trio.Event)
    expected: int = 0

    async def on_decision(self, decision: DeviceDecision) -> DecisionOutcome:
        """Accept the first decision of each operation."""
        if decision.op_id in self.decided:
            return DecisionOutcome(OutcomeStatus.ALREADY_DECIDED)
        self.decided.add(decision.op_id)
        if len(self.decided) >= self.expected:
            self.done.set()
        return ACCEPTED

    async def awaiting(self, user_id: UUID) -> list[OperationNotice]:
        """Nothing waits: every operation is pushed live."""
        return []


async def _authenticated_devices(conn: Connection) -> int:
    count: int = await conn.fetchval("SELECT count(*) FROM devices WHERE counter > 0")
    return count


def _emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


async def serve(args: argparse.Namespace) -> None:
    """One worker: the app on loopback, and (worker 1) the users, devices and the pushing driver."""
    settings = Settings(home=Path(args.home), storage=StorageSettings(embedded_fsync=False, pool_max_size=10))
    sink = RecordingSink(expected=args.ops)
    first = args.worker == 1
    async with open_database(settings, migrate=first) as db, trio.open_nursery() as nursery:
        hub = await start_sessions(
            nursery,
            system=ActorSystem(f"bench-{args.worker}"),
            db=db,
            sink=sink,
            pending=sink,
            server_secret=load_server_secret(settings),
            options=SessionOptions(outbox_size=4096, session_mailbox_size=10_000),
        )
        app = create_app(settings, with_services=False)
        devices.register(app)
        app.config[SERVICES_KEY] = _Services(settings, db, hub)
        config = HypercornConfig()
        config.bind = ["127.0.0.1:0"]
        config.accesslog = None
        config.backlog = 4096
        stop = trio.Event()
        binds: list[str] = await nursery.start(
            lambda task_status: hypercorn_serve(
                app, config, shutdown_trigger=stop.wait, task_status=task_status
            )
        )
        url = binds[0]
        users: list[UUID] = []
        if first:
            state_dir = Path(args.state_dir)
            for i in range(args.clients):
                row = await db.run(identity.insert_user, identity.NewUser(f"bench{i}", "user"))
                users.append(row.id)
                enrolment = await hub.devices.enrol(row.id, f"bench-{i}")
                DeviceState(url, enrolment.device.id, enrolment.secret).save(state_dir / f"{i}.json")
        _emit(ready=url, worker=args.worker)
        if first:
            await _drive(hub, db, sink, users, args)
            _emit(done=True, decided=len(sink.decided))
        await trio.to_thread.run_sync(sys.stdin.read)  # serve until the parent closes our stdin
        stop.set()
        await hub.aclose()
        nursery.cancel_scope.cancel()


async def _drive(
    hub: SessionHub, db: Database, sink: RecordingSink, users: list[UUID], args: argparse.Namespace
) -> None:
    """Wait for every device (in any worker), then push ``--ops`` operations open loop at ``--rate``."""
    with trio.fail_after(120):
        while await db.run_readonly(_authenticated_devices) < len(users):  # noqa: ASYNC110 - other processes
            await trio.sleep(0.05)
    await trio.sleep(0.5)  # authenticated → attached to its session: a few ms
    _emit(connected=len(users))
    interval = 1.0 / args.rate
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        for k in range(args.ops):
            await trio.sleep_until(start + k * interval)
            now = datetime.now(UTC)
            op = OperationNotice(
                op_id=uuid4(),
                user_id=users[k % len(users)],
                items=(NoticeItem("doc.txt", os.urandom(32).hex(), "streebog256", f"{time.time():.6f}"),),
                created_at=now,
                expires_at=now + timedelta(minutes=5),
            )
            nursery.start_soon(hub.push, op)
        with trio.move_on_after(60):
            await sink.done.wait()


# -- client side -------------------------------------------------------------------------------------


@dataclass
class Samples:
    """Latencies in seconds."""

    shown: list[float] = field(default_factory=list)
    answered: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)
    done: trio.Event = field(default_factory=trio.Event)


async def run_device(path: Path, samples: Samples, expected: int, ready: trio.Semaphore) -> None:
    """One device: confirm everything it is shown, measuring each step."""
    state = DeviceState.load(path)
    async with DeviceClient.connect(state, timeout_s=60) as client:
        ready.release()
        pushed: dict[str, float] = {}
        sent: dict[str, float] = {}
        while True:
            message = await client.receive()
            now = time.time()
            if message["type"] == "operation":
                operation = ShownOperation.parse(message)
                pushed[message["op_id"]] = float(operation.items[0].preview_text)
                samples.shown.append(now - pushed[message["op_id"]])
                sent[message["op_id"]] = time.time()
                await client.send(client.decision_message(operation, Decision.CONFIRM))
            elif message["type"] == "outcome":
                op = message["op_id"]
                samples.answered.append(now - sent.pop(op))
                samples.total.append(now - pushed.pop(op))
                if len(samples.total) >= expected:
                    samples.done.set()


def _line(name: str, values: list[float]) -> str:
    if not values:
        return f"{name:<22} (no samples)"
    ordered = np.sort(np.array(values) * 1000.0)
    p50, p99 = nearest_rank(ordered, 50.0), nearest_rank(ordered, 99.0)
    return f"{name:<22} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   max {ordered[-1]:7.1f} ms   n={len(values)}"


async def probe(args: argparse.Namespace, folder: Path) -> None:
    """Start the server process(es), connect the devices, collect the latencies and print them."""
    state_dir = folder / "devices"
    state_dir.mkdir()
    base = [
        sys.executable,
        "-m",
        "bench.device_probe",
        "--serve",
        "--home",
        str(folder),
        "--state-dir",
        str(state_dir),
    ]
    shape = ["--clients", str(args.clients), "--ops", str(args.ops), "--rate", str(args.rate)]
    samples = Samples()
    async with trio.open_nursery() as nursery:
        servers = []
        first = await trio.lowlevel.open_process(
            [*base, *shape, "--worker", "1"], stdout=subprocess.PIPE, stdin=subprocess.PIPE
        )
        servers.append(first)
        lines = _Lines(first)
        urls = [(await lines.next())["ready"]]
        if args.workers == 2:
            second = await trio.lowlevel.open_process(
                [*base, *shape, "--worker", "2"], stdout=subprocess.PIPE, stdin=subprocess.PIPE
            )
            servers.append(second)
            urls.append((await _Lines(second).next())["ready"])
        paths = sorted(state_dir.glob("*.json"), key=lambda p: int(p.stem))
        ready = trio.Semaphore(0)
        started = time.perf_counter()
        for index, path in enumerate(paths):
            if index % 2 == 1 and len(urls) == 2:  # every other device on worker 2
                _point_at(path, urls[1])
            nursery.start_soon(run_device, path, samples, args.ops, ready)
        for _ in paths:
            await ready.acquire()
        connect_s = time.perf_counter() - started
        assert (await lines.next()).get("connected") == len(paths)
        with trio.move_on_after(90):
            await samples.done.wait()
        final = await lines.next()
        nursery.cancel_scope.cancel()  # the devices first: the servers then stop without a crowd
    for server in servers:
        assert server.stdin is not None
        await server.stdin.aclose()
    for server in servers:
        with trio.move_on_after(30):
            await server.wait()
        if server.returncode is None:
            server.kill()
    print(f"devices {args.clients}, workers {args.workers}, ops {args.ops} at {args.rate}/s")
    print(f"connected and authenticated in {connect_s:.2f} s; sink accepted {final.get('decided')}")
    print(_line("push -> shown", samples.shown))
    print(_line("decision -> outcome", samples.answered))
    print(_line("push -> outcome", samples.total))


def _point_at(path: Path, url: str) -> None:
    data = json.loads(path.read_text())
    data["server_url"] = url
    path.write_text(json.dumps(data))


class _Lines:
    """JSON lines from a child's stdout."""

    def __init__(self, process: trio.Process) -> None:
        assert process.stdout is not None
        self._stream = process.stdout
        self._buffer = b""

    async def next(self) -> dict[str, Any]:
        while b"\n" not in self._buffer:
            chunk = await self._stream.receive_some()
            if not chunk:
                raise RuntimeError("the server process ended early")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        result: dict[str, Any] = json.loads(line)
        return result


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=100, help="connected devices (one user each)")
    parser.add_argument("--ops", type=int, default=1000, help="operations to push")
    parser.add_argument("--rate", type=float, default=100.0, help="operations pushed per second")
    parser.add_argument("--workers", type=int, choices=(1, 2), default=1, help="server worker processes")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--worker", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--home", help=argparse.SUPPRESS)
    parser.add_argument("--state-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    logging.basicConfig(level=logging.WARNING)
    if args.serve:
        trio.run(serve, args)
        return
    folder = Path(tempfile.mkdtemp(prefix="klyuch-device-probe-"))
    folder.chmod(0o711)  # the embedded server's account (when root) must traverse it
    try:
        trio.run(probe, args, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
