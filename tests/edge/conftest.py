"""Serve an app in-process on a loopback port with real hypercorn, for real HTTP clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial

import pytest
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve
from quart_trio import QuartTrio


@pytest.fixture
async def serve_app(nursery: trio.Nursery) -> AsyncIterator[partial[object]]:
    """Return ``start(app) -> base_url``; every started server stops at the end of the test."""
    stops: list[trio.Event] = []

    async def start(app: QuartTrio) -> str:
        config = HypercornConfig()
        config.bind = ["127.0.0.1:0"]
        config.accesslog = None
        stop = trio.Event()
        stops.append(stop)
        binds: list[str] = await nursery.start(partial(serve, app, config, shutdown_trigger=stop.wait))
        return binds[0]

    yield start  # type: ignore[misc]
    for stop in stops:
        stop.set()
