"""``Identity``: the long-lived parts of the identity domain of one process, held together.

One ``Identity`` per worker process (and one per ``klyuch admin`` run). It is cheap to pass around;
the functions of ``grants``, ``bearer``, ``accounts`` and ``clients`` take it as their first argument.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from actors.identity.passwords import PasswordHasher
from actors.identity.server_secret import Sealer, load_server_secret
from actors.identity.state_cache import TokenStateCache
from actors.identity.throttle import SharedLoginThrottle
from actors.identity.tokens import AccessTokenCodec
from config.settings import SecuritySettings, Settings
from storage import Database


@dataclass(slots=True)
class Identity:
    """Database, hasher, token codec, sealer, throttle and state cache of one process."""

    settings: SecuritySettings
    """The ``security`` section."""
    db: Database
    """Where accounts, clients and sessions live."""
    hasher: PasswordHasher
    """argon2id in worker threads."""
    codec: AccessTokenCodec
    """Issues and verifies access tokens."""
    sealer: Sealer
    """Seals callback secrets at rest."""
    throttle: SharedLoginThrottle
    """Failed-login counters (in PostgreSQL, shared by every worker)."""
    state_cache: TokenStateCache
    """Cache of per-token database checks (used only while ``keep_cache_coherent`` listens)."""
    clock: Callable[[], float] = time.time
    """Wall clock (seconds since the epoch); tests may move it."""
    last_purge: float = field(default=0.0)
    """Monotonic time of the last purge of expired rows by this process."""

    @classmethod
    def create(cls, settings: Settings, db: Database, *, clock: Callable[[], float] = time.time) -> Identity:
        """Assemble the parts; reads (or generates, once) the server secret under ``settings.home``."""
        security = settings.security
        secret = load_server_secret(settings)
        return cls(
            settings=security,
            db=db,
            hasher=PasswordHasher(security),
            codec=AccessTokenCodec(secret, security, clock=clock),
            sealer=Sealer(secret),
            throttle=SharedLoginThrottle.for_settings(security, db, server_secret=secret, clock=clock),
            state_cache=TokenStateCache(security.token_state_cache_s),
            clock=clock,
        )

    def now(self) -> datetime:
        """The current time as an aware UTC datetime (the same clock as token ``iat``/``exp``)."""
        return self.at(self.clock())

    @staticmethod
    def at(timestamp: float) -> datetime:
        """``timestamp`` (seconds since the epoch) as an aware UTC datetime."""
        return datetime.fromtimestamp(timestamp, UTC)
