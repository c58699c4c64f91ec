"""Entry point of a hypercorn worker process: ``edge.asgi:app``.

The parent (``klyuch serve``) hands settings down through the environment (``KLYUCH_*``, with
``KLYUCH_STORAGE__DSN`` pointing at the database it started), so each spawned worker builds the same
frozen ``Settings``. A worker asks the kernel to SIGTERM it when its parent dies, so a ``kill -9``
of ``klyuch serve`` leaves no worker behind.
"""

from __future__ import annotations

import gc
import os
import signal
import sys

from config import load_settings
from config.processes import MASTER_PID_ENV, die_with_parent, expected_parent
from edge.app import create_app
from edge.gc_metrics import METER as GC_METER
from edge.logging import configure_logging

# ``klyuch serve`` names its pid: a master that died before the request took effect is noticed
# (comparing with 1 instead would also stop every worker of a master running as a container's init).
if not die_with_parent(expected_parent(MASTER_PID_ENV)):
    os.kill(os.getpid(), signal.SIGTERM)
# The worker's event loop shares the GIL with the asyncpg thread; with the default 5 ms switch
# interval, a loop returning from native code (signature checks, socket sends) waits up to 5 ms to
# get it back (FACTS.md "GIL convoy"). One noisy trial: 330 vs 260 signing requests/s at 0.5 ms.
sys.setswitchinterval(0.0005)
settings = load_settings()
configure_logging(settings.logging)
app = create_app(settings)
# Everything imported and built so far lives as long as the process: move it out of the collector's
# sight, so full collections under load walk only what requests allocate (in the HSM bench a full
# pass cost 17–28 ms before the same change in the unit processes).
gc.freeze()
gc.set_threshold(*settings.server.gc_thresholds)
GC_METER.install()
