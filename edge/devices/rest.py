"""``/api/v1/devices``: enrolment and management of a user's confirmation devices.

* ``POST /devices`` ``{"name"}`` — enrol a device: 201 with the device and its enrolment code (the
  ``klyuch://enroll`` payload, and the QR code as base64 PNG and SVG). The secret in it is shown
  only while the device is pending.
* ``GET /devices`` — the caller's devices.
* ``GET /devices/{id}`` — one (the owner's, or any for operators; someone else's answers 404).
* ``GET /devices/{id}/qr.png`` | ``qr.svg`` — the enrolment QR code again, while the device is
  pending (410 once it has connected).
* ``DELETE /devices/{id}`` — revoke: 204; its live socket closes (``device_revoked``).

Every answer carrying the secret has ``Cache-Control: no-store``.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, StringConstraints
from quart import Blueprint, Response, current_app, request
from quart_schema import tag, validate_request, validate_response

from actors.identity.errors import PermissionDeniedError
from actors.sessions.errors import EnrolmentClosedError
from config import Settings
from edge.auth import current_principal, ensure_owner
from edge.devices.context import get_hub
from edge.devices.qr import EnrolmentPayload, qr_png, qr_svg
from edge.problems import problem_response
from storage.repos.devices import DeviceRow, DeviceStatus

blueprint = Blueprint("devices", __name__, url_prefix="/api/v1")

DeviceName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class DeviceOut(BaseModel):
    """A device as the API shows it (never its secret)."""

    id: UUID
    user_id: UUID
    name: str
    status: DeviceStatus
    created_at: datetime
    last_seen_at: datetime | None
    activated_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: DeviceRow) -> DeviceOut:
        """The public view of a stored device."""
        return cls(
            id=row.id,
            user_id=row.user_id,
            name=row.name,
            status=row.status,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            activated_at=row.activated_at,
            revoked_at=row.revoked_at,
        )


class EnrolmentCode(BaseModel):
    """What the device scans; contains the device secret: show it once, keep it nowhere."""

    payload: str
    """``klyuch://enroll?u=...&d=...&k=...``"""
    qr_png_base64: str
    """The QR code as a PNG image, base64."""
    qr_svg_base64: str
    """The QR code as an SVG image, base64."""


class EnrolledDevice(BaseModel):
    """Answer to an enrolment."""

    device: DeviceOut
    enrolment: EnrolmentCode


class DeviceList(BaseModel):
    """The caller's devices, oldest first."""

    items: list[DeviceOut]


class DeviceCreate(BaseModel):
    """A device to enrol."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: DeviceName


def _server_url() -> str:
    """``server.public_url`` when configured, else the URL this request reached (behind a proxy,
    configure ``public_url``: the Host header is the client's word)."""
    settings: Settings | None = current_app.config.get("KLYUCH_SETTINGS")
    configured = None if settings is None else settings.server.public_url
    return (configured or request.host_url).rstrip("/")


def _owner_user_id() -> UUID:
    user_id = current_principal().user_id
    if user_id is None:
        raise PermissionDeniedError("devices belong to users; this token acts for an information system")
    return user_id


async def _own_device(device_id: UUID) -> DeviceRow:
    device = await get_hub().devices.get(device_id)
    ensure_owner(device.user_id, detail=f"device {device_id} not found")
    return device


@blueprint.post("/devices")
@tag(["devices"])
@validate_request(DeviceCreate)
@validate_response(EnrolledDevice, 201)
async def enrol_device(data: DeviceCreate) -> tuple[EnrolledDevice, int, dict[str, str]]:
    """Enrol a confirmation device for the caller; the answer holds its one-time QR code."""
    enrolment = await get_hub().devices.enrol(_owner_user_id(), data.name)
    payload = EnrolmentPayload(_server_url(), enrolment.device.id, enrolment.secret).encode()
    code = EnrolmentCode(
        payload=payload,
        qr_png_base64=base64.b64encode(qr_png(payload)).decode("ascii"),
        qr_svg_base64=base64.b64encode(qr_svg(payload)).decode("ascii"),
    )
    return EnrolledDevice(device=DeviceOut.of(enrolment.device), enrolment=code), 201, NO_STORE


@blueprint.get("/devices")
@tag(["devices"])
@validate_response(DeviceList)
async def list_devices() -> DeviceList:
    """The caller's devices (revoked ones included)."""
    rows = await get_hub().devices.list(_owner_user_id())
    return DeviceList(items=[DeviceOut.of(row) for row in rows])


@blueprint.get("/devices/<uuid:device_id>")
@tag(["devices"])
@validate_response(DeviceOut)
async def get_device(device_id: UUID) -> DeviceOut:
    """One device."""
    return DeviceOut.of(await _own_device(device_id))


@blueprint.get("/devices/<uuid:device_id>/qr.<any(png, svg):kind>")
@tag(["devices"])
async def device_qr(device_id: UUID, kind: str) -> Response:
    """The enrolment QR code of a pending device (410 once it has connected)."""
    await _own_device(device_id)
    try:
        device, secret = await get_hub().devices.enrolment_secret(device_id)
    except EnrolmentClosedError as exc:  # answered here: the problem table has no 410 row of its own
        return problem_response(410, "Enrolment closed", str(exc), code=exc.code)
    payload = EnrolmentPayload(_server_url(), device.id, secret).encode()
    if kind == "png":
        return Response(qr_png(payload), content_type="image/png", headers=NO_STORE)
    return Response(qr_svg(payload), content_type="image/svg+xml", headers=NO_STORE)


@blueprint.delete("/devices/<uuid:device_id>")
@tag(["devices"])
async def revoke_device(device_id: UUID) -> tuple[str, int]:
    """Revoke a device; its live connection closes."""
    await _own_device(device_id)
    await get_hub().devices.revoke(device_id, by=current_principal().user_id)
    return "", 204
