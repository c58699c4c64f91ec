"""Set-up of the ``sign`` scenario through public interfaces only.

* The first administrator comes from ``klyuch admin create`` (a subprocess run with the environment
  and working folder of the server process listening on the target's port, so it opens the same
  ``KLYUCH_HOME`` and configuration), or from an existing account named by ``BENCH_SIGN_ADMIN_USER``
  / ``BENCH_SIGN_ADMIN_PASSWORD`` when the server belongs to someone else.
* Every other object is made over HTTP: ``POST /auth/token`` (password grant for the administrator),
  ``POST /users`` (no password), ``POST /clients`` bound to that user (an information system acting
  for it: its ``client_credentials`` token may sign without confirmation under the default policy),
  ``POST /keys`` (GOST R 34.10-2012 256), ``POST /keys/{id}/certificate`` (built-in CA), and, for
  the confirmation phase, ``POST /devices`` (the enrolment payload becomes a ``DeviceState``).

Secrets (passwords, client secrets, device secrets, tokens) stay in memory and are never printed.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import psutil
import trio

from bench.client import BenchClient
from bench.errors import ScenarioPrepareError
from bench.http1 import Response
from bench.scenario import Request
from bench.target import Target
from edge.device_cli.state import DeviceState
from edge.devices.qr import EnrolmentPayload

ADMIN_USER_ENV = "BENCH_SIGN_ADMIN_USER"
"""Use this existing administrator instead of creating one (with ``ADMIN_PASSWORD_ENV``)."""
ADMIN_PASSWORD_ENV = "BENCH_SIGN_ADMIN_PASSWORD"
"""Password of ``ADMIN_USER_ENV``."""
KEY_ALGORITHM = "gost3410_2012_256"
"""Every bench key: GOST R 34.10-2012 with a 256-bit key (the server's default parameter set)."""
SETUP_TIMEOUT_S = 60.0
"""Per-request timeout of set-up calls (key generation and certificates go through the HSM)."""
UNAVAILABLE_PATIENCE_S = 30.0
"""How long set-up retries answers 503 (services or HSM units of a worker still starting)."""
ADMIN_CLI_TIMEOUT_S = 60.0
"""How long ``klyuch admin create`` may take (it attaches to the running embedded PostgreSQL)."""

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Account:
    """A bench user ready to sign: its token and default certificate, and maybe an enrolled device."""

    username: str
    """Login name (``bench-<run>-<role>-<n>``)."""
    user_id: str
    """Account id."""
    token: str
    """Bearer access token of the client bound to the user (never printed)."""
    certificate_id: str
    """The user's GOST-256 certificate from the built-in CA."""
    device: DeviceState | None = None
    """The enrolled confirmation device (confirmation phase only)."""

    @property
    def auth_headers(self) -> tuple[tuple[str, str], ...]:
        """The ``Authorization`` header of this account's requests."""
        return (("Authorization", f"Bearer {self.token}"),)


async def call(
    client: BenchClient,
    method: str,
    path: str,
    *,
    body: Json | None = None,
    token: str | None = None,
    expect: Sequence[int] = (200, 201),
) -> Json:
    """One JSON request; its JSON answer, or ``ScenarioPrepareError`` naming the call and the status."""
    headers = (("Authorization", f"Bearer {token}"),) if token is not None else ()
    request = Request(method, path, body=json.dumps(body).encode() if body is not None else b"")
    if body is not None:
        headers = (("Content-Type", "application/json"), *headers)
    response = await send_when_ready(client, replace(request, headers=headers))
    if response.status not in expect:
        # Problem details name what is wrong and carry no secrets; the request body is not shown.
        detail = response.body[:400].decode("utf-8", "replace")
        raise ScenarioPrepareError(f"{method} {path} answered {response.status}: {detail}")
    answer: Json = json.loads(response.body) if response.body else {}
    return answer


async def send_when_ready(client: BenchClient, request: Request) -> Response:
    """Send ``request``; a 503 (a worker whose HSM units are still starting) is retried for a while.

    ``/readyz`` answers for the one worker that took the probe: with ``--workers 2`` the other may
    still be starting its HSM units, and its 503 carries ``Retry-After``.
    """
    deadline = trio.current_time() + UNAVAILABLE_PATIENCE_S
    while True:
        try:
            response = await client.send(request)
        except (OSError, trio.TooSlowError) as exc:
            raise ScenarioPrepareError(
                f"{request.method} {request.path}: {type(exc).__name__}: {exc}"
            ) from exc
        if response.status != 503 or trio.current_time() >= deadline:
            return response
        await trio.sleep(_retry_after(response))


def _retry_after(response: Response) -> float:
    try:
        return min(1.0, max(0.05, float(response.header("retry-after") or 0.2)))
    except ValueError:
        return 0.2


# -- the first administrator ---------------------------------------------------------------------


async def admin_token(client: BenchClient, run_id: str) -> str:
    """An administrator's access token: from ``BENCH_SIGN_ADMIN_*`` or a new administrator."""
    username, password = os.environ.get(ADMIN_USER_ENV), os.environ.get(ADMIN_PASSWORD_ENV)
    if not (username and password):
        username, password = f"bench-{run_id}-admin", secrets.token_urlsafe(24)
        environ, cwd = server_environment(client.target)
        await trio.to_thread.run_sync(create_admin, username, password, environ, cwd)
    grant = await call(
        client,
        "POST",
        "/api/v1/auth/token",
        body={"grant_type": "password", "username": username, "password": password},
    )
    return str(grant["access_token"])


def server_environment(target: Target) -> tuple[dict[str, str], str]:
    """Environment and working folder of the process listening on ``target``'s port (this machine).

    ``klyuch admin create`` must open the server's database: the listening process's ``KLYUCH_*``
    variables (``KLYUCH_HOME`` above all) and folder say where it is, whoever started the server.
    """
    port = target.address[1]
    try:
        listeners = [
            c.pid
            for c in psutil.net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid
        ]
        for pid in listeners:
            process = psutil.Process(pid)
            environ = process.environ()
            if any(name.startswith("KLYUCH_") for name in environ) or "edge" in process.cmdline():
                return environ, process.cwd()
    except psutil.Error as exc:
        raise ScenarioPrepareError(f"cannot inspect the server on port {port}: {exc}") from exc
    raise ScenarioPrepareError(
        f"no Klyuch server process of this user listens on port {port}; name an existing "
        f"administrator with {ADMIN_USER_ENV} and {ADMIN_PASSWORD_ENV}"
    )


def create_admin(username: str, password: str, environ: Mapping[str, str], cwd: str) -> None:
    """Run ``klyuch admin create --role admin --password-stdin`` against the server's home."""
    command = [sys.executable, "-m", "edge", "admin", "create", "--username", username]
    command += ["--role", "admin", "--password-stdin"]
    try:
        done = subprocess.run(
            command,
            input=password + "\n",
            env=dict(environ),
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=ADMIN_CLI_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ScenarioPrepareError(f"klyuch admin create: {exc}") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout)[-600:]
        raise ScenarioPrepareError(f"klyuch admin create exited with {done.returncode}: {tail}")


# -- accounts ------------------------------------------------------------------------------------


async def provision(
    target: Target,
    admin: str,
    usernames: Sequence[str],
    *,
    with_devices: bool,
    parallel: int = 8,
) -> list[Account]:
    """Make one ready ``Account`` per name, ``parallel`` set-up conversations at a time (in order)."""
    accounts: list[Account | None] = [None] * len(usernames)
    queue = iter(enumerate(usernames))

    async def worker() -> None:
        client = BenchClient(target, timeout_s=SETUP_TIMEOUT_S)
        try:
            for index, name in queue:
                accounts[index] = await make_account(client, admin, name, with_device=with_devices)
        finally:
            client.close()

    async with trio.open_nursery() as nursery:
        for _ in range(max(1, min(parallel, len(usernames)))):
            nursery.start_soon(worker)
    return [account for account in accounts if account is not None]


async def make_account(client: BenchClient, admin: str, username: str, *, with_device: bool) -> Account:
    """User → bound client → its token → GOST-256 key → certificate (→ device)."""
    user = await call(client, "POST", "/api/v1/users", body={"username": username}, token=admin)
    issued = await call(
        client, "POST", "/api/v1/clients", body={"name": username, "user_id": user["id"]}, token=admin
    )
    grant = await call(
        client,
        "POST",
        "/api/v1/auth/token",
        body={
            "grant_type": "client_credentials",
            "client_id": issued["client_id"],
            "client_secret": issued["client_secret"],
        },
    )
    token = str(grant["access_token"])
    key = await call(client, "POST", "/api/v1/keys", body={"algorithm": KEY_ALGORITHM}, token=token)
    certificate = await call(client, "POST", f"/api/v1/keys/{key['id']}/certificate", body={}, token=token)
    device = None
    if with_device:
        enrolled = await call(client, "POST", "/api/v1/devices", body={"name": username}, token=token)
        device = DeviceState.of(EnrolmentPayload.parse(enrolled["enrolment"]["payload"]))
    return Account(
        username=username,
        user_id=str(user["id"]),
        token=token,
        certificate_id=str(certificate["id"]),
        device=device,
    )
