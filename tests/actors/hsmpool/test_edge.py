"""The pool in a worker's services, over real HTTP: ``/readyz`` follows the units, ``/metrics`` shows them
to the metrics token and to operators only.

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
import structlog
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve
from pydantic import SecretStr

from actors.identity import Identity, accounts
from actors.identity.accounts import NewAccount
from actors.identity.principal import Role
from config.settings import HsmSettings, SecuritySettings, ServerSettings, Settings
from edge.app import create_app
from storage import open_database

from .conftest import FAST

METRICS_TOKEN = "scrape-" + "s3cr3t" * 6
SCRAPER = {"Authorization": f"Bearer {METRICS_TOKEN}"}
PASSWORD = "correct horse battery"


@pytest.fixture
def settings(pg_settings: Settings) -> Settings:
    # Slow first restart: leaves time to see /readyz answer 503 while both units are down.
    hsm = HsmSettings(**{**FAST, "restart_backoff_initial_s": 1.5, "restart_backoff_cap_s": 1.5})
    return pg_settings.model_copy(
        update={
            "hsm": hsm,
            "server": ServerSettings(metrics_token=SecretStr(METRICS_TOKEN)),
            "security": SecuritySettings(argon2_time_cost=1, argon2_memory_kib=1024),
        }
    )


@pytest.fixture
async def base_url(settings: Settings, nursery: trio.Nursery) -> AsyncIterator[str]:
    app = create_app(settings)
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

        report = (await client.get("/metrics", headers=SCRAPER)).json()
        assert report["worker"] == os.getpid()
        units = report["hsm"]["units"]
        assert [unit["unit_id"] for unit in units] == ["soft-1", "soft-2"]
        assert all(unit["state"] == "healthy" and unit["pid"] for unit in units)
        assert set(report["gc"]["generations"]) == {"0", "1", "2"}
        assert report["storage"]["offloaded"]["fallbacks"] >= 0
        assert report["storage"]["writer"]["starts"] >= 1

        text = await client.get("/metrics", headers={**SCRAPER, "Accept": "text/plain;version=0.0.4"})
        assert text.headers["content-type"].startswith("text/plain; version=0.0.4")
        sample = f'klyuch_hsm_unit_up{{worker="{os.getpid()}",unit="soft-2",domain="soft",state="healthy"}} 1'
        assert sample in text.text
        assert f'klyuch_gc_collections_total{{worker="{os.getpid()}",generation="2"}} ' in text.text
        assert f'klyuch_storage_writer_starts_total{{worker="{os.getpid()}"}} ' in text.text
        assert (await client.get("/metrics?format=prometheus", headers=SCRAPER)).text.startswith("# HELP ")

        for unit in units:
            os.kill(unit["pid"], signal.SIGKILL)
        down = await _ready(client, expect=503)
        assert down["checks"] == {"database": "ok", "hsm": "unavailable"}
        back = await _ready(client, expect=200)
        assert back["checks"] == {"database": "ok", "hsm": "ok"}
        restarted = (await client.get("/metrics", headers=SCRAPER)).json()["hsm"]["units"]
        assert sum(unit["restarts"] for unit in restarted) >= 1


async def _token(client: httpx.AsyncClient, settings: Settings, username: str, role: Role) -> dict[str, str]:
    async with open_database(settings, migrate=False) as db:
        identity = Identity.create(settings, db)
        await accounts.create_account(identity, None, NewAccount(username, role, PASSWORD))
    response = await client.post(
        "/api/v1/auth/token", data={"grant_type": "password", "username": username, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def test_metrics_answer_the_scrape_token_and_operators_only_and_refusals_are_audited(
    base_url: str, settings: Settings
) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        await _ready(client, expect=200)
        user = await _token(client, settings, "ursula", Role.USER)
        operator = await _token(client, settings, "olga", Role.OPERATOR)
        with structlog.testing.capture_logs() as events:
            anonymous = await client.get("/metrics")
            wrong = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}x"})
            as_user = await client.get("/metrics", headers=user)
        assert (anonymous.status_code, wrong.status_code, as_user.status_code) == (401, 401, 403)
        for refused in (anonymous, wrong, as_user):
            assert refused.headers["content-type"] == "application/problem+json"
            assert "worker" not in refused.json()
        assert (await client.get("/metrics", headers=operator)).json()["worker"] == os.getpid()
        assert (await client.get("/metrics", headers=SCRAPER)).json()["worker"] == os.getpid()

    denied = [event for event in events if event["event"] == "audit_access_denied"]
    assert [(event["reason"], event["path"]) for event in denied] == [
        ("token_missing", "/metrics"),
        ("token_invalid", "/metrics"),
        ("forbidden", "/metrics"),
    ]
    assert denied[2]["user_id"] is not None
    assert all(METRICS_TOKEN not in repr(event) for event in events)
