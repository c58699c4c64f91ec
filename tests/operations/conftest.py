"""Operations fixtures: workers served on loopback with everything real — hypercorn, this test's
PostgreSQL database, a pool of soft-HSM unit processes, the built-in CA, the sessions hub with the
device websocket, and the operations service as its sink — plus accounts, keys, certificates,
enrolled devices and the openssl oracle.

A "worker" is what one hypercorn worker process runs (own database pool, actor system, HSM pool,
sessions hub and operations node id). Two workers on one test database stand for two processes:
they meet only through PostgreSQL.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
import pytest
import trio
from quart_trio import QuartTrio

from actors.callbacks import ClientCallbackKeys, open_callbacks
from actors.hsmpool import Balancer, open_hsm_pool
from actors.identity import Identity, accounts, clients
from actors.identity.accounts import NewAccount
from actors.identity.principal import Role
from actors.identity.server_secret import Sealer, load_server_secret
from actors.keys.service import KeyService
from actors.operations import OperationsOptions, OperationsService, open_operations
from actors.runtime import ActorSystem
from actors.sessions import SessionHub, SessionOptions
from actors.sessions.hub import open_sessions
from config.settings import HsmSettings, SecuritySettings, Settings
from edge.app import create_app
from edge.device_cli.client import DeviceClient
from edge.device_cli.state import DeviceState
from edge.devices.qr import EnrolmentPayload
from signing.algorithms import signature_algorithm
from storage import Database, open_database
from tests.edge.conftest import serve_app  # noqa: F401 - the fixture, made visible to these tests
from tests.oracle import OpenSSL as OpenSSL  # re-exported type
from tests.oracle import ossl  # noqa: F401 - re-exported fixture

PASSWORD = "correct horse battery"
GOST_256 = signature_algorithm("streebog256_gost3410_2012_256")
SERVICES_KEY = "KLYUCH_SERVICES"
FAST_SECURITY: dict[str, Any] = {"argon2_time_cost": 1, "argon2_memory_kib": 1024}
FAST_HSM: dict[str, Any] = {
    "soft_units": 2,
    "kek_kdf_iterations": 1000,
    "call_timeout_s": 5.0,
    "health_interval_s": 0.5,
    "start_timeout_s": 20.0,
    "stop_grace_s": 2.0,
    "restart_backoff_initial_s": 0.05,
}
SESSION_OPTIONS = SessionOptions(
    auth_timeout_s=5.0,
    ping_interval_s=5.0,
    idle_timeout_s=30.0,
    session_idle_grace_s=1.0,
    remote_decision_timeout_s=5.0,
)


def b64(data: bytes) -> str:
    """Standard base64 text."""
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    """Bytes of standard base64 text."""
    return base64.b64decode(text)


@pytest.fixture
def settings(pg_settings: Settings) -> Settings:
    """This test's database and home, cheap password hashing, two soft-HSM units."""
    return pg_settings.model_copy(
        update={"security": SecuritySettings(**FAST_SECURITY), "hsm": HsmSettings(**FAST_HSM)}
    )


# -- workers -------------------------------------------------------------------------------------------


@dataclass
class WorkerServices:
    """What ``edge.services.Services`` holds once the lead adds ``sessions`` and ``operations``."""

    settings: Settings
    db: Database
    actors: ActorSystem
    hsm: Balancer
    keys: KeyService
    sessions: SessionHub
    operations: OperationsService


async def run_worker(
    settings: Settings,
    options: OperationsOptions,
    stop: trio.Event,
    *,
    task_status: trio.TaskStatus[WorkerServices] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Database, actor system, HSM pool, callbacks, keys, operations and sessions of one worker."""
    system = ActorSystem("test-worker")
    secret = load_server_secret(settings)
    async with (
        open_database(settings, migrate=False) as db,
        db.offloading() if settings.storage.writer_process else contextlib.nullcontext(),
        open_hsm_pool(settings.hsm, home=settings.home, system=system) as hsm,
        open_callbacks(settings.callbacks, system=system, db=db, keys=ClientCallbackKeys(db, Sealer(secret))),
        open_operations(system=system, db=db, hsm=hsm, options=options) as ops,
        open_sessions(
            system=system, db=db, sink=ops, pending=ops, server_secret=secret, options=SESSION_OPTIONS
        ) as hub,
    ):
        ops.use_devices(hub)
        keys = KeyService(db, hsm, settings.ca)
        task_status.started(WorkerServices(settings, db, system, hsm, keys, hub, ops))
        await stop.wait()


def build_app(settings: Settings, options: OperationsOptions, stop: trio.Event) -> QuartTrio:
    """``create_app``'s app, with this test's worker services (options chosen by the test)."""
    app = create_app(settings, with_services=False)

    @app.before_serving
    async def _start() -> None:
        app.config[SERVICES_KEY] = await app.nursery.start(run_worker, settings, options, stop)

    @app.after_serving
    async def _stop() -> None:
        stop.set()

    return app


@dataclass
class Worker:
    """One served app: its URL, an HTTP client and its services."""

    url: str
    http: httpx.AsyncClient
    services: WorkerServices
    stop: trio.Event

    @property
    def ops(self) -> OperationsService:
        return self.services.operations

    async def call(self, method: str, path: str, headers: dict[str, str], **kwargs: Any) -> httpx.Response:
        """``method /api/v1<path>``."""
        return await self.http.request(method, f"/api/v1{path}", headers=headers, **kwargs)


StartWorker = Callable[..., Awaitable[Worker]]


@pytest.fixture
async def start_worker(serve_app: Any, settings: Settings) -> AsyncIterator[StartWorker]:  # noqa: F811
    """``await start_worker(**option_overrides) -> Worker`` with all its HSM units healthy."""
    opened: list[httpx.AsyncClient] = []

    async def start(**overrides: Any) -> Worker:
        options = OperationsOptions.from_settings(
            settings, **{"no_confirmation_for": "everyone", **overrides}
        )
        stop = trio.Event()
        app = build_app(settings, options, stop)
        url = await serve_app(app)
        services: WorkerServices = app.config[SERVICES_KEY]
        await services.hsm.wait_ready(units=settings.hsm.soft_units, timeout=20)
        client = httpx.AsyncClient(base_url=url, timeout=60)
        opened.append(client)
        return Worker(url, client, services, stop)

    yield start
    for client in opened:
        await client.aclose()


@pytest.fixture
async def worker(start_worker: StartWorker) -> Worker:
    """One worker; "none" confirmation allowed for everyone."""
    return await start_worker()


# -- people, keys, certificates, devices ----------------------------------------------------------------


@dataclass
class Person:
    """A user account with a bearer header and (once made) a certificate."""

    id: UUID
    username: str
    headers: dict[str, str]
    certificate_id: str | None = None
    certificate_pem: str | None = None


MakePerson = Callable[..., Awaitable[Person]]


@pytest.fixture
async def make_person(settings: Settings, db: Database) -> MakePerson:
    """``await make_person(worker, username, certificate=True, algorithm=...)``: an account logged in
    through the API, with a key and a certificate from the built-in CA (both default)."""
    identity = Identity.create(settings, db)

    async def make(
        worker: Worker, username: str, *, certificate: bool = True, algorithm: str = "gost3410_2012_256"
    ) -> Person:
        row = await accounts.create_account(identity, None, NewAccount(username, Role.USER, PASSWORD))
        response = await worker.http.post(
            "/api/v1/auth/token", data={"grant_type": "password", "username": username, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        person = Person(row.id, username, {"Authorization": f"Bearer {response.json()['access_token']}"})
        if certificate:
            key = await worker.call("POST", "/keys", person.headers, json={"algorithm": algorithm})
            assert key.status_code == 201, key.text
            issued = await worker.call(
                "POST", f"/keys/{key.json()['id']}/certificate", person.headers, json={}
            )
            assert issued.status_code == 201, issued.text
            person.certificate_id = issued.json()["id"]
            person.certificate_pem = issued.json()["pem"]
        return person

    return make


@pytest.fixture
async def client_token(settings: Settings, db: Database) -> Callable[..., Awaitable[dict[str, str]]]:
    """``await client_token(worker, person)``: headers of a client_credentials token of a client bound
    to ``person`` (an information system acting for them)."""
    identity = Identity.create(settings, db)

    async def make(worker: Worker, person: Person) -> dict[str, str]:
        issued = await clients.create_client(identity, None, name=f"erp-{person.username}", user_id=person.id)
        response = await worker.http.post(
            "/api/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": issued.client.client_id,
                "client_secret": issued.client_secret,
            },
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    return make


async def enrol(worker: Worker, person: Person, name: str = "phone") -> DeviceState:
    """Enrol a device through the API; its state as the QR code gives it."""
    response = await worker.call("POST", "/devices", person.headers, json={"name": name})
    assert response.status_code == 201, response.text
    return DeviceState.of(EnrolmentPayload.parse(response.json()["enrolment"]["payload"]))


def on(worker: Worker, state: DeviceState) -> DeviceState:
    """The same device pointed at another worker's URL."""
    return DeviceState(worker.url, state.device_id, state.secret)


async def connected(client: DeviceClient) -> None:
    """Wait until the server's session reads this connection (a ping answered)."""
    await client.send({"type": "ping"})
    with trio.fail_after(5):
        while (await client.receive_raw())["type"] != "pong":
            pass


async def sign(worker: Worker, person: Person, **body: Any) -> httpx.Response:
    """POST /operations with ``body`` (format raw unless given)."""
    return await worker.call("POST", "/operations", person.headers, json={"format": "raw", **body})


async def wait_state(
    worker: Worker, person: Person, op_id: str, states: set[str], *, within: float = 10.0
) -> dict[str, Any]:
    """Poll GET /operations/{id} until its state is one of ``states``; its JSON."""
    with trio.fail_after(within):
        while True:
            response = await worker.call("GET", f"/operations/{op_id}", person.headers)
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            if body["state"] in states:
                return body
            await trio.sleep(0.02)
