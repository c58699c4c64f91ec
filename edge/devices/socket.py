"""``GET /api/v1/devices/ws``: the device websocket (protocol in ``edge.devices.wire``).

One ``DeviceChannel`` per socket:

1. handshake, bounded by ``auth_timeout_s``: ``hello`` → ``challenge`` → ``auth`` → ``authenticated``
   (``DeviceDirectory.challenge`` / ``authenticate``); any failure is told as a typed error and the
   socket closes;
2. the connection is handed to the user's UserSession (``SessionHub.attach``), then three tasks run
   until one ends: the reader (size limit, idle timeout, parsing; decisions go to the session), the
   writer (the session's outbox → JSON; when the session closes the outbox, the close reason is sent
   and the socket closed) and the pinger;
3. ``finally``: the session is told the socket ended.

This is not behind the bearer guard (that guards HTTP requests): devices authenticate by HMAC.
Nonces and MACs are never logged.
"""

from __future__ import annotations

from typing import Any

import structlog
import trio
from pydantic import ValidationError
from quart import Blueprint, websocket

from actors.errors import ActorStoppedError
from actors.runtime import ActorRef
from actors.sessions import Authenticated, Challenged, DeviceConnection, Outgoing, SessionHub
from actors.sessions.crypto import new_nonce
from actors.sessions.errors import (
    AuthTimeoutError,
    BadMessageError,
    DeviceChannelError,
    GoingAwayError,
    IdleTimeoutError,
    MessageTooLargeError,
)
from actors.sessions.messages import DecisionReceived
from edge.devices import wire
from edge.devices.context import get_hub

blueprint = Blueprint("device_socket", __name__, url_prefix="/api/v1")
log = structlog.get_logger("edge.devices")

CLOSE_GRACE_S = 2.0
"""Longest time spent telling a device why it is being closed."""


@blueprint.websocket("/devices/ws")
async def device_socket() -> None:
    """Serve one device connection."""
    hub = get_hub()
    # The proxy resolves per task context; the channel's tasks get the object itself.
    await DeviceChannel(websocket._get_current_object(), hub).run()  # type: ignore[attr-defined]


class _Closed(Exception):
    """The socket is gone (the peer left, or we closed it)."""


class DeviceChannel:
    """One device socket from handshake to close."""

    def __init__(self, ws: Any, hub: SessionHub) -> None:
        self._ws = ws
        self._hub = hub
        self._options = hub.options
        self._send_lock = trio.Lock()
        self._closed = False

    async def run(self) -> None:
        """Handshake, then serve until either side ends the connection."""
        await self._ws.accept()
        try:
            device = await self._handshake()
        except DeviceChannelError as exc:
            await self._close(exc, default_code=1008)  # nothing is tolerated before authentication
            return
        except _Closed:
            return
        conn, outbox = self._hub.open_connection(device)
        structlog.contextvars.bind_contextvars(device_id=str(conn.device_id), user_id=str(conn.user_id))
        try:
            session = await self._hub.attach(conn)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._write, conn, outbox, nursery.cancel_scope)
                nursery.start_soon(self._ping)
                await self._read(conn, session)
        finally:
            self._hub.detach(conn)
            with trio.CancelScope(shield=True), trio.move_on_after(CLOSE_GRACE_S):
                await self._hub.devices.disconnected(conn.device_id)

    # -- handshake ---------------------------------------------------------------------------------

    async def _handshake(self) -> Authenticated:
        with trio.move_on_after(self._options.auth_timeout_s):
            hello = await self._expect(wire.Hello, "hello")
            device: Challenged = await self._hub.devices.challenge(hello.device_id)
            server_nonce = new_nonce()
            await self._send(wire.challenge(server_nonce))
            answer = await self._expect(wire.Auth, "auth")
            authenticated = await self._hub.devices.authenticate(
                device,
                server_nonce=server_nonce,
                client_nonce=bytes.fromhex(answer.client_nonce),
                mac=bytes.fromhex(answer.mac),
            )
            await self._send(
                wire.authenticated(
                    authenticated.device_id,
                    authenticated.user_id,
                    authenticated.server_proof,
                    self._options.ping_interval_s,
                )
            )
            return authenticated
        raise AuthTimeoutError("hello and auth must arrive within the authentication timeout")

    async def _expect(self, kind: type[wire.Hello] | type[wire.Auth], name: str) -> Any:
        message = wire_parse(await self._receive())
        if not isinstance(message, kind):
            raise BadMessageError(f"expected a {name} message, got {message.type}")
        return message

    # -- serving -----------------------------------------------------------------------------------

    async def _read(self, conn: DeviceConnection, session: ActorRef) -> None:
        """Serve incoming messages until the connection must end; its reason goes to the writer."""
        try:
            while True:
                with trio.move_on_after(self._options.idle_timeout_s):
                    try:
                        text = await self._receive()
                        stop = await self._dispatch(conn, session, text)
                    except DeviceChannelError as exc:
                        if exc.close_code is not None:
                            stop = exc
                        else:
                            await self._send(wire.error(exc))
                            stop = None
                    if stop is not None:
                        conn.close(stop)
                        return
                    continue
                conn.close(IdleTimeoutError("nothing received within the idle timeout"))
                return
        except _Closed:
            return

    async def _dispatch(
        self, conn: DeviceConnection, session: ActorRef, text: str
    ) -> DeviceChannelError | None:
        message = wire_parse(text)
        match message:
            case wire.DecisionMessage():
                received = DecisionReceived(
                    conn.device_id,
                    conn.conn_id,
                    message.op_id,
                    message.decision,
                    bytes.fromhex(message.nonce),
                    bytes.fromhex(message.mac),
                )
                try:
                    await session.send(received)  # a flooding device waits for its own session
                except ActorStoppedError:
                    return GoingAwayError("the session ended; reconnect")
            case wire.Ping():
                await self._send({"type": "pong"})
            case wire.Pong():
                pass
            case _:
                await self._send(wire.error(BadMessageError(f"{message.type} is not expected now")))
        return None

    async def _write(
        self,
        conn: DeviceConnection,
        outbox: trio.MemoryReceiveChannel[Outgoing],
        scope: trio.CancelScope,
    ) -> None:
        try:
            async with outbox:
                async for item in outbox:
                    await self._send(wire.outgoing(item))
            await self._close(conn.close_reason or GoingAwayError("the connection ended"))
        except _Closed:
            pass
        scope.cancel()

    async def _ping(self) -> None:
        while True:
            await trio.sleep(self._options.ping_interval_s)
            try:
                await self._send({"type": "ping"})
            except _Closed:
                return

    # -- socket I/O --------------------------------------------------------------------------------

    async def _receive(self) -> str:
        data = await self._ws.receive()
        if isinstance(data, bytes):
            raise BadMessageError("messages are JSON text, not binary")
        # A character is at most 4 bytes in UTF-8: count bytes only when it could matter.
        limit = self._options.max_message_bytes
        if len(data) * 4 > limit and len(data.encode()) > limit:
            raise MessageTooLargeError(f"messages are limited to {limit} bytes")
        return str(data)

    async def _send(self, message: dict[str, Any]) -> None:
        if self._closed:
            raise _Closed
        async with self._send_lock:
            try:
                await self._ws.send(wire.dumps(message))
            except Exception as exc:  # the ASGI server refuses sends on a closed socket
                self._closed = True
                raise _Closed from exc

    async def _close(self, reason: DeviceChannelError, *, default_code: int = 1000) -> None:
        if self._closed:
            return
        code = reason.close_code or default_code
        log.info("device_socket_closed", code=code, reason=reason.code)
        with trio.move_on_after(CLOSE_GRACE_S):
            try:
                await self._send(wire.error(reason))
                async with self._send_lock:
                    await self._ws.close(code, reason.code)
            except Exception:  # the peer may be gone already: closing is best effort
                pass
        self._closed = True


def wire_parse(text: str) -> wire.Hello | wire.Auth | wire.DecisionMessage | wire.Ping | wire.Pong:
    """Parse a device message; ``BadMessageError`` naming the first problem."""
    try:
        return wire.parse_client(text)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "(message)"
        raise BadMessageError(f"{where}: {first['msg']}") from None
