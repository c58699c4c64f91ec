"""The argument parser of ``klyuch gost`` and parsers of option values.

Options are spelled the openssl way (``-in``, ``-out``, ``-key``): argparse takes multi-letter
single-dash options as long as abbreviations are off, so ``-in`` never swallows ``-inkey``.
"""

from __future__ import annotations

import argparse
import binascii
from typing import NoReturn, TypeAlias

from edge.gost_cli.errors import UsageError


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that raises :class:`UsageError` instead of printing usage and exiting."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> NoReturn:
        """Turn argparse's complaint into one line: ``<prog>: <message>``."""
        raise UsageError(f"{self.prog.removeprefix('klyuch gost ')}: {message}")


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


def parse_hex(value: str, what: str, *, size: int | None = None) -> bytes:
    """Decode a hex argument (spaces and colons allowed); ``size`` is the required length in bytes."""
    text = value.strip().replace(":", "").replace(" ", "")
    if text.lower().startswith("0x"):
        text = text[2:]
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise UsageError(f"{what} is not a hex string") from None
    if size is not None and len(raw) != size:
        raise UsageError(f"{what} must be {size} bytes ({2 * size} hex digits), got {len(raw)}")
    return raw


def looks_like_hex(data: bytes) -> bool:
    """True when ``data`` is hex text (with optional surrounding whitespace)."""
    try:
        binascii.unhexlify(data.strip())
    except (binascii.Error, ValueError):
        return False
    return bool(data.strip())


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
