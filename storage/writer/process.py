"""The writer process: applies offloaded groups on its own connections (``python -m storage.writer``).

Started by its worker (``storage.writer.link``) with one end of a socket pair as ``--fd``: nobody
else can reach it, so there is no listening socket and no handshake. The first frame (request 0)
brings the settings, the DSN among them (never argv or the environment, which ``ps`` and
``/proc`` show); the writer connects and answers READY or FAILED. From then on each frame is one
group ``(unit name, wires)``, answered ``("ok", statuses)`` with one status per wire
(``storage.offload``), or ``("refused", reason)`` when the frame itself is wrong.

Groups run as ``storage.group.GroupExecutor`` runs them in a worker: one statement for all wires
on a kept connection; if that fails, each wire alone, so a bad wire fails alone. Frames are
handled concurrently, at most ``connections`` groups at once (the executor's pool bound).

The process ends when its worker closes the socket (or dies: ``PR_SET_PDEATHSIG``), after the
groups in flight are answered.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from typing import Any, Final

import asyncpg
import outcome
import structlog

from config.processes import die_with_parent
from storage.group import GroupExecutor
from storage.offload import Status, error_status
from storage.writer import frames
from storage.writer.errors import WriterProtocolError
from storage.writer.units import UNITS

log = structlog.get_logger("klyuch.storage.writer")

START_MAX_FRAME: Final = 64 * 1024
APPLICATION_NAME: Final = "klyuch-writer"


async def serve(sock: socket.socket) -> int:
    """Serve the worker on ``sock`` until it closes it; the exit status."""
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    try:
        start = await _read_start(reader)
        pool = await _open_pool(start)
    except Exception as exc:
        writer.write(frames.pack(frames.START_ID, ("FAILED", f"{type(exc).__name__}: {exc}"[:500])))
        with contextlib.suppress(OSError):
            await writer.drain()
        return 1
    executor = GroupExecutor(pool, timeout_s=float(start["command_timeout_s"]))
    writer.write(frames.pack(frames.START_ID, ("READY", os.getpid())))
    running: set[asyncio.Task[None]] = set()
    try:
        while True:
            try:
                request_id, body = await _read_frame(reader, int(start["max_frame"]))
            except (asyncio.IncompleteReadError, ConnectionError):
                return 0  # the worker closed its end (or died)
            task = asyncio.create_task(_answer(executor, writer, request_id, body))
            running.add(task)
            task.add_done_callback(running.discard)
    except WriterProtocolError as exc:
        log.error("storage_writer_protocol_error", reason=str(exc))
        return 2
    finally:
        if running:
            await asyncio.wait(running)
        await executor.close()
        await pool.close()


async def _read_start(reader: asyncio.StreamReader) -> dict[str, Any]:
    request_id, start = await _read_frame(reader, START_MAX_FRAME)
    if request_id != frames.START_ID or not isinstance(start, dict):
        raise WriterProtocolError("the first frame must be the start-up settings")
    return start


async def _open_pool(start: dict[str, Any]) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        str(start["dsn"]),
        min_size=1,
        # The executor keeps up to ``connections`` for groups; a failed group's wires run alone on others.
        max_size=2 * int(start["connections"]),
        timeout=float(start["connect_timeout_s"]),
        command_timeout=float(start["command_timeout_s"]),
        server_settings={"application_name": APPLICATION_NAME},
    )


async def _read_frame(reader: asyncio.StreamReader, max_frame: int) -> tuple[int, Any]:
    """The next frame as (request id, decoded body)."""
    length = frames.LENGTH.unpack(await reader.readexactly(frames.LENGTH.size))[0]
    size = frames.body_length(length, max_frame)
    request_id = int.from_bytes(await reader.readexactly(frames.ID_SIZE), "big")
    return request_id, frames.load(await reader.readexactly(size))


async def _answer(executor: GroupExecutor, writer: asyncio.StreamWriter, request_id: int, body: Any) -> None:
    try:
        name, wires = _group(body)
        apply = UNITS[name]
    except (WriterProtocolError, KeyError) as exc:
        reply: tuple[str, Any] = ("refused", f"{type(exc).__name__}: {exc}"[:500])
    else:
        outcomes = await executor.run_group([(apply, wire) for wire in wires])
        reply = ("ok", _statuses(outcomes))
    writer.write(frames.pack(request_id, reply))
    with contextlib.suppress(OSError):  # the worker went away: nothing left to tell
        await writer.drain()


def _group(body: Any) -> tuple[str, Sequence[Any]]:
    if not (isinstance(body, tuple) and len(body) == 2 and isinstance(body[0], str)):
        raise WriterProtocolError("a group frame is (unit name, wires)")
    if not isinstance(body[1], list | tuple):
        raise WriterProtocolError("the wires of a group are a list")
    return body[0], body[1]


def _statuses(outcomes: Sequence[outcome.Outcome[Any]]) -> list[Status]:
    return [error_status(result.error) if isinstance(result, outcome.Error) else None for result in outcomes]


def _configure_logging(level_name: str, fmt: str) -> None:
    level = getattr(logging, level_name.upper(), logging.INFO)
    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: ``python -m storage.writer --fd N [--log-level L] [--log-format F]``."""
    parser = argparse.ArgumentParser(prog="python -m storage.writer", description=__doc__.split("\n\n")[0])
    parser.add_argument("--fd", type=int, required=True, help="the inherited socket to the worker")
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--log-format", choices=("console", "json"), default="console")
    args = parser.parse_args(argv)
    _configure_logging(args.log_level, args.log_format)
    die_with_parent()  # with the worker's thread that spawned us
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's ^C is for the server: it closes us
    sock = socket.socket(fileno=args.fd)
    return asyncio.run(serve(sock))
