"""``dgst``: Streebog digests and HMACs of files, printed the way ``openssl dgst`` prints them."""

from __future__ import annotations

import argparse
from typing import Protocol

from edge.gost_cli.errors import UsageError
from edge.gost_cli.files import OutputStream, iter_chunks, read_file
from edge.gost_cli.keyspec import resolve_digest
from edge.gost_cli.options import Subparsers, add_output, parse_hex
from signing.algorithms import DigestAlgorithm
from signing.gost import new_hmac

DIGEST_FLAGS = ("md_gost12_256", "md_gost12_512", "streebog256", "streebog512")
"""Digests that also have an openssl-style flag of their own (``-md_gost12_256``)."""


class _Hash(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def digest(self) -> bytes: ...


def register(sub: Subparsers) -> None:
    """Add ``dgst``."""
    dgst = sub.add_parser(
        "dgst",
        help="digest or HMAC files (Streebog by default)",
        description="Print the digest (or HMAC) of each FILE, or of standard input.",
    )
    dgst.add_argument("files", nargs="*", metavar="FILE", help="input files (default: stdin)")
    dgst.add_argument(
        "-md", default="streebog256", metavar="NAME", help="streebog256 (default), streebog512, sha256..."
    )
    for name in DIGEST_FLAGS:
        dgst.add_argument(f"-{name}", dest="md", action="store_const", const=name, help=f"same as -md {name}")
    key = dgst.add_mutually_exclusive_group()
    key.add_argument(
        "-hmac",
        metavar="KEY_HEX",
        help="HMAC with this key, in hex (openssl spells it -mac hmac -macopt hexkey:KEY_HEX)",
    )
    key.add_argument("-hmac-file", dest="hmac_file", metavar="FILE", help="HMAC keyed with the bytes of FILE")
    form = dgst.add_mutually_exclusive_group()
    form.add_argument("-binary", action="store_true", help="write the raw digest bytes")
    form.add_argument("-r", dest="coreutils", action="store_true", help="print 'HEX *FILE' (sha256sum style)")
    form.add_argument("-hex", action="store_true", help="print 'NAME(FILE)= HEX' (the default)")
    add_output(dgst)
    dgst.set_defaults(handler=run)


def _hmac_key(args: argparse.Namespace, digest: DigestAlgorithm) -> bytes | None:
    if args.hmac is not None:
        key = parse_hex(args.hmac, "-hmac key")
    elif args.hmac_file is not None:
        key = read_file(args.hmac_file, "HMAC key")
    else:
        return None
    if not digest.hashlib_name.startswith("md_gost"):
        raise UsageError("-hmac works with Streebog digests only")
    return key


def _new_hash(digest: DigestAlgorithm, key: bytes | None) -> _Hash:
    if key is not None:
        return new_hmac(key, size=digest.size)
    hasher: _Hash = digest.new()
    return hasher


def run(args: argparse.Namespace) -> int:
    """Digest every input and print one line (or the raw bytes) per input."""
    digest = resolve_digest(args.md)
    key = _hmac_key(args, digest)
    # The names openssl prints: md_gost12_256(FILE)= ..., HMAC-md_gost12_256(FILE)= ...
    label = digest.hashlib_name if key is None else f"HMAC-{digest.hashlib_name}"
    with OutputStream(args.out) as out:
        for path in args.files or [None]:
            hasher = _new_hash(digest, key)
            for chunk in iter_chunks(path, "input"):
                hasher.update(chunk)
            value = hasher.digest()
            name = path if path not in (None, "-") else "stdin"
            if args.binary:
                out.write(value)
            elif args.coreutils:
                out.write(f"{value.hex()} *{name}\n".encode())
            else:
                out.write(f"{label}({name})= {value.hex()}\n".encode())
    return 0
