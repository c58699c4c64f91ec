"""Reading inputs and writing outputs: files or standard streams, private keys with mode 0600."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Self

from edge.gost_cli.errors import InputError

CHUNK = 1 << 16
"""Read size for streamed inputs (digests, ciphers)."""


def _describe(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def read_file(path: str, what: str) -> bytes:
    """The whole content of ``path``; ``-`` is standard input."""
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {_describe(exc)}") from exc


def read_input(path: str | None, what: str = "input") -> bytes:
    """The whole of ``path``, or of standard input when it is ``None``."""
    return read_file(path or "-", what)


def iter_chunks(path: str | None, what: str = "input") -> Iterator[bytes]:
    """Stream ``path`` (standard input when ``None`` or ``-``) in :data:`CHUNK`-sized pieces."""
    if path is None or path == "-":
        yield from iter(lambda: sys.stdin.buffer.read(CHUNK), b"")
        return
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed in the finally below, across yields
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {_describe(exc)}") from exc
    try:
        while True:
            try:
                chunk = handle.read(CHUNK)
            except OSError as exc:
                raise InputError(f"cannot read {what} {path}: {_describe(exc)}") from exc
            if not chunk:
                return
            yield chunk
    finally:
        handle.close()


def write_output(path: str | None, data: bytes, *, private: bool = False) -> None:
    """Write ``data`` to ``path`` (standard output when ``None`` or ``-``).

    ``private`` files (keys) get mode 0600, also when they existed before.
    """
    if path is None or path == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    mode = 0o600 if private else 0o644
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        # Tighten an existing key file, but never a device such as /dev/null (root could chmod it).
        if private and stat.S_ISREG(os.fstat(fd).st_mode):
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {_describe(exc)}") from exc


class OutputStream:
    """A streamed binary output, file or stdout; use as a context manager.

    The file is opened at the first write; on success it is closed (an empty one is created when
    nothing was written), on an exception a partly written file is removed, so an output file is
    either complete or absent.
    """

    __slots__ = ("_handle", "_path")

    def __init__(self, path: str | None) -> None:
        self._path = None if path == "-" else path
        self._handle: BinaryIO | None = None

    def _file(self, path: str) -> BinaryIO:
        if self._handle is None:
            try:
                self._handle = open(path, "wb")  # noqa: SIM115 - closed in __exit__
            except OSError as exc:
                raise InputError(f"cannot write {path}: {_describe(exc)}") from exc
        return self._handle

    def write(self, data: bytes) -> None:
        """Append ``data``."""
        if self._path is None:
            sys.stdout.buffer.write(data)
            return
        try:
            self._file(self._path).write(data)
        except OSError as exc:
            raise InputError(f"cannot write {self._path}: {_describe(exc)}") from exc

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._path is None:
            sys.stdout.buffer.flush()
            return
        if exc_type is None:
            self._file(self._path).close()
        elif self._handle is not None:
            self._handle.close()
            Path(self._path).unlink(missing_ok=True)
