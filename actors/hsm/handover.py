"""Secrets handed to a unit at start through an inherited file descriptor (stdin by default).

The launcher writes one JSON line and closes its end::

    {"auth_key": "<64 hex digits>", "kek_passphrase": "...", "pkcs11_pin": "..."}

Never argv or the environment: ``ps`` and ``/proc/<pid>/environ`` show those to other users.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Final

from actors.hsm.auth import AUTH_KEY_SIZE
from actors.hsm.errors import UnitConfigError

MAX_SECRETS_SIZE: Final = 64 * 1024


@dataclass(frozen=True, slots=True, repr=False)
class UnitSecrets:
    """What a unit must not receive on its command line."""

    auth_key: bytes
    """Shared secret of the connection handshake (32 bytes)."""
    kek_passphrase: str | None = None
    """Soft units: the passphrase sealing the KEK."""
    pkcs11_pin: str | None = None
    """PKCS#11 units: the token's user PIN."""

    def __repr__(self) -> str:
        return "UnitSecrets(<hidden>)"

    def to_line(self) -> bytes:
        """The line a launcher writes."""
        data: dict[str, str] = {"auth_key": self.auth_key.hex()}
        if self.kek_passphrase is not None:
            data["kek_passphrase"] = self.kek_passphrase
        if self.pkcs11_pin is not None:
            data["pkcs11_pin"] = self.pkcs11_pin
        return json.dumps(data).encode() + b"\n"


def read_secrets(fd: int) -> UnitSecrets:
    """Read the secrets line from ``fd`` (up to a newline or end of file) and close ``fd``."""
    chunks: list[bytes] = []
    size = 0
    try:
        while size <= MAX_SECRETS_SIZE:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if b"\n" in chunk:
                break
    except OSError as exc:
        raise UnitConfigError(f"cannot read the secrets from fd {fd}: {exc.strerror}") from exc
    finally:
        os.close(fd)
    return parse_secrets(b"".join(chunks))


def parse_secrets(raw: bytes) -> UnitSecrets:
    """Parse the secrets line; :class:`UnitConfigError` when it is missing or malformed."""
    if len(raw) > MAX_SECRETS_SIZE:
        raise UnitConfigError("the secrets line is too long")
    try:
        data = json.loads(raw.split(b"\n", 1)[0])
        auth_key = bytes.fromhex(data["auth_key"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UnitConfigError("no valid secrets line on the secret channel") from exc
    if len(auth_key) != AUTH_KEY_SIZE:
        raise UnitConfigError(f"auth_key must be {AUTH_KEY_SIZE} bytes")
    passphrase, pin = data.get("kek_passphrase"), data.get("pkcs11_pin")
    if not isinstance(passphrase, str | None) or not isinstance(pin, str | None):
        raise UnitConfigError("kek_passphrase and pkcs11_pin must be strings")
    return UnitSecrets(auth_key=auth_key, kek_passphrase=passphrase, pkcs11_pin=pin)
