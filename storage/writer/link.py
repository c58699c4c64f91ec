"""The worker's side of the writer process: spawn, supervise, send groups, match replies.

::

    async with open_writer(dsn, settings) as link:    # spawns the process in the background
        await link.wait_up()                            # optional: groups go in process until then
        statuses = await link.apply("insert_finished", wires)

``open_writer`` runs a supervisor task for as long as the block lasts: it spawns ``python -m
storage.writer`` with one end of a socket pair, hands it the settings (the DSN included) in the
first frame, reads replies and, when the process dies or stops answering, fails the groups in flight
with ``WriterUnavailableError``, kills it, and starts another after a growing pause (0.1 s up to
``RESTART_MAX_S``). ``Database`` answers that error by applying the group in process, so a dead,
wedged or not yet started writer costs speed, never a request.

A group that gets no reply within ``StorageSettings.writer_reply_timeout_s`` marks the writer wedged:
it is killed, like one that died. Groups whose frame would exceed ``writer_max_frame_bytes`` are
refused at once (applied in process).

The process is spawned synchronously from the trio thread: it asks for SIGTERM when its parent
*thread* dies, and trio's thread lives as long as the worker (see ``actors.hsm.launcher``).
"""

from __future__ import annotations

import itertools
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import structlog
import trio

from config.processes import child_environment, reaped
from config.settings import StorageSettings
from storage.offload import Status, Wire
from storage.writer import frames
from storage.writer.errors import WriterProtocolError, WriterUnavailableError

log = structlog.get_logger("klyuch.storage.writer")

RESTART_MIN_S: Final = 0.1
RESTART_MAX_S: Final = 10.0
HEALTHY_AFTER_S: Final = 30.0
"""A writer that ran this long restarts after the shortest pause again."""
STOP_GRACE_S: Final = 5.0
REPLY_MAX_FRAME: Final = 16 << 20
"""Replies hold one short status per wire."""
START_REPLY_MAX: Final = 4096


@dataclass(eq=False)
class _Call:
    """One group waiting for its reply."""

    done: trio.Event = field(default_factory=trio.Event)
    reply: Any = None
    error: WriterUnavailableError | None = None


@dataclass(eq=False)
class _Connection:
    """A running writer process and the worker's end of its socket."""

    process: subprocess.Popen[bytes]
    stream: trio.SocketStream
    send_lock: trio.Lock = field(default_factory=trio.Lock)
    pending: dict[int, _Call] = field(default_factory=dict)
    broken: trio.Event = field(default_factory=trio.Event)
    """Set when the worker gives up on this process (it is then killed and replaced)."""

    def fail_all(self, reason: str) -> None:
        """Wake every waiting group with ``WriterUnavailableError``."""
        calls, self.pending = self.pending, {}
        for call in calls.values():
            call.error = WriterUnavailableError(reason)
            call.done.set()


class WriterLink:
    """Sends groups to the current writer process; ``WriterUnavailableError`` when there is none."""

    def __init__(self, dsn: str, settings: StorageSettings, *, log_level: str, log_format: str) -> None:
        self._dsn = dsn
        self._settings = settings
        self._log_level = log_level
        self._log_format = log_format
        self._connection: _Connection | None = None
        self._changed = trio.Event()
        self._ids = itertools.count(1)
        self.starts = 0
        """Processes started so far (tests and metrics: restarts are ``starts - 1``)."""

    @property
    def up(self) -> bool:
        """True while a writer process is connected."""
        return self._connection is not None

    @property
    def pid(self) -> int | None:
        """The current writer's pid (None when there is none)."""
        return None if self._connection is None else self._connection.process.pid

    async def apply(self, unit: str, wires: Sequence[Wire]) -> list[Status]:
        """Have the writer apply ``wires`` with ``unit``; one status per wire (``storage.offload``)."""
        connection = self._connection
        if connection is None:
            raise WriterUnavailableError("no writer process is running")
        request_id = next(self._ids) % frames.MAX_REQUEST_ID + 1  # never START_ID (0)
        frame = frames.pack(request_id, (unit, list(wires)))
        if len(frame) - frames.LENGTH.size > self._settings.writer_max_frame_bytes:
            raise WriterUnavailableError("the group is larger than writer_max_frame_bytes")
        call = connection.pending[request_id] = _Call()
        try:
            async with connection.send_lock:
                await connection.stream.send_all(frame)
            with trio.move_on_after(self._settings.writer_reply_timeout_s):
                await call.done.wait()
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            connection.broken.set()
            raise WriterUnavailableError("the writer's socket is closed") from exc
        finally:
            connection.pending.pop(request_id, None)
        if call.error is not None:
            raise call.error
        if not call.done.is_set():
            connection.broken.set()
            raise WriterUnavailableError("the writer did not answer in time; it is replaced")
        return _statuses(call.reply, len(wires))

    async def wait_up(self) -> None:
        """Wait until a writer process is connected (bound it with a timeout)."""
        while self._connection is None:
            await self._changed.wait()

    async def supervise(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Keep a writer process running (started at once: groups go to the worker until it is up)."""
        task_status.started()
        pause = RESTART_MIN_S
        while True:
            started_at = trio.current_time()
            try:
                connection = await self._start()
            except (OSError, WriterUnavailableError, trio.TooSlowError) as exc:
                log.warning("storage_writer_start_failed", error=str(exc), retry_in_s=pause)
            else:
                self._set(connection)
                reason = await self._serve(connection)
                log.warning("storage_writer_down", reason=reason, pid=connection.process.pid)
            if trio.current_time() - started_at > HEALTHY_AFTER_S:
                pause = RESTART_MIN_S
            await trio.sleep(pause)
            pause = min(pause * 2, RESTART_MAX_S)

    def _set(self, connection: _Connection | None) -> None:
        self._connection = connection
        self._changed.set()
        self._changed = trio.Event()

    async def _start(self) -> _Connection:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            process = subprocess.Popen(  # noqa: ASYNC220 - from the trio thread on purpose (module docstring)
                [
                    sys.executable,
                    "-m",
                    "storage.writer",
                    "--fd",
                    str(theirs.fileno()),
                    "--log-level",
                    self._log_level,
                    "--log-format",
                    self._log_format,
                ],
                pass_fds=(theirs.fileno(),),
                env=child_environment(),
                stdin=subprocess.DEVNULL,
                close_fds=True,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.starts += 1
        stream = trio.SocketStream(trio.socket.from_stdlib_socket(ours))
        connection = _Connection(process, stream)
        try:
            with trio.fail_after(self._settings.writer_start_timeout_s):
                await stream.send_all(frames.pack(frames.START_ID, self._start_settings()))
                request_id, reply = await _FrameReader(stream, START_REPLY_MAX).next()
        except BaseException:
            await _stop(connection)
            raise
        if request_id != frames.START_ID or not (isinstance(reply, tuple) and reply and reply[0] == "READY"):
            await _stop(connection)
            raise WriterUnavailableError(f"the writer did not start: {reply!r:.300}")
        log.info("storage_writer_started", pid=process.pid)
        return connection

    def _start_settings(self) -> dict[str, Any]:
        settings = self._settings
        return {
            "dsn": self._dsn,
            "connections": settings.group_commit_flows,
            "connect_timeout_s": settings.connect_timeout_s,
            "command_timeout_s": settings.command_timeout_s,
            "max_frame": settings.writer_max_frame_bytes,
        }

    async def _serve(self, connection: _Connection) -> str:
        """Route replies until the process goes or is given up; why it went."""
        reason = "stopped"
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_cancel_when_broken, connection, nursery.cancel_scope)
                reason = await _route_replies(connection)
                nursery.cancel_scope.cancel()
        finally:
            if connection.broken.is_set():
                reason = "wedged or unreachable"
                connection.process.kill()  # a stopped process would not see its socket close
            self._set(None)
            connection.fail_all(f"the writer process is gone ({reason})")
            await _stop(connection)
        return reason


async def _cancel_when_broken(connection: _Connection, scope: trio.CancelScope) -> None:
    await connection.broken.wait()
    scope.cancel()


async def _route_replies(connection: _Connection) -> str:
    """Hand each reply to its waiting group until the stream ends; why it ended."""
    reader = _FrameReader(connection.stream, REPLY_MAX_FRAME)
    try:
        while True:
            request_id, reply = await reader.next()
            call = connection.pending.get(request_id)
            if call is not None:  # else: its caller gave up already
                call.reply = reply
                call.done.set()
    except WriterUnavailableError as exc:
        return str(exc)
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
        return f"socket error: {exc}"


class _FrameReader:
    """Reads whole frames from a trio stream."""

    def __init__(self, stream: trio.SocketStream, max_frame: int) -> None:
        self._stream = stream
        self._max_frame = max_frame
        self._buffer = bytearray()

    async def next(self) -> tuple[int, Any]:
        """The next (request id, body); ``WriterUnavailableError`` at end of stream."""
        await self._fill(frames.HEADER.size)
        length, request_id = frames.HEADER.unpack_from(self._buffer)
        size = frames.body_length(length, self._max_frame)
        await self._fill(frames.HEADER.size + size)
        body = frames.load(memoryview(self._buffer)[frames.HEADER.size : frames.HEADER.size + size])
        del self._buffer[: frames.HEADER.size + size]
        return request_id, body

    async def _fill(self, size: int) -> None:
        while len(self._buffer) < size:
            chunk = await self._stream.receive_some(max(65536, size - len(self._buffer)))
            if not chunk:
                raise WriterUnavailableError("the writer closed its socket")
            self._buffer += chunk


def _statuses(reply: Any, count: int) -> list[Status]:
    if isinstance(reply, tuple) and len(reply) == 2 and reply[0] == "refused":
        raise WriterProtocolError(f"the writer refused the group: {reply[1]}")
    if not (isinstance(reply, tuple) and len(reply) == 2 and reply[0] == "ok" and isinstance(reply[1], list)):
        raise WriterProtocolError("malformed reply")
    statuses: list[Status] = reply[1]
    if len(statuses) != count:
        raise WriterProtocolError(f"{len(statuses)} statuses for {count} wires")
    return statuses


async def _stop(connection: _Connection) -> None:
    """Close the socket (the writer finishes what it has and exits), then make sure it has gone."""
    with trio.CancelScope(shield=True):
        await connection.stream.aclose()
        with trio.move_on_after(STOP_GRACE_S):
            await reaped(connection.process)
            return
        connection.process.kill()
        await reaped(connection.process)


@asynccontextmanager
async def open_writer(
    dsn: str, settings: StorageSettings, *, log_level: str = "warning", log_format: str = "console"
) -> AsyncIterator[WriterLink]:
    """Run a supervised writer process for the block (yields at once; ``link.wait_up`` waits for it)."""
    link = WriterLink(dsn, settings, log_level=log_level, log_format=log_format)
    async with trio.open_nursery() as nursery:
        await nursery.start(link.supervise)
        try:
            yield link
        finally:
            nursery.cancel_scope.cancel()
