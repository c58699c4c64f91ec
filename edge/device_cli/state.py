"""The reference device's state file: server URL, device id and secret (JSON, mode 0600)."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

from actors.sessions.crypto import SECRET_BYTES, DeviceKeys
from edge.devices.qr import EnrolmentPayload

STATE_ENV = "KLYUCH_DEVICE_STATE"
"""Environment variable naming the state file when ``--state`` is not given."""


def default_state_path() -> Path:
    """``$KLYUCH_DEVICE_STATE``, else ``~/.config/klyuch/device.json``."""
    given = os.environ.get(STATE_ENV)
    if given:
        return Path(given)
    base = os.environ.get("XDG_CONFIG_HOME")
    return (Path(base) if base else Path.home() / ".config") / "klyuch" / "device.json"


@dataclass(frozen=True, slots=True)
class DeviceState:
    """What an enrolled device remembers."""

    server_url: str
    """Base URL of the server (``http(s)://host:port``)."""
    device_id: UUID
    """Its id."""
    secret: bytes = field(repr=False)
    """The device secret S (keys are derived from it)."""

    @classmethod
    def of(cls, payload: EnrolmentPayload) -> DeviceState:
        """The state an enrolment payload gives."""
        return cls(payload.server_url, payload.device_id, payload.secret)

    @property
    def keys(self) -> DeviceKeys:
        """K_auth and K_confirm."""
        return DeviceKeys.derive(self.device_id, self.secret)

    @property
    def websocket_url(self) -> str:
        """``ws(s)://host:port/api/v1/devices/ws``."""
        scheme, rest = self.server_url.split("://", 1)
        return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/api/v1/devices/ws"

    def save(self, path: Path) -> None:
        """Write the state readable by its owner only (atomic replace)."""
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        data = {
            "server_url": self.server_url,
            "device_id": str(self.device_id),
            "secret": base64.urlsafe_b64encode(self.secret).decode("ascii"),
        }
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(data, fh)
                fh.write("\n")
            os.chmod(temporary, 0o600)  # O_CREAT's mode does not apply to an existing file
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: Path) -> DeviceState:
        """Read a state file; ``ValueError`` when it is not one."""
        try:
            data = json.loads(path.read_text())
            secret = base64.urlsafe_b64decode(data["secret"])
            state = cls(str(data["server_url"]), UUID(data["device_id"]), secret)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path} is not a device state file ({exc})") from None
        if len(state.secret) != SECRET_BYTES:
            raise ValueError(f"{path}: the secret must be {SECRET_BYTES} bytes")
        return state
