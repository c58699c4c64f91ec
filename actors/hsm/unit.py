"""``klyuch hsm-unit``: the HSM unit process (``python -m actors.hsm.unit``).

::

    python -m actors.hsm.unit --socket PATH --backend soft --kek-file FILE [--create-kek] ...
    python -m actors.hsm.unit --socket PATH --backend pkcs11 --pkcs11-module SO --token-label L ...

Secrets (handshake key, KEK passphrase, PIN) arrive as one JSON line on ``--secret-fd`` (stdin by
default), never in argv or the environment (:mod:`actors.hsm.handover`).

Life cycle: read secrets → open the backend (unseal the KEK / load the module and log in) → start
the slot workers and wait for them → bind the socket (mode 0600) → print one line on stdout::

    READY {"unit_id": ..., "socket": ..., "pid": ..., "backend": ..., "kek_id" | "token_label": ...}
    FAILED {"code": ..., "message": ...}        (then exit 78 for configuration errors, else 70)

The process refuses core dumps (they would hold the KEK and PINs) and creates files owner-only.
SIGTERM / SIGINT drain in-flight requests (up to ``--drain-timeout``) and exit 0. The unit dies
with its parent (``PR_SET_PDEATHSIG``; the launcher must spawn it from a long-lived thread, since
the signal follows the *thread* that forked). Exit statuses: 0 stopped, 70 internal failure,
75 the backend failed beyond repair (restart me), 78 misconfigured (do not restart-loop).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import gc
import json
import logging
import os
import resource
import signal
import socket
import sys
import threading
import time
from collections.abc import MutableMapping, Sequence
from pathlib import Path
from typing import Any, Final

import pykka
import structlog

from actors.hsm import kek as kek_file
from actors.hsm import wire
from actors.hsm.backends import keycache
from actors.hsm.backends.base import Backend
from actors.hsm.errors import HsmError, KekError, UnitConfigError, UnitStartError
from actors.hsm.handover import UnitSecrets, read_secrets
from actors.hsm.metrics import UnitMetrics
from actors.hsm.pool import SlotPool
from actors.hsm.protocol import HealthReport, MetricsReport
from actors.hsm.server import DEFAULT_MAX_IN_FLIGHT, ServerConfig, UnitServer
from actors.hsm.slots import DEFAULT_INTENSITY, DEFAULT_PERIOD_S, SlotStartup, SlotSupervisor
from config.processes import die_with_parent

EXIT_OK: Final = 0
EXIT_SOFTWARE: Final = 70
EXIT_TEMPFAIL: Final = 75
EXIT_CONFIG: Final = 78
_MAX_SOCKET_PATH: Final = 107

log = structlog.get_logger("klyuch.hsm.unit")


def _bounded(low: float, high: float, kind: type[int] | type[float] = int) -> Any:
    """An argparse ``type`` accepting ``kind`` values in ``[low, high]``."""

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is outside {low}..{high}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    """The command line of the unit."""
    parser = argparse.ArgumentParser(prog="klyuch hsm-unit", description="Run one HSM unit process.")
    parser.add_argument("--socket", required=True, type=Path, help="unix socket path to listen on")
    parser.add_argument("--backend", required=True, choices=("soft", "pkcs11"))
    parser.add_argument("--unit-id", default="hsm", help="name announced to clients and in logs")
    parser.add_argument(
        "--slots", type=_bounded(1, 64), default=None, help="slot workers (default: 2 soft, 1 pkcs11)"
    )
    parser.add_argument(
        "--secret-fd", type=int, default=0, help="fd carrying the secrets line (default stdin)"
    )
    parser.add_argument("--parent-pid", type=int, default=None, help="exit at once unless this is our parent")
    soft = parser.add_argument_group("soft backend")
    soft.add_argument("--kek-file", type=Path, help="sealed key-encryption key")
    soft.add_argument("--create-kek", action="store_true", help="create the sealed KEK file when missing")
    soft.add_argument(
        "--kdf-iterations",
        type=_bounded(kek_file.MIN_ITERATIONS, kek_file.MAX_ITERATIONS),
        default=kek_file.DEFAULT_ITERATIONS,
    )
    soft.add_argument(
        "--key-cache-size",
        type=_bounded(0, 1_000_000),
        default=keycache.DEFAULT_SIZE,
        help="opened keys kept by the unit (shared by its slots)",
    )
    p11 = parser.add_argument_group("pkcs11 backend")
    p11.add_argument("--pkcs11-module", help="path of the PKCS#11 module (.so)")
    p11.add_argument("--token-label", help="label of the token this unit serves")
    tuning = parser.add_argument_group("limits and tuning")
    tuning.add_argument("--max-frame", type=_bounded(4096, 1 << 30), default=wire.DEFAULT_MAX_FRAME)
    tuning.add_argument(
        "--max-in-flight", type=_bounded(1, 1 << 20), default=DEFAULT_MAX_IN_FLIGHT, help="per connection"
    )
    tuning.add_argument("--restart-intensity", type=_bounded(0, 1000), default=DEFAULT_INTENSITY)
    tuning.add_argument("--restart-period", type=_bounded(0.001, 86_400, float), default=DEFAULT_PERIOD_S)
    tuning.add_argument(
        "--start-timeout", type=_bounded(0.1, 3600, float), default=30.0, help="seconds for the slots to open"
    )
    tuning.add_argument("--drain-timeout", type=_bounded(0, 3600, float), default=5.0)
    tuning.add_argument(
        "--handshake-timeout", type=_bounded(0.01, 600, float), default=5.0, help="seconds to authenticate"
    )
    tuning.add_argument(
        "--switch-interval",
        type=_bounded(1e-5, 1.0, float),
        default=0.0005,
        help="sys.setswitchinterval: hand the GIL back to a thread returning from native code sooner",
    )
    tuning.add_argument("--enable-test-faults", action="store_true", help="accept INJECT_FAULT (tests only)")
    tuning.add_argument(
        "--self-check", action="store_true", help="verify every signature before returning it"
    )
    tuning.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    tuning.add_argument("--log-format", default="console", choices=("console", "json"))
    return parser


def _configure_logging(level_name: str, fmt: str, unit_id: str) -> None:
    """structlog to stderr, every event tagged with the unit id (threads do not share contextvars)."""
    level = getattr(logging, level_name.upper())

    def add_unit(logger: Any, method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        event.setdefault("unit_id", unit_id)
        return event

    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            add_unit,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")


def _announce(kind: str, data: dict[str, Any]) -> None:
    sys.stdout.write(f"{kind} {json.dumps(data)}\n")
    sys.stdout.flush()


def open_backend(args: argparse.Namespace, secrets: UnitSecrets) -> Backend:
    """Build the configured backend; :class:`UnitConfigError` / :class:`KekError` when misconfigured."""
    if args.backend == "soft":
        from actors.hsm.backends.soft import SoftBackend

        if args.kek_file is None or not secrets.kek_passphrase:
            raise UnitConfigError("a soft unit needs --kek-file and a kek_passphrase on the secret channel")
        if args.create_kek:
            kek = kek_file.load_or_create_file(
                args.kek_file, secrets.kek_passphrase, iterations=args.kdf_iterations
            )
        else:
            kek = kek_file.load_file(args.kek_file, secrets.kek_passphrase)
        return SoftBackend(kek, key_cache_size=args.key_cache_size, self_check=args.self_check)
    from actors.hsm.backends.pkcs11 import Pkcs11Backend

    if not args.pkcs11_module or not args.token_label or secrets.pkcs11_pin is None:
        raise UnitConfigError("a PKCS#11 unit needs --pkcs11-module, --token-label and a pkcs11_pin")
    return Pkcs11Backend(
        module=args.pkcs11_module,
        token_label=args.token_label,
        pin=secrets.pkcs11_pin,
        self_check=args.self_check,
    )


def bind_socket(path: Path) -> socket.socket:
    """Listen on ``path``, replacing a stale socket file but never a live unit's socket."""
    if len(os.fsencode(path)) > _MAX_SOCKET_PATH:
        raise UnitConfigError(f"socket path is longer than {_MAX_SOCKET_PATH} bytes: {path}")
    if path.exists() or path.is_symlink():
        if not path.is_socket():
            raise UnitConfigError(f"{path} exists and is not a socket")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(os.fspath(path))
        except OSError as exc:
            if exc.errno not in (errno.ECONNREFUSED, errno.ENOENT):
                raise
            path.unlink(missing_ok=True)
        else:
            raise UnitConfigError(f"another process is serving {path}")
        finally:
            probe.close()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(os.fspath(path))  # the process umask (0077) makes it owner-only
    listener.listen(64)
    return listener


class Unit:
    """The running parts of one unit and their shutdown order."""

    def __init__(self, args: argparse.Namespace, secrets: UnitSecrets, backend: Backend) -> None:
        """Start the slots (not yet the socket)."""
        self.args = args
        self.backend = backend
        self.metrics = UnitMetrics()
        self.stop_event = threading.Event()
        self.exit_status = EXIT_OK
        size = args.slots or backend.default_slots
        self.pool = SlotPool(size)
        self.startup = SlotStartup()
        self.supervisor_ref = SlotSupervisor.start(
            backend=backend,
            pool=self.pool,
            startup=self.startup,
            on_escalate=self._escalate,
            intensity=args.restart_intensity,
            period=args.restart_period,
        )
        self.secrets = secrets
        self.started = time.monotonic()
        self.server: UnitServer | None = None

    def _escalate(self, reason: str) -> None:
        self.exit_status = EXIT_TEMPFAIL
        self.stop_event.set()

    def wait_slots(self) -> None:
        """Wait for every slot's session; raise when one failed or time ran out."""
        if not self.startup.ready.wait(self.args.start_timeout):
            raise UnitStartError(f"slots did not open within {self.args.start_timeout} s")
        if self.startup.error is not None:
            raise UnitConfigError(f"a slot could not open its session: {self.startup.error}")

    def health(self) -> HealthReport:
        """The HEALTH reply."""
        alive, size = self.pool.alive_count(), self.pool.size
        described = self.backend.describe()
        return HealthReport(
            status="ok" if alive == size else "degraded" if alive else "failing",
            unit_id=self.args.unit_id,
            backend=self.backend.name,
            pid=os.getpid(),
            slots=size,
            slots_alive=alive,
            slot_restarts=self.pool.restarts,
            in_flight=self.pool.in_flight(),
            uptime_s=round(time.monotonic() - self.started, 3),
            kek_id=described.get("kek_id"),
            token_label=described.get("token_label"),
        )

    def metrics_report(self) -> MetricsReport:
        """The METRICS reply."""
        ops, errors = self.metrics.snapshot()
        hits, misses = self.pool.cache_stats()
        return MetricsReport(
            ops=ops,
            errors=errors,
            in_flight=self.pool.in_flight(),
            slot_restarts=self.pool.restarts,
            key_cache={"hits": hits, "misses": misses},
        )

    def serve(self) -> None:
        """Bind, announce READY, and serve until a signal or an escalation."""
        listener = bind_socket(self.args.socket)
        config = ServerConfig(
            unit_id=self.args.unit_id,
            backend=self.backend.name,
            auth_key=self.secrets.auth_key,
            max_frame=self.args.max_frame,
            max_in_flight=self.args.max_in_flight,
            faults_enabled=self.args.enable_test_faults,
            handshake_timeout=self.args.handshake_timeout,
        )
        self.server = UnitServer(
            listener=listener,
            config=config,
            pool=self.pool,
            record=self.metrics.record,
            health=self.health,
            metrics=self.metrics_report,
        )
        # Everything built so far (modules, backend, slots) lives as long as the process: keep it
        # out of the collector's full passes, which stop every thread of the unit for milliseconds
        # and would show up as the tail of the signing latency.
        gc.freeze()
        self.server.start()
        self.started = time.monotonic()
        _announce(
            "READY",
            {
                "unit_id": self.args.unit_id,
                "socket": os.fspath(self.args.socket),
                "pid": os.getpid(),
                "backend": self.backend.name,
                "slots": self.pool.size,
                **self.backend.describe(),
            },
        )
        log.info("unit_ready", unit_id=self.args.unit_id, backend=self.backend.name, slots=self.pool.size)
        while not self.stop_event.wait(1.0):
            if not self.supervisor_ref.is_alive():
                # A BaseException in any actor makes pykka stop them all: nothing can serve any more.
                self.exit_status = EXIT_SOFTWARE
                break

    def shutdown(self) -> None:
        """Drain, close connections, stop the slots, release the backend, remove the socket."""
        if self.server is not None:
            self.server.drain(0.0 if self.exit_status else self.args.drain_timeout)
            self.server.close()
        with contextlib.suppress(pykka.ActorDeadError, pykka.Timeout):
            self.supervisor_ref.stop(block=True, timeout=10.0)
        pykka.ActorRegistry.stop_all(block=False)
        with contextlib.suppress(Exception):
            self.backend.close()
        if self.server is not None:
            with contextlib.suppress(OSError):
                self.args.socket.unlink()
        log.info("unit_stopped", unit_id=self.args.unit_id, status=self.exit_status)


def main(argv: Sequence[str] | None = None) -> int:
    """Run a unit until SIGTERM; return the process exit status."""
    args = build_parser().parse_args(argv)
    os.umask(0o077)
    # A core dump would write the unsealed KEK, opened keys and the PIN to disk.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    _configure_logging(args.log_level, args.log_format, args.unit_id)
    if not die_with_parent(args.parent_pid):
        return EXIT_OK
    sys.setswitchinterval(args.switch_interval)
    try:
        secrets = read_secrets(args.secret_fd)
        backend = open_backend(args, secrets)
    except (UnitConfigError, KekError) as exc:
        _announce("FAILED", {"code": exc.code, "message": str(exc)})
        return EXIT_CONFIG
    unit = Unit(args, secrets, backend)

    def on_signal(signum: int, frame: Any) -> None:
        unit.stop_event.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        unit.wait_slots()
        unit.serve()
    except HsmError as exc:
        _announce("FAILED", {"code": exc.code, "message": str(exc)})
        unit.exit_status = EXIT_CONFIG if isinstance(exc, UnitConfigError) else EXIT_SOFTWARE
    except OSError as exc:
        _announce("FAILED", {"code": "hsm_unit_start_failed", "message": f"cannot listen: {exc}"})
        unit.exit_status = EXIT_CONFIG
    finally:
        unit.shutdown()
    return unit.exit_status


if __name__ == "__main__":
    sys.exit(main())
