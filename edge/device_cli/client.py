"""``DeviceClient``: the device side of ``/api/v1/devices/ws``.

It plays the mobile app: authenticates (and checks the server's proof), receives operations, and
answers them with MACed decisions. The CLI, the tests and the benchmark all use it; the low-level
``send``/``receive`` let tests speak the protocol wrongly on purpose. ``ws://`` servers are reached
with the small client of :mod:`edge.device_cli.websocket` (the benchmark runs a thousand devices in
one process), ``wss://`` ones with trio-websocket (TLS).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from actors.sessions.codec import item_from_json
from actors.sessions.crypto import auth_mac, decision_mac, macs_equal, new_nonce, server_proof
from actors.sessions.protocol import Decision, NoticeItem
from edge.device_cli.state import DeviceState
from edge.device_cli.websocket import HandshakeError, open_websocket

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""Largest server message accepted (a batch of many documents makes a big ``operation``)."""


class MessageSocket(Protocol):
    """What the client needs of a websocket (both transports have it)."""

    async def send_message(self, message: str | bytes) -> None:
        """Send one message."""

    async def get_message(self) -> str | bytes:
        """The next message; ``ConnectionClosed`` once the connection ended."""


class DeviceProtocolError(Exception):
    """The server said something the protocol does not allow (or refused us: ``code``)."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        """The server's error code, when it sent one."""


@dataclass(frozen=True, slots=True)
class ShownOperation:
    """An ``operation`` message as the device holds it."""

    op_id: UUID
    """The operation."""
    items: tuple[NoticeItem, ...]
    """Its documents (the MAC covers their digests)."""
    nonce: bytes
    """This push's server nonce."""
    created_at: datetime
    """Creation time."""
    expires_at: datetime
    """Expiry."""

    @classmethod
    def parse(cls, message: dict[str, Any]) -> ShownOperation:
        """Read an ``operation`` message."""
        try:
            return cls(
                UUID(message["op_id"]),
                tuple(item_from_json(item) for item in message["items"]),
                bytes.fromhex(message["nonce"]),
                datetime.fromisoformat(message["created_at"]),
                datetime.fromisoformat(message["expires_at"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DeviceProtocolError(f"malformed operation message: {exc}") from None

    def summary(self) -> dict[str, Any]:
        """What a user sees (no nonce)."""
        return {
            "op_id": str(self.op_id),
            "expires_at": self.expires_at.isoformat(),
            "items": [
                {
                    "name": item.name,
                    "digest_hex": item.digest_hex,
                    "digest_algorithm": item.digest_algorithm,
                    "preview_text": item.preview_text,
                }
                for item in self.items
            ],
        }


class DeviceClient:
    """One connection of an enrolled device."""

    def __init__(self, ws: MessageSocket, state: DeviceState) -> None:
        self.ws = ws
        """The underlying websocket."""
        self.state = state
        """Who we are."""
        self.keys = state.keys
        """K_auth, K_confirm."""
        self.user_id: UUID | None = None
        """Set by :meth:`authenticate`."""
        self.ping_interval_s: float | None = None
        """The server's ping interval, set by :meth:`authenticate`."""

    @classmethod
    @asynccontextmanager
    async def connect(
        cls, state: DeviceState, *, authenticate: bool = True, timeout_s: float = 10.0
    ) -> AsyncIterator[DeviceClient]:
        """Open a connection (authenticated unless told not to); closed on exit.

        Raises ``OSError`` (no connection), ``trio.TooSlowError``, ``ConnectionClosed`` or
        ``DeviceProtocolError`` (the server refused the websocket or the authentication).
        """
        async with _open(state.websocket_url, timeout_s=timeout_s) as ws:
            client = cls(ws, state)
            if authenticate:
                with trio.fail_after(timeout_s):
                    await client.authenticate()
            yield client

    # -- raw messages ------------------------------------------------------------------------------

    async def send(self, message: dict[str, Any] | str) -> None:
        """Send a JSON object (or raw text)."""
        await self.ws.send_message(self.encode(message))

    async def receive_raw(self) -> dict[str, Any]:
        """The next message, whatever it is; ``ConnectionClosed`` when the server closed."""
        return self.parse(await self.ws.get_message())

    @staticmethod
    def encode(message: dict[str, Any] | str) -> str:
        """A message as the text sent (compact JSON; text is sent as it is)."""
        return message if isinstance(message, str) else json.dumps(message, separators=(",", ":"))

    @staticmethod
    def parse(data: str | bytes) -> dict[str, Any]:
        """A received text as a protocol message, a JSON object with a ``type`` (``ValueError``: no JSON)."""
        message = json.loads(data)
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise DeviceProtocolError("the server sent something that is not a protocol message")
        return message

    async def receive(self) -> dict[str, Any]:
        """The next message other than keepalives (pings are answered)."""
        while True:
            message = await self.receive_raw()
            if message["type"] == "ping":
                await self.send({"type": "pong"})
            elif message["type"] != "pong":
                return message

    # -- handshake ---------------------------------------------------------------------------------

    async def hello(self) -> bytes:
        """Send ``hello``; return the server nonce of the ``challenge``."""
        await self.send({"type": "hello", "device_id": str(self.state.device_id)})
        challenge = self._expect(await self.receive(), "challenge")
        return bytes.fromhex(challenge["nonce"])

    async def authenticate(self) -> None:
        """hello → challenge → auth → authenticated, checking the server's proof."""
        server_nonce = await self.hello()
        client_nonce = new_nonce()
        mac = auth_mac(self.keys, server_nonce, client_nonce)
        await self.send({"type": "auth", "client_nonce": client_nonce.hex(), "mac": mac.hex()})
        done = self._expect(await self.receive(), "authenticated")
        proof = bytes.fromhex(done["server_proof"])
        if not macs_equal(server_proof(self.keys, server_nonce, client_nonce), proof):
            raise DeviceProtocolError("the server's proof does not verify: not the server that enrolled us")
        self.user_id = UUID(done["user_id"])
        self.ping_interval_s = float(done["ping_interval_s"])

    @staticmethod
    def _expect(message: dict[str, Any], kind: str) -> dict[str, Any]:
        if message["type"] == "error":
            raise DeviceProtocolError(message.get("message", "refused"), code=message.get("code"))
        if message["type"] != kind:
            raise DeviceProtocolError(f"expected {kind}, got {message['type']}")
        return message

    # -- operations --------------------------------------------------------------------------------

    async def next_operation(self) -> ShownOperation:
        """Wait for the next ``operation`` message (other messages are skipped)."""
        while True:
            message = await self.receive()
            if message["type"] == "operation":
                return ShownOperation.parse(message)
            if message["type"] == "error":
                raise DeviceProtocolError(message.get("message", ""), code=message.get("code"))

    def decision_message(
        self, operation: ShownOperation, decision: Decision, *, nonce: bytes | None = None
    ) -> dict[str, Any]:
        """The ``decision`` message for ``operation`` (``nonce`` overrides the one to quote)."""
        quoted = operation.nonce if nonce is None else nonce
        mac = decision_mac(self.keys, operation.op_id, decision, quoted, operation.items)
        return {
            "type": "decision",
            "op_id": str(operation.op_id),
            "decision": decision.value,
            "nonce": quoted.hex(),
            "mac": mac.hex(),
        }

    async def decide(self, operation: ShownOperation, decision: Decision) -> dict[str, Any]:
        """Send a decision and return the server's answer (``outcome`` or ``error``) for it."""
        await self.send(self.decision_message(operation, decision))
        return await self.answer_for(operation.op_id)

    async def answer_for(self, op_id: UUID) -> dict[str, Any]:
        """The next ``outcome`` or ``error`` about ``op_id`` (other messages are skipped)."""
        while True:
            message = await self.receive()
            if message["type"] in ("outcome", "error") and message.get("op_id") == str(op_id):
                return message


@asynccontextmanager
async def _open(url: str, *, timeout_s: float) -> AsyncIterator[MessageSocket]:
    """A websocket to ``url``: the small client for ``ws://``, trio-websocket for ``wss://``."""
    if url.startswith("wss://"):
        async with open_websocket_url(
            url, max_message_size=MAX_MESSAGE_BYTES, connect_timeout=timeout_s, disconnect_timeout=timeout_s
        ) as secure:
            yield secure
        return
    try:
        async with open_websocket(
            url, connect_timeout=timeout_s, disconnect_timeout=timeout_s, max_message_bytes=MAX_MESSAGE_BYTES
        ) as plain:
            yield plain
    except HandshakeError as exc:  # raised before the yield only
        raise DeviceProtocolError(str(exc), code=f"http_{exc.status}" if exc.status else None) from exc


__all__ = ["ConnectionClosed", "DeviceClient", "DeviceProtocolError", "ShownOperation"]
