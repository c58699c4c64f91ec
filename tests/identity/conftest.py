"""Identity fixtures: a real server on loopback (hypercorn, this test's PostgreSQL database) with
``create_app``'s app, accounts made through the domain, and an HTTP helper.

Password hashing uses cheap argon2 parameters here (1 pass, 1 MiB) so a test logs in in ~2 ms;
tests about hashing cost set their own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import trio

from actors.identity import Identity, accounts, clients
from actors.identity.accounts import NewAccount
from actors.identity.principal import Role
from actors.identity.server_secret import load_server_secret
from config.settings import HsmSettings, SecuritySettings, Settings
from edge.app import create_app
from storage import Database
from tests.edge.conftest import serve_app  # noqa: F401 - the fixture, made visible to these tests

PASSWORD = "correct horse battery"
"""Password of every account the fixtures make."""

FAST_SECURITY = {"argon2_time_cost": 1, "argon2_memory_kib": 1024, "password_min_length": 12}


def security_settings(base: Settings, **security: Any) -> Settings:
    """``base`` with cheap hashing, the given ``security`` overrides, and no HSM units (not needed here)."""
    values = {**FAST_SECURITY, **security}
    return base.model_copy(update={"security": SecuritySettings(**values), "hsm": HsmSettings(soft_units=0)})


@pytest.fixture
def settings(pg_settings: Settings) -> Settings:
    """This test's database, a temporary home, cheap hashing."""
    return security_settings(pg_settings)


@pytest.fixture
async def identity(settings: Settings, db: Database) -> Identity:
    """An ``Identity`` on the test database (same server secret as the app: same home)."""
    return Identity.create(settings, db)


@dataclass
class Api:
    """An HTTP client on the served app plus shortcuts for tokens."""

    client: httpx.AsyncClient
    settings: Settings

    async def token(self, **params: str) -> httpx.Response:
        """POST /api/v1/auth/token form-encoded."""
        return await self.client.post("/api/v1/auth/token", data=params)

    async def login(self, username: str, password: str = PASSWORD, **extra: str) -> dict[str, Any]:
        """A successful password grant's JSON body."""
        response = await self.token(grant_type="password", username=username, password=password, **extra)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def bearer(self, username: str) -> dict[str, str]:
        """Authorization headers of a fresh login of ``username``."""
        return auth((await self.login(username))["access_token"])

    def secret(self) -> bytes:
        """The server secret the app signs with."""
        return load_server_secret(self.settings)


async def eventually(probe: Callable[[], Awaitable[bool]], *, timeout_s: float = 5.0) -> None:
    """Wait until ``probe()`` is true (changes made by another process reach a cache through NOTIFY)."""
    with trio.fail_after(timeout_s):
        while not await probe():  # noqa: ASYNC110 - polling another process's effect over HTTP
            await trio.sleep(0.02)


def auth(token: str) -> dict[str, str]:
    """Bearer Authorization header."""
    return {"Authorization": f"Bearer {token}"}


def build_app(settings: Settings) -> Any:
    """The app exactly as ``create_app`` builds it."""
    return create_app(settings)


@pytest.fixture
async def start_api(serve_app: Any) -> AsyncIterator[Callable[[Settings], Any]]:  # noqa: F811
    """``await start_api(settings) -> Api``: serve an app on loopback; clients close at test end."""
    opened: list[httpx.AsyncClient] = []

    async def start(settings: Settings) -> Api:
        url = await serve_app(build_app(settings))
        client = httpx.AsyncClient(base_url=url, timeout=30)
        opened.append(client)
        return Api(client, settings)

    yield start
    for client in opened:
        await client.aclose()


@pytest.fixture
async def api(start_api: Callable[[Settings], Any], settings: Settings) -> Api:
    """The served app with default test settings."""
    served: Api = await start_api(settings)
    return served


@dataclass(frozen=True)
class Accounts:
    """Ids of the accounts every identity test starts with (password ``PASSWORD``)."""

    admin: Any
    operator: Any
    alice: Any
    bob: Any


@pytest.fixture
async def people(identity: Identity) -> Accounts:
    """admin (admin), olga (operator), alice and bob (users)."""
    made = {}
    for username, role in (
        ("admin", Role.ADMIN),
        ("olga", Role.OPERATOR),
        ("alice", Role.USER),
        ("bob", Role.USER),
    ):
        row = await accounts.create_account(identity, None, NewAccount(username, role, PASSWORD))
        made[username] = row.id
    return Accounts(made["admin"], made["olga"], made["alice"], made["bob"])


@pytest.fixture
async def new_client(identity: Identity) -> Callable[..., Any]:
    """``await new_client(name=..., role=..., user_id=...) -> IssuedClient``."""

    async def make(**kwargs: Any) -> clients.IssuedClient:
        return await clients.create_client(identity, None, name=kwargs.pop("name", "erp"), **kwargs)

    return make
