"""``klyuch serve``: the parent process that owns everything it starts.

Order: claim and start the embedded PostgreSQL (unless a DSN is configured) → apply migrations →
hypercorn with W trio worker processes (``edge.asgi:app``), which attach to that database. Ctrl-C or
SIGTERM makes hypercorn stop its workers; then the database is stopped. A ``kill -9`` of this
process leaves PostgreSQL orphaned: the next start finds and stops it (``storage.embedded``), and
the workers die with their parent (``edge.asgi``).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from types import FrameType

import structlog
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.run import run as run_hypercorn

from config import Settings
from config.processes import MASTER_PID_ENV
from storage import EmbeddedServer, migrate

log = structlog.get_logger("edge.server")

ASGI_APP = "edge.asgi:app"


def serve(settings: Settings) -> int:
    """Run the server until a signal stops it; returns the exit code."""
    with _interrupt_on_sigterm(), _owned_database(settings):
        applied = trio.run(migrate, settings)
        if applied:
            log.info("migrations_applied", versions=applied)
        log.info("serving", url=settings.public_url, workers=settings.server.workers)
        # The workers check they still have this process as their parent once they die with it
        # (``config.processes.die_with_parent``); spawned workers inherit the environment.
        os.environ[MASTER_PID_ENV] = str(os.getpid())
        code = run_hypercorn(hypercorn_config(settings))
    log.info("stopped", exit_code=code)
    return code


def migrate_only(settings: Settings) -> list[str]:
    """``klyuch db migrate``: apply pending migrations (attaching to a running embedded server)."""
    return trio.run(migrate, settings)


def hypercorn_config(settings: Settings) -> HypercornConfig:
    """Hypercorn settings for ``settings.server``: trio workers serving ``edge.asgi:app``."""
    config = HypercornConfig()
    config.application_path = ASGI_APP
    config.bind = [f"{_bind_host(settings.server.host)}:{settings.server.port}"]
    config.worker_class = "trio"
    config.workers = settings.server.workers
    config.graceful_timeout = settings.server.graceful_timeout_s
    config.keep_alive_timeout = settings.server.keep_alive_timeout_s
    config.accesslog = None
    # hypercorn bounds memory; the app itself answers a too-large message with a typed error first.
    config.websocket_max_message_size = settings.limits.max_websocket_message_bytes + 4096
    config.errorlog = "-"
    return config


def _bind_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


@contextmanager
def _owned_database(settings: Settings) -> Iterator[None]:
    """Own the embedded server for the whole run (workers attach to it); nothing for an external DSN."""
    if settings.storage.dsn is not None:
        with nullcontext():
            yield
        return
    with EmbeddedServer(settings.pg_data_dir, settings.storage) as server:
        log.info("database_started", pid=server.pid, data_dir=str(settings.pg_data_dir))
        yield


@contextmanager
def _interrupt_on_sigterm() -> Iterator[None]:
    """Until hypercorn installs its own handlers, SIGTERM unwinds like Ctrl-C so cleanups run."""

    def _raise(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
