"""The pool in a worker's services, over real HTTP: ``/readyz`` follows the units, ``/metrics`` shows them.

A real app (``create_app`` with services: embedded PostgreSQL test database + a real pool of soft
units) served by hypercorn on loopback.
"""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator
from functools import partial

import httpx
import pytest
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from config.settings import HsmSettings, Settings
from edge.app import create_app

from .conftest import FAST


@pytest.fixture
async def base_url(pg_settings: Settings, nursery: trio.Nursery) -> AsyncIterator[str]:
    # Slow first restart: leaves time to see /readyz answer 503 while both units are down.
    hsm = HsmSettings(**{**FAST, "restart_backoff_initial_s": 1.5, "restart_backoff_cap_s": 1.5})
    app = create_app(pg_settings.model_copy(update={"hsm": hsm}))
    config = HypercornConfig()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    stop = trio.Event()
    binds: list[str] = await nursery.start(partial(serve, app, config, shutdown_trigger=stop.wait))
    yield binds[0]
    stop.set()


async def _ready(client: httpx.AsyncClient, *, expect: int, within: float = 15.0) -> dict[str, object]:
    for _ in range(int(within / 0.05)):
        response = await client.get("/readyz")
        if response.status_code == expect:
            body: dict[str, object] = response.json()
            return body
        await trio.sleep(0.05)
    pytest.fail(f"/readyz did not answer {expect} within {within} s: {response.json()}")


async def test_readyz_follows_the_units_and_metrics_show_them(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        body = await _ready(client, expect=200)
        assert body["checks"] == {"database": "ok", "hsm": "ok"}
        for _ in range(300):  # ready with one unit; wait for both
            if set((await client.get("/readyz")).json()["hsm_units"].values()) == {"healthy"}:
                break
            await trio.sleep(0.05)

        report = (await client.get("/metrics")).json()
        assert report["worker"] == os.getpid()
        units = report["hsm"]["units"]
        assert [unit["unit_id"] for unit in units] == ["soft-1", "soft-2"]
        assert all(unit["state"] == "healthy" and unit["pid"] for unit in units)
        assert set(report["gc"]["generations"]) == {"0", "1", "2"}

        text = await client.get("/metrics", headers={"Accept": "text/plain;version=0.0.4"})
        assert text.headers["content-type"].startswith("text/plain; version=0.0.4")
        sample = f'klyuch_hsm_unit_up{{worker="{os.getpid()}",unit="soft-2",domain="soft",state="healthy"}} 1'
        assert sample in text.text
        assert f'klyuch_gc_collections_total{{worker="{os.getpid()}",generation="2"}} ' in text.text
        assert (await client.get("/metrics?format=prometheus")).text.startswith("# HELP ")

        for unit in units:
            os.kill(unit["pid"], signal.SIGKILL)
        down = await _ready(client, expect=503)
        assert down["checks"] == {"database": "ok", "hsm": "unavailable"}
        back = await _ready(client, expect=200)
        assert back["checks"] == {"database": "ok", "hsm": "ok"}
        restarted = (await client.get("/metrics")).json()["hsm"]["units"]
        assert sum(unit["restarts"] for unit in restarted) >= 1
