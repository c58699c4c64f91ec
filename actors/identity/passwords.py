"""argon2id password hashing off the trio loop, and the password policy.

Hashing costs tens of milliseconds of CPU and megabytes of memory by design, so every hash and
verification runs in a worker thread (``trio.to_thread.run_sync``) behind a ``CapacityLimiter``:
the event loop keeps serving requests, and a burst of logins queues instead of exhausting memory.
argon2-cffi releases the GIL inside the native hash.

Unknown users are verified against a dummy hash made with the same parameters, so a wrong username
costs the same time as a wrong password (``verify_dummy``).
"""

from __future__ import annotations

import secrets

import argon2
import trio
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from actors.identity.errors import PasswordPolicyError
from config.settings import SecuritySettings


class PasswordHasher:
    """argon2id with the parameters of ``SecuritySettings``; one per worker process."""

    def __init__(self, settings: SecuritySettings) -> None:
        self._argon = argon2.PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            type=argon2.Type.ID,
        )
        self._limiter = trio.CapacityLimiter(settings.hash_concurrency)
        self._dummy: str | None = None
        self._dummy_lock = trio.Lock()

    async def hash(self, password: str) -> str:
        """Return the PHC string of ``password`` (random salt)."""
        return await trio.to_thread.run_sync(self._argon.hash, password, limiter=self._limiter)

    async def verify(self, password_hash: str, password: str) -> bool:
        """True when ``password`` matches ``password_hash``; a malformed hash counts as a mismatch."""
        await self._ensure_dummy()  # the first login of a process pays this, whoever asks
        return await trio.to_thread.run_sync(self._check, password_hash, password, limiter=self._limiter)

    async def verify_dummy(self, password: str) -> None:
        """Spend the time of one verification, for an unknown user or an account without password."""
        dummy = await self._ensure_dummy()
        await trio.to_thread.run_sync(self._check, dummy, password, limiter=self._limiter)

    def needs_rehash(self, password_hash: str) -> bool:
        """True when ``password_hash`` was made with other parameters than the configured ones."""
        try:
            return self._argon.check_needs_rehash(password_hash)
        except (InvalidHashError, ValueError):
            return True

    def _check(self, password_hash: str, password: str) -> bool:
        try:
            return self._argon.verify(password_hash, password)
        except VerifyMismatchError:
            return False
        except (VerificationError, InvalidHashError):
            return False

    async def _ensure_dummy(self) -> str:
        async with self._dummy_lock:
            if self._dummy is None:
                self._dummy = await self.hash(secrets.token_urlsafe(16))
            return self._dummy


def check_password_policy(password: str, *, username: str, settings: SecuritySettings) -> None:
    """Raise ``PasswordPolicyError`` when ``password`` may not be set for ``username``."""
    if len(password) < settings.password_min_length:
        raise PasswordPolicyError(
            f"the password must be at least {settings.password_min_length} characters long"
        )
    if len(password) > settings.password_max_length:
        raise PasswordPolicyError(
            f"the password must be at most {settings.password_max_length} characters long"
        )
    if not password.strip():
        raise PasswordPolicyError("the password must not be only whitespace")
    if password.casefold() == username.casefold():
        raise PasswordPolicyError("the password must not equal the username")
