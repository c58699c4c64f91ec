"""``DeviceDirectory``: enrolment, authentication and revocation of devices (database + sealing + audit).

Every change that other workers must hear about is written together with its NOTIFY in one unit of
work: an authentication (older connections of the device elsewhere close) and a revocation (its
connection closes wherever it is).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from uuid import UUID

from actors.identity.audit import audit
from actors.sessions import signals
from actors.sessions.crypto import (
    MAC_BYTES,
    NONCE_BYTES,
    DeviceKeys,
    auth_mac,
    macs_equal,
    new_secret,
    server_proof,
)
from actors.sessions.errors import (
    AuthFailedError,
    DeviceRevokedError,
    DeviceSecretError,
    EnrolmentClosedError,
    UnknownDeviceError,
)
from actors.sessions.sealing import SecretSealer
from storage import Database
from storage.database import Connection
from storage.repos import devices as repo
from storage.repos.devices import DeviceRow, DeviceSecretRow, DeviceStatus


@dataclass(frozen=True, slots=True)
class Enrolment:
    """A new device and its secret (to be shown once, in the QR code)."""

    device: DeviceRow
    """The pending device."""
    secret: bytes = field(repr=False)
    """The device secret S."""


@dataclass(frozen=True, slots=True)
class Challenged:
    """A device that said hello: who it is and its keys (kept only for the handshake)."""

    device_id: UUID
    """The device."""
    user_id: UUID
    """Its owner."""
    keys: DeviceKeys = field(repr=False)
    """K_auth and K_confirm."""


@dataclass(frozen=True, slots=True)
class Authenticated:
    """A device that proved its key."""

    device_id: UUID
    """The device."""
    user_id: UUID
    """Its owner."""
    keys: DeviceKeys = field(repr=False)
    """K_auth and K_confirm."""
    counter: int
    """Its authentication counter now (this connection's rank)."""
    server_proof: bytes = field(repr=False)
    """HMAC the device checks to know it talks to its server."""


class DeviceDirectory:
    """Devices of every user, as the REST API and the websocket need them."""

    def __init__(self, *, db: Database, sealer: SecretSealer, node_id: UUID) -> None:
        self._db = db
        self._sealer = sealer
        self._node_id = node_id

    # -- REST --------------------------------------------------------------------------------------

    async def enrol(self, user_id: UUID, name: str) -> Enrolment:
        """Create a pending device for ``user_id`` with a fresh secret."""
        device_id = uuid.uuid4()
        secret = new_secret()
        sealed = self._sealer.seal(device_id, secret)
        device = await self._db.run(repo.insert_device, device_id, user_id, name, sealed)
        audit("audit_device_enrolled", user_id=str(user_id), device_id=str(device_id))
        return Enrolment(device, secret)

    async def get(self, device_id: UUID) -> DeviceRow:
        """One device; ``storage.errors.NotFoundError`` when unknown."""
        return await self._db.run_readonly(repo.get_device, device_id)

    async def list(self, user_id: UUID) -> list[DeviceRow]:
        """The devices of ``user_id``."""
        return await self._db.run_readonly(repo.list_devices, user_id)

    async def enrolment_secret(self, device_id: UUID) -> tuple[DeviceRow, bytes]:
        """The secret of a pending device (to draw its QR code again); ``EnrolmentClosedError`` after."""
        device, row = await self._db.run_readonly(_enrolment_unit, device_id)
        if row is None or row.status is not DeviceStatus.PENDING:
            raise EnrolmentClosedError("the enrolment code is shown only until the device first connects")
        return device, self._sealer.open(device_id, row.secret_sealed)

    async def revoke(self, device_id: UUID, *, by: UUID | None) -> DeviceRow:
        """Revoke a device and close its live connection wherever it is."""
        device = await self._db.run(_revoke_unit, device_id)
        audit(
            "audit_device_revoked",
            user_id=str(device.user_id),
            device_id=str(device_id),
            by=None if by is None else str(by),
        )
        return device

    # -- websocket ---------------------------------------------------------------------------------

    async def challenge(self, device_id: UUID) -> Challenged:
        """Look a device up for its handshake; ``UnknownDeviceError`` / ``DeviceRevokedError``."""
        row = await self._db.run_readonly(repo.get_device_secret, device_id)
        if row is None:
            audit("audit_device_auth_failed", device_id=str(device_id), reason=UnknownDeviceError.code)
            raise UnknownDeviceError("no such device")
        if row.status is DeviceStatus.REVOKED:
            audit(
                "audit_device_auth_failed",
                device_id=str(device_id),
                user_id=str(row.user_id),
                reason=DeviceRevokedError.code,
            )
            raise DeviceRevokedError("the device was revoked")
        try:
            secret = self._sealer.open(device_id, row.secret_sealed)
        except DeviceSecretError:
            audit(
                "audit_device_auth_failed",
                device_id=str(device_id),
                user_id=str(row.user_id),
                reason=DeviceSecretError.code,
            )
            raise
        return Challenged(device_id, row.user_id, DeviceKeys.derive(device_id, secret))

    async def authenticate(
        self, device: Challenged, *, server_nonce: bytes, client_nonce: bytes, mac: bytes
    ) -> Authenticated:
        """Check the device's answer to ``server_nonce``; count the authentication and announce it."""
        fields = {"device_id": str(device.device_id), "user_id": str(device.user_id)}
        if len(client_nonce) != NONCE_BYTES or len(mac) != MAC_BYTES:
            audit("audit_device_auth_failed", reason=AuthFailedError.code, **fields)
            raise AuthFailedError(f"client_nonce and mac must be {NONCE_BYTES} and {MAC_BYTES} bytes")
        if not macs_equal(auth_mac(device.keys, server_nonce, client_nonce), mac):
            audit("audit_device_auth_failed", reason=AuthFailedError.code, **fields)
            raise AuthFailedError("the authentication MAC does not verify")
        counter = await self._db.run(_authenticated_unit, device.device_id, device.user_id, self._node_id)
        if counter is None:  # revoked between hello and auth
            audit("audit_device_auth_failed", reason=DeviceRevokedError.code, **fields)
            raise DeviceRevokedError("the device was revoked")
        audit("audit_device_authenticated", counter=counter, **fields)
        proof = server_proof(device.keys, server_nonce, client_nonce)
        return Authenticated(device.device_id, device.user_id, device.keys, counter, proof)

    async def disconnected(self, device_id: UUID) -> None:
        """Record the end of a connection (``last_seen_at``)."""
        await self._db.run(repo.touch_device, device_id)


async def _enrolment_unit(conn: Connection, device_id: UUID) -> tuple[DeviceRow, DeviceSecretRow | None]:
    return await repo.get_device(conn, device_id), await repo.get_device_secret(conn, device_id)


async def _authenticated_unit(conn: Connection, device_id: UUID, user_id: UUID, node_id: UUID) -> int | None:
    counter = await repo.record_authentication(conn, device_id)
    if counter is not None:
        signal = signals.Authenticated(device_id, user_id, counter, node_id)
        await repo.notify(conn, signals.SHARED_CHANNEL, signals.encode(signal))
    return counter


async def _revoke_unit(conn: Connection, device_id: UUID) -> DeviceRow:
    device = await repo.revoke_device(conn, device_id)
    signal = signals.Revoked(device.id, device.user_id)
    await repo.notify(conn, signals.SHARED_CHANNEL, signals.encode(signal))
    return device
