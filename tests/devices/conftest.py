"""Device fixtures: workers (app + sessions + an in-test operations book) served on loopback, accounts,
tokens, enrolled devices, and a capture of audit events.

A "worker" here is what one hypercorn worker process runs: its own database pool, actor system and
``SessionHub`` (own node id). Two workers on one test database stand for two processes: they meet
only through PostgreSQL, exactly as separate processes would.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
import structlog
import trio
from quart_trio import QuartTrio

from actors.identity import Identity, accounts
from actors.identity.accounts import NewAccount
from actors.identity.principal import Role
from actors.identity.server_secret import load_server_secret
from actors.runtime import ActorSystem
from actors.sessions import (
    ACCEPTED,
    DecisionOutcome,
    DeviceDecision,
    NoticeItem,
    OperationNotice,
    OutcomeStatus,
    SessionHub,
    SessionOptions,
    open_sessions,
)
from config.settings import SecuritySettings, Settings
from edge.app import create_app
from edge.device_cli.client import DeviceClient
from edge.device_cli.state import DeviceState
from edge.devices.qr import EnrolmentPayload
from storage import Database, open_database
from tests.edge.conftest import serve_app  # noqa: F401 - re-exported fixture (used by name below)

PASSWORD = "correct horse battery"
FAST_SECURITY = {"argon2_time_cost": 1, "argon2_memory_kib": 1024}
SERVICES_KEY = "KLYUCH_SERVICES"
TEST_OPTIONS = SessionOptions(
    auth_timeout_s=3.0,
    ping_interval_s=5.0,
    idle_timeout_s=15.0,
    session_idle_grace_s=0.5,
    remote_decision_timeout_s=3.0,
)
_digests = itertools.count(1)


def _digest() -> str:
    return next(_digests).to_bytes(32, "big").hex()


# -- the in-test operations layer --------------------------------------------------------------------


@dataclass
class BookedOp:
    """One operation of the book and its state."""

    notice: OperationNotice
    state: str = "awaiting_confirmation"
    decided: trio.Event = field(default_factory=trio.Event)
    raced: bool = False
    """Another device's decision wins the moment this one arrives (a race, as seen by the sink)."""

    @property
    def awaiting(self) -> bool:
        return self.state == "awaiting_confirmation"


class OpsBook:
    """A small, complete operations layer: ``ConfirmationSink`` + ``PendingLookup`` over a dict.

    States: awaiting_confirmation → confirmed | declined | expired. Records every decision it gets.
    """

    def __init__(self) -> None:
        self.ops: dict[UUID, BookedOp] = {}
        self.decisions: list[DeviceDecision] = []
        self.lookups = 0
        """Calls of ``awaiting`` (a session asks on every new connection and after a resync)."""

    def create(self, user_id: UUID, *, items: int = 1, ttl_s: float = 60.0) -> OperationNotice:
        """A new operation awaiting confirmation."""
        now = datetime.now(UTC)
        notice = OperationNotice(
            op_id=uuid4(),
            user_id=user_id,
            items=tuple(
                NoticeItem(f"doc-{i}.txt", _digest(), "streebog256", f"Document {i}") for i in range(items)
            ),
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_s),
        )
        self.ops[notice.op_id] = BookedOp(notice)
        return notice

    async def on_decision(self, decision: DeviceDecision) -> DecisionOutcome:
        """The state machine's transition on a verified decision."""
        self.decisions.append(decision)
        op = self.ops.get(decision.op_id)
        if op is None or op.notice.user_id != decision.user_id:
            return DecisionOutcome(OutcomeStatus.UNKNOWN)
        if op.raced:
            op.state = "confirmed"
        if op.state != "awaiting_confirmation":
            return DecisionOutcome(OutcomeStatus.ALREADY_DECIDED)
        if datetime.now(UTC) >= op.notice.expires_at:
            op.state = "expired"
            return DecisionOutcome(OutcomeStatus.EXPIRED)
        op.state = "confirmed" if decision.decision.value == "confirm" else "declined"
        op.decided.set()
        return ACCEPTED

    async def awaiting(self, user_id: UUID) -> Sequence[OperationNotice]:
        """Operations of ``user_id`` still awaiting a decision."""
        self.lookups += 1
        now = datetime.now(UTC)
        return [
            op.notice
            for op in self.ops.values()
            if op.notice.user_id == user_id and op.awaiting and op.notice.expires_at > now
        ]


# -- workers -------------------------------------------------------------------------------------------


@dataclass
class WorkerServices:
    """What ``edge.services.Services`` holds once the lead adds ``sessions``."""

    settings: Settings
    db: Database
    sessions: SessionHub


@dataclass
class Worker:
    """One served app."""

    url: str
    http: httpx.AsyncClient
    book: OpsBook
    services: WorkerServices

    @property
    def hub(self) -> SessionHub:
        return self.services.sessions


async def run_worker(
    settings: Settings,
    book: OpsBook,
    options: SessionOptions,
    stop: trio.Event,
    *,
    task_status: trio.TaskStatus[WorkerServices] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Database, actor system and sessions of one worker, until ``stop``."""
    async with (
        open_database(settings, migrate=False) as db,
        open_sessions(
            system=ActorSystem("test-worker"),
            db=db,
            sink=book,
            pending=book,
            server_secret=load_server_secret(settings),
            options=options,
        ) as hub,
    ):
        task_status.started(WorkerServices(settings, db, hub))
        await stop.wait()


def build_app(settings: Settings, book: OpsBook, options: SessionOptions) -> QuartTrio:
    """``create_app``'s app, with sessions served by this test's in-test operations book."""
    app = create_app(settings, with_services=False)
    stop = trio.Event()

    @app.before_serving
    async def _start() -> None:
        app.config[SERVICES_KEY] = await app.nursery.start(run_worker, settings, book, options, stop)

    @app.after_serving
    async def _stop() -> None:
        stop.set()

    return app


@pytest.fixture
def settings(pg_settings: Settings) -> Settings:
    """This test's database, a temporary home, cheap password hashing."""
    security = SecuritySettings.model_validate(FAST_SECURITY)
    return pg_settings.model_copy(update={"security": security})


StartWorker = Callable[..., Awaitable[Worker]]


@pytest.fixture
async def start_worker(serve_app: Any, settings: Settings) -> AsyncIterator[StartWorker]:  # noqa: F811
    """``await start_worker(book=None, options=TEST_OPTIONS) -> Worker``."""
    opened: list[httpx.AsyncClient] = []

    async def start(book: OpsBook | None = None, options: SessionOptions = TEST_OPTIONS) -> Worker:
        book = book or OpsBook()
        app = build_app(settings, book, options)
        url = await serve_app(app)
        client = httpx.AsyncClient(base_url=url, timeout=30)
        opened.append(client)
        return Worker(url, client, book, app.config[SERVICES_KEY])

    yield start
    for client in opened:
        await client.aclose()


@pytest.fixture
async def worker(start_worker: StartWorker) -> Worker:
    """One worker with default test options."""
    return await start_worker()


# -- accounts and devices ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """A user account and a bearer header."""

    id: UUID
    username: str
    headers: dict[str, str]


@pytest.fixture
async def make_person(settings: Settings, db: Database) -> Callable[[Worker, str], Awaitable[Person]]:
    """``await make_person(worker, username)``: an account (role user) logged in through the API."""
    identity = Identity.create(settings, db)

    async def make(worker: Worker, username: str) -> Person:
        row = await accounts.create_account(identity, None, NewAccount(username, Role.USER, PASSWORD))
        response = await worker.http.post(
            "/api/v1/auth/token", data={"grant_type": "password", "username": username, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        token = response.json()["access_token"]
        return Person(row.id, username, {"Authorization": f"Bearer {token}"})

    return make


@pytest.fixture
async def alice(worker: Worker, make_person: Callable[[Worker, str], Awaitable[Person]]) -> Person:
    return await make_person(worker, "alice")


@pytest.fixture
async def bob(worker: Worker, make_person: Callable[[Worker, str], Awaitable[Person]]) -> Person:
    return await make_person(worker, "bob")


async def enrol(worker: Worker, person: Person, name: str = "phone") -> tuple[DeviceState, dict[str, Any]]:
    """Enrol a device through the API; its state as the QR code gives it, and the JSON answer."""
    response = await worker.http.post("/api/v1/devices", json={"name": name}, headers=person.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    payload = EnrolmentPayload.parse(body["enrolment"]["payload"])
    return DeviceState.of(payload), body


def on(worker: Worker, state: DeviceState) -> DeviceState:
    """The same device pointed at another worker's URL."""
    return DeviceState(worker.url, state.device_id, state.secret)


async def expect(client: DeviceClient, kind: str, *, within: float = 5.0) -> dict[str, Any]:
    """The next message of ``kind`` (others skipped), within ``within`` seconds."""
    with trio.fail_after(within):
        while True:
            message = await client.receive()
            if message["type"] == kind:
                return message


async def wait_until(predicate: Callable[[], bool], *, within: float = 5.0) -> None:
    """Poll ``predicate`` until it holds (state changed by other tasks, no event to wait on)."""
    with trio.fail_after(within):
        while not predicate():  # noqa: ASYNC110 - polling another layer's state on purpose
            await trio.sleep(0.01)


# -- audit ----------------------------------------------------------------------------------------------


class AuditLog:
    """The audit events logged during a test."""

    def __init__(self, logs: Sequence[Mapping[str, Any]]) -> None:
        self._logs = logs

    def named(self, event: str) -> list[dict[str, Any]]:
        """Events called ``event``, in order."""
        return [dict(entry) for entry in self._logs if entry.get("event") == event]


@pytest.fixture
def audit_log() -> Iterator[AuditLog]:
    """Captures every structlog event of the test; ``named("audit_...")`` filters."""
    with structlog.testing.capture_logs() as logs:
        yield AuditLog(logs)
