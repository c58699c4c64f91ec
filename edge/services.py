"""What one worker process runs beside the web app, tied to the app's lifespan.

``Services`` is started as a task in the app's nursery before serving (so the nurseries and cancel
scopes it opens live in one task, as trio requires) and stopped after serving.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog
import trio

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
    async with open_database(settings, migrate=False) as db:
        services = Services(settings=settings, db=db)
        log.info("services_started")
        task_status.started(services)
        try:
            await services._stop.wait()
        finally:
            services._stopped.set()
            log.info("services_stopping")
