"""Devices at the edge: enrolment REST API and the device websocket.

Modules:
  rest      ``/api/v1/devices``: enrol (QR code), list, get, QR again while pending, revoke
  socket    ``/api/v1/devices/ws``: handshake, then the session's messages out and decisions in
  wire      the websocket protocol: message shapes (pydantic) and their JSON
  qr        the ``klyuch://enroll`` payload and its PNG / SVG QR code
  context   ``get_hub()``: the worker's ``SessionHub`` (``Services.sessions``)

The domain (keys, MACs, sessions, routing between workers) lives in ``actors.sessions``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from quart import Quart


def register(app: Quart) -> None:
    """Add the devices REST blueprint and the device websocket to ``app``; idempotent."""
    # Imported here so that the device client (edge.device_cli → edge.devices.qr) stays light.
    from edge.devices import rest, socket

    if rest.blueprint.name in app.blueprints:
        return
    app.register_blueprint(rest.blueprint)
    app.register_blueprint(socket.blueprint)
