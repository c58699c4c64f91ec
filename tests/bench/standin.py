"""A stand-in for ``klyuch serve`` that follows the same contract, for testing the harness alone.

Run as a script (``python tests/bench/standin.py``) it reads ``KLYUCH_SERVER__HOST``/``PORT``, serves a
Quart-Trio app on hypercorn with ``GET /healthz``, ``GET /readyz`` (503 until ``STANDIN_READY_AFTER``
seconds have passed) and ``POST /api/v1/echo``, and stops on SIGTERM/SIGINT. Misbehaviours for the
clean-up tests, chosen by environment variables:

* ``STANDIN_LEAK_CHILD=1``   start a child that ignores SIGTERM and is left running on exit
* ``STANDIN_IGNORE_TERM=1``  ignore SIGTERM (only SIGKILL stops it)
* ``STANDIN_EXIT_AT_ONCE=1`` exit with status 3 before serving
* ``STANDIN_STATUS=503``     answer every ``/healthz`` and echo with this status
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from functools import partial
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from quart import request
from quart_trio import QuartTrio


def create_standin_app(*, ready_after_s: float = 0.0, status: int = 200) -> QuartTrio:
    """The stand-in app; ``/readyz`` answers 503 for ``ready_after_s`` seconds after creation."""
    app = QuartTrio("standin")
    born = time.monotonic()

    @app.get("/healthz")
    async def healthz() -> tuple[dict[str, Any], int]:
        return {"status": "ok"}, status

    @app.get("/readyz")
    async def readyz() -> tuple[dict[str, Any], int]:
        ready = time.monotonic() - born >= ready_after_s
        return {"status": "ready" if ready else "starting"}, 200 if ready else 503

    @app.post("/api/v1/echo")
    async def echo() -> tuple[Any, int]:
        return await request.get_json(), status

    return app


def _leak_child() -> None:
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)"
    subprocess.Popen([sys.executable, "-c", code])


async def _main() -> None:
    if os.environ.get("STANDIN_IGNORE_TERM") == "1":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if os.environ.get("STANDIN_LEAK_CHILD") == "1":
        _leak_child()
    app = create_standin_app(
        ready_after_s=float(os.environ.get("STANDIN_READY_AFTER", "0.3")),
        status=int(os.environ.get("STANDIN_STATUS", "200")),
    )
    config = Config()
    config.bind = [f"{os.environ['KLYUCH_SERVER__HOST']}:{os.environ['KLYUCH_SERVER__PORT']}"]
    config.accesslog = None
    stops = [signal.SIGINT]
    if os.environ.get("STANDIN_IGNORE_TERM") != "1":
        stops.append(signal.SIGTERM)
    with trio.open_signal_receiver(*stops) as signals:

        async def until_signalled() -> None:
            async for _ in signals:
                return

        await serve(app, config, shutdown_trigger=partial(until_signalled))


if __name__ == "__main__":
    if os.environ.get("STANDIN_EXIT_AT_ONCE") == "1":
        sys.exit(3)
    trio.run(_main)
