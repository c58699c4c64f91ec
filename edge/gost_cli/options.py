"""The argument parser of ``klyuch gost`` and parsers of option values.

Options are spelled the openssl way (``-in``, ``-out``, ``-key``): argparse takes multi-letter
single-dash options as long as abbreviations are off, so ``-in`` never swallows ``-inkey``.
"""

from __future__ import annotations

import argparse
from typing import NoReturn, TypeAlias

from edge.gost_cli.errors import UsageError


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that raises :class:`UsageError` instead of printing usage and exiting."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> NoReturn:
        """Turn argparse's complaint into one line, prefixed with the subcommand when there is one."""
        command = self.prog.split(maxsplit=2)[2:]
        raise UsageError(f"{command[0]}: {message}" if command else message)


Subparsers: TypeAlias = "argparse._SubParsersAction[Parser]"
"""What each command module's ``register`` adds its parsers to."""


def add_output(parser: argparse.ArgumentParser, *, what: str = "output") -> None:
    """``-o FILE`` / ``-out FILE`` (default: standard output)."""
    parser.add_argument(
        "-o", "-out", dest="out", metavar="FILE", help=f"write the {what} here (default: stdout)"
    )


def add_outform(parser: argparse.ArgumentParser) -> None:
    """``-outform PEM|DER``."""
    parser.add_argument(
        "-outform",
        type=str.upper,
        choices=("PEM", "DER"),
        default="PEM",
        help="encoding of the output (default: PEM)",
    )


def _unhex(value: str) -> bytes | None:
    text = value.strip().replace(":", "").replace(" ", "")
    if text.lower().startswith("0x"):
        text = text[2:]
    try:
        return bytes.fromhex(text) if text else None
    except ValueError:
        return None


def parse_hex(value: str, what: str, *, size: int | None = None) -> bytes:
    """Decode a hex argument (spaces, colons, ``0x`` allowed); ``size`` is the required byte length."""
    raw = _unhex(value)
    if raw is None:
        raise UsageError(f"{what} is not a hex string")
    if size is not None and len(raw) != size:
        raise UsageError(f"{what} must be {size} bytes ({2 * size} hex digits), got {len(raw)}")
    return raw


def looks_like_hex(data: str | bytes) -> bool:
    """True when ``data`` is non-empty hex text that :func:`parse_hex` reads."""
    if isinstance(data, bytes):
        try:
            data = data.decode("ascii")
        except UnicodeDecodeError:
            return False
    return _unhex(data) is not None


def parse_serial(value: str) -> int:
    """A certificate serial number: decimal, or hex with a ``0x`` prefix."""
    try:
        number = int(value, 16) if value.lower().startswith("0x") else int(value, 10)
    except ValueError:
        raise UsageError(f"serial number {value!r} is neither decimal nor 0x-hex") from None
    if number <= 0:
        raise UsageError("serial number must be positive")
    return number


def positive_int(value: str) -> int:
    """argparse ``type`` for a positive integer."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not positive")
    return number
