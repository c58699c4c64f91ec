"""What one worker process runs beside the web app, tied to the app's lifespan.

``Services`` is started as a task in the app's nursery before serving (so the nurseries and cancel
scopes it opens live in one task, as trio requires) and stopped after serving.

**HSM units belong to the worker, not to ``klyuch serve``.** Each worker process runs its own actor
system and its own pool of unit processes (``hsm.soft_units`` and ``hsm.pkcs11_units_per_token``
count units *per pool*: W workers run W times as many). Why:

* a unit dies with the thread that spawned it (``PR_SET_PDEATHSIG``) and is watched through its
  pidfd and its socket by the pool that spawned it — a worker can only supervise its own children;
* the serve parent runs hypercorn's synchronous process manager, not trio, so it has no actor
  system to host an ``HsmSupervisor`` in; units owned there would leave the workers reconnecting to
  restarted units whose handshake key they would have to be sent, with nobody in the worker able to
  restart a hung one;
* a crashed worker takes only its own units along, and the soft units of every pool unseal the same
  KEK file under ``home``, so any worker signs with any key blob.

The price is W × N unit processes (each a Python process of ~35 MB). Units owned by the serve
parent with one connection per worker remain possible later: a unit already serves several
connections.

The units start in the background: the worker answers at once, ``/readyz`` reports ``hsm`` ready when
at least one unit is healthy, and HSM requests fail fast with ``HsmUnavailableError`` until then.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import structlog
import trio

from actors.callbacks import ClientCallbackKeys, open_callbacks
from actors.hsmpool import Balancer, open_hsm_pool
from actors.identity.server_secret import Sealer, load_server_secret
from actors.keys.anchors import import_trust_anchor_files
from actors.keys.service import KeyService
from actors.keys.settings import crl_distribution_urls, ocsp_urls
from actors.operations import OperationsOptions, OperationsService, open_operations
from actors.operations.material import MaterialCache
from actors.runtime import ActorSystem
from actors.sessions import SessionHub, SessionOptions, open_sessions
from config import Settings
from storage import Database, open_database

log = structlog.get_logger("edge.services")


@dataclass(slots=True)
class Services:
    """Handles one worker process's request handlers use."""

    settings: Settings
    """The effective settings."""
    db: Database
    """The database, usable from trio."""
    actors: ActorSystem
    """The worker's actor system."""
    hsm: Balancer
    """The worker's HSM pool: sign, generate keys, agree, unwrap (``actors.hsmpool.Balancer``)."""
    keys: KeyService
    """Users' keys and certificates and the built-in CA (``actors.keys``)."""
    operations: OperationsService
    """Signing operations: create, decide, fetch, verify (``actors.operations``)."""
    sessions: SessionHub
    """Device sessions: live pushes and verified decisions; the device websocket (``edge.devices``)."""
    _stop: trio.Event = field(default_factory=trio.Event)
    _stopped: trio.Event = field(default_factory=trio.Event)

    async def aclose(self) -> None:
        """Ask the services task to stop and wait until it has."""
        self._stop.set()
        await self._stopped.wait()


async def run_services(
    settings: Settings, *, task_status: trio.TaskStatus[Services] = trio.TASK_STATUS_IGNORED
) -> None:
    """Open every per-worker service, report them started, and hold them until ``aclose``."""
    system = ActorSystem("klyuch-worker")
    server_secret = load_server_secret(settings)
    materials = MaterialCache(
        settings.operations.material_cache_entries, ttl_s=settings.operations.material_cache_s
    )
    async with (
        open_database(settings, migrate=False) as db,
        db.offloading(log_level=settings.logging.level, log_format=settings.logging.format)
        if settings.storage.writer_process
        else contextlib.nullcontext(),
        open_hsm_pool(
            settings.hsm,
            home=settings.home,
            system=system,
            log_level=settings.logging.level,
            log_format=settings.logging.format,
        ) as hsm,
        open_callbacks(
            settings.callbacks,
            system=system,
            db=db,
            keys=ClientCallbackKeys(db, Sealer(server_secret)),
        ),
        open_operations(
            system=system,
            db=db,
            hsm=hsm,
            options=OperationsOptions.from_settings(settings),
            materials=materials,
        ) as operations,
        open_sessions(
            system=system,
            db=db,
            sink=operations,
            pending=operations,
            server_secret=server_secret,
            options=SessionOptions.from_settings(settings),
        ) as sessions,
        trio.open_nursery() as nursery,
    ):
        operations.use_devices(sessions)
        nursery.start_soon(materials.keep_coherent, db)
        await import_trust_anchor_files(db, settings.ca.trust_anchor_files)
        keys = KeyService(
            db,
            hsm,
            settings.ca,
            on_change=materials.forget,
            crl_urls=crl_distribution_urls(settings),
            ocsp_urls=ocsp_urls(settings),
        )
        services = Services(
            settings=settings,
            db=db,
            actors=system,
            hsm=hsm,
            keys=keys,
            operations=operations,
            sessions=sessions,
        )
        log.info("services_started", hsm_units=len(hsm.units()))
        task_status.started(services)
        try:
            await services._stop.wait()
        finally:
            nursery.cancel_scope.cancel()  # the cache's listener
            services._stopped.set()
            log.info("services_stopping")
