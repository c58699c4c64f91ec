"""Keys fixtures: a real server on loopback (hypercorn, this test's PostgreSQL database, a pool of
real soft-HSM unit processes) with identity, users and the keys blueprints; accounts; the openssl oracle.

Fixtures:

``keys_api`` (function, async)
    ``await keys_api(ca=CaSettings(...), hsm=HsmSettings(...)) -> KeysApi``: serve the app, wait until
    its HSM units are healthy. Defaults: auto-issue on, two soft units (``FAST_HSM``).
``softhsm`` (session)
    A SoftHSM2 token ``PT1`` (the HSM pool tests' fixture).
``people`` (function, async)
    Accounts alice, bob (users) and olga (operator), password ``PASSWORD``.
``ossl`` (function)
    The ``openssl`` CLI (gost engine) working in this test's temporary folder.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from actors.hsmpool import Balancer
from actors.identity import Identity, accounts
from actors.identity.accounts import NewAccount
from actors.identity.principal import Role
from actors.keys.settings import CaSettings
from config.settings import HsmSettings, SecuritySettings, Settings
from edge.app import SERVICES_KEY, create_app
from edge.services import Services
from storage import Database
from tests.actors.hsmpool.conftest import softhsm  # noqa: F401 - the fixture, made visible here
from tests.edge.conftest import serve_app  # noqa: F401 - the fixture, made visible to these tests
from tests.oracle import OpenSSL, ossl  # noqa: F401 - re-exported fixture and type

PASSWORD = "correct horse battery"
"""Password of every account the fixtures make."""

FAST_SECURITY: dict[str, Any] = {"argon2_time_cost": 1, "argon2_memory_kib": 1024}
FAST_HSM: dict[str, Any] = {
    "soft_units": 2,
    "kek_kdf_iterations": 1000,
    "call_timeout_s": 5.0,
    "health_interval_s": 0.5,
    "start_timeout_s": 20.0,
    "stop_grace_s": 2.0,
}

StartKeysApi = Callable[..., Awaitable["KeysApi"]]


@pytest.fixture
def settings(pg_settings: Settings) -> Settings:
    """This test's database and home, cheap password hashing, two soft-HSM units."""
    return pg_settings.model_copy(
        update={"security": SecuritySettings(**FAST_SECURITY), "hsm": HsmSettings(**FAST_HSM)}
    )


@pytest.fixture
async def identity(settings: Settings, db: Database) -> Identity:
    """An ``Identity`` on the test database (same home, so the same server secret as the app)."""
    return Identity.create(settings, db)


@dataclass(frozen=True)
class Accounts:
    """Ids of the accounts every keys test starts with."""

    alice: Any
    bob: Any
    olga: Any


@pytest.fixture
async def people(identity: Identity) -> Accounts:
    """alice and bob (users, alice with a display name and e-mail), olga (operator)."""
    alice = await accounts.create_account(
        identity,
        None,
        NewAccount("alice", Role.USER, PASSWORD, display_name="Алиса Петрова", email="alice@example.ru"),
    )
    bob = await accounts.create_account(identity, None, NewAccount("bob", Role.USER, PASSWORD))
    olga = await accounts.create_account(identity, None, NewAccount("olga", Role.OPERATOR, PASSWORD))
    return Accounts(alice.id, bob.id, olga.id)


@dataclass
class KeysApi:
    """An HTTP client on the served app, logged-in headers per user, and the app's services."""

    client: httpx.AsyncClient
    services: Services
    _headers: dict[str, dict[str, str]]

    async def as_(self, username: str) -> dict[str, str]:
        """Authorization headers of ``username`` (logged in once per test)."""
        if username not in self._headers:
            response = await self.client.post(
                "/api/v1/auth/token",
                data={"grant_type": "password", "username": username, "password": PASSWORD},
            )
            assert response.status_code == 200, response.text
            self._headers[username] = {"Authorization": f"Bearer {response.json()['access_token']}"}
        return self._headers[username]

    async def call(self, method: str, path: str, user: str, **kwargs: Any) -> httpx.Response:
        """``method path`` as ``user``."""
        return await self.client.request(method, f"/api/v1{path}", headers=await self.as_(user), **kwargs)

    async def new_key(self, user: str, **body: Any) -> dict[str, Any]:
        """Create a key (201 expected); return its JSON."""
        response = await self.call("POST", "/keys", user, json={"algorithm": "gost3410_2012_256", **body})
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def issue(self, user: str, key_id: str, **body: Any) -> dict[str, Any]:
        """Have the built-in CA issue a certificate for ``key_id`` (201 expected)."""
        response = await self.call("POST", f"/keys/{key_id}/certificate", user, json=body)
        assert response.status_code == 201, response.text
        issued: dict[str, Any] = response.json()
        return issued


def build_app(settings: Settings, ca: CaSettings | None) -> Any:
    """The app as ``create_app`` builds it, with ``ca`` as the CA section when given."""
    return create_app(settings if ca is None else settings.model_copy(update={"ca": ca}))


@pytest.fixture
async def keys_api(serve_app: Any, settings: Settings) -> AsyncIterator[StartKeysApi]:  # noqa: F811
    """``await keys_api(ca=None, hsm=None) -> KeysApi`` on a served app whose HSM units are all healthy."""
    opened: list[httpx.AsyncClient] = []

    async def start(*, ca: CaSettings | None = None, hsm: HsmSettings | None = None) -> KeysApi:
        served = settings if hsm is None else settings.model_copy(update={"hsm": hsm})
        app = build_app(served, ca)
        url = await serve_app(app)
        services: Services = app.config[SERVICES_KEY]
        await services.hsm.wait_ready(units=len(services.hsm.units()), timeout=20)
        client = httpx.AsyncClient(base_url=url, timeout=30)
        opened.append(client)
        return KeysApi(client, services, {})

    yield start
    for client in opened:
        await client.aclose()


@contextlib.asynccontextmanager
async def hsm_stopped(hsm: Balancer) -> AsyncIterator[None]:
    """Every unit of ``hsm`` stopped (SIGSTOP: hung, not dead) inside the block; continued after it,
    and the pool waited for until its units are healthy again (it may have replaced a hung one)."""
    pids = [unit.pid for unit in hsm.units()]
    assert all(pid is not None for pid in pids)
    try:
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)  # type: ignore[arg-type]  # checked above
        yield
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):  # the pool may have replaced a hung unit
                os.kill(pid, signal.SIGCONT)  # type: ignore[arg-type]
    await hsm.wait_ready(units=len(pids), timeout=20)
