"""Device secrets at rest: KExp15 under keys bound to the server secret and the device id."""

from __future__ import annotations

import os
import uuid

import pytest

from actors.sessions.errors import DeviceSecretError
from actors.sessions.sealing import SecretSealer


def test_round_trip_and_size() -> None:
    sealer = SecretSealer(os.urandom(32))
    device_id, secret = uuid.uuid4(), os.urandom(32)
    sealed = sealer.seal(device_id, secret)
    assert len(sealed) == 1 + 8 + 32 + 16
    assert secret not in sealed
    assert sealer.open(device_id, sealed) == secret
    assert sealer.seal(device_id, secret) != sealed, "a fresh IV every time"


@pytest.mark.parametrize("mismatch", ["device", "server", "tamper", "version"])
def test_what_does_not_open(mismatch: str) -> None:
    root = os.urandom(32)
    device_id, secret = uuid.uuid4(), os.urandom(32)
    sealed = SecretSealer(root).seal(device_id, secret)
    sealer = SecretSealer(root)
    if mismatch == "device":
        device_id = uuid.uuid4()
    elif mismatch == "server":
        sealer = SecretSealer(os.urandom(32))
    elif mismatch == "tamper":
        sealed = sealed[:-1] + bytes([sealed[-1] ^ 1])
    else:
        sealed = b"\x02" + sealed[1:]
    with pytest.raises(DeviceSecretError):
        sealer.open(device_id, sealed)


def test_short_server_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        SecretSealer(b"x" * 31)
    assert "hidden" in repr(SecretSealer(os.urandom(32)))
