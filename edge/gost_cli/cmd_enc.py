"""``enc`` / ``dec``: Kuznyechik and Magma with a raw key and IV, interoperable with ``openssl enc``.

Like ``openssl enc -K … -iv …``: ECB and CBC are padded the openssl way (PKCS#7) unless
``-nopad``; CTR and CTR-ACPKM (gost-engine's default section sizes) need no padding. CBC takes an
IV of one block (openssl's form; the library also takes several blocks), CTR half a block.
Data is streamed, so files of any size work.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping

from edge.gost_cli import pkcs7
from edge.gost_cli.errors import InputError, UsageError
from edge.gost_cli.files import OutputStream, iter_chunks
from edge.gost_cli.options import Subparsers, parse_hex
from signing.errors import InvalidInputError
from signing.gost import Algorithm, BlockCipher, Mode, new_cipher
from signing.gost.cipher_stream import CipherStream

CIPHERS: Mapping[str, tuple[Algorithm, Mode]] = {
    f"{algorithm}-{mode}": (algorithm, mode) for algorithm in Algorithm for mode in Mode
}
"""Cipher names: ``kuznyechik-cbc``, ``magma-ctr-acpkm``..."""

_ALIASES = {"grasshopper": "kuznyechik"}
_PADDED = (Mode.ECB, Mode.CBC)


def _add_arguments(parser: argparse.ArgumentParser, *, direction: bool) -> None:
    if direction:
        which = parser.add_mutually_exclusive_group()
        which.add_argument("-e", dest="decrypt", action="store_false", help="encrypt (default)")
        which.add_argument("-d", dest="decrypt", action="store_true", help="decrypt")
    parser.add_argument("-cipher", metavar="NAME", help=", ".join(CIPHERS))
    for name in CIPHERS:
        parser.add_argument(
            f"-{name}", dest="cipher", action="store_const", const=name, help=argparse.SUPPRESS
        )
    parser.add_argument("-K", dest="key", required=True, metavar="KEY_HEX", help="the 256-bit key in hex")
    parser.add_argument("-iv", metavar="IV_HEX", help="IV in hex: a block for CBC, half a block for CTR")
    parser.add_argument("-in", dest="input", metavar="FILE", help="input (default: stdin)")
    parser.add_argument("-out", "-o", dest="out", metavar="FILE", help="output (default: stdout)")
    parser.add_argument("-nopad", action="store_true", help="no padding for ECB/CBC (whole blocks only)")


def register(sub: Subparsers) -> None:
    """Add ``enc`` and its alias ``dec``."""
    epilog = "Ciphers: " + ", ".join(CIPHERS) + " (also as -kuznyechik-cbc etc.)"
    enc = sub.add_parser(
        "enc",
        help="encrypt or decrypt with Kuznyechik / Magma",
        description="Encrypt (-e) or decrypt (-d) with a raw key and IV, as openssl enc -K -iv.",
        epilog=epilog,
    )
    _add_arguments(enc, direction=True)
    enc.set_defaults(handler=run, decrypt=False)
    dec = sub.add_parser(
        "dec", help="decrypt (enc -d)", description="Decrypt: the same as enc -d.", epilog=epilog
    )
    _add_arguments(dec, direction=False)
    dec.set_defaults(handler=run, decrypt=True)


def _cipher(name: str | None) -> tuple[Algorithm, Mode]:
    if name is None:
        raise UsageError("which cipher? -cipher NAME (" + ", ".join(CIPHERS) + ")")
    key = name.lower().lstrip("-")
    for alias, real in _ALIASES.items():
        key = key.replace(alias, real)
    if key not in CIPHERS:
        raise UsageError(f"unknown cipher {name!r} (known: {', '.join(CIPHERS)})")
    return CIPHERS[key]


def _stream(cipher: BlockCipher, mode: Mode, iv: bytes | None, *, decrypt: bool) -> CipherStream:
    if mode is Mode.ECB and iv is not None:
        raise UsageError("ECB takes no -iv")
    if mode is not Mode.ECB and iv is None:
        raise UsageError(f"{cipher.algorithm}-{mode} needs -iv")
    try:
        return cipher.decryptor(mode, iv=iv) if decrypt else cipher.encryptor(mode, iv=iv)
    except InvalidInputError as exc:
        raise UsageError(f"{exc}") from None


def _finalize(stream: CipherStream, block_size: int) -> bytes:
    try:
        return stream.finalize()
    except InvalidInputError:
        raise InputError(f"the input is not a whole number of {block_size}-byte blocks") from None


def _encrypt(
    stream: CipherStream, chunks: Iterable[bytes], out: OutputStream, *, block: int, pad: bool
) -> None:
    total = 0
    for chunk in chunks:
        total += len(chunk)
        out.write(stream.update(chunk))
    if pad:
        out.write(stream.update(pkcs7.padding(total, block)))
    out.write(_finalize(stream, block))


def _decrypt(
    stream: CipherStream, chunks: Iterable[bytes], out: OutputStream, *, block: int, pad: bool
) -> None:
    if not pad:
        for chunk in chunks:
            out.write(stream.update(chunk))
        out.write(_finalize(stream, block))
        return
    # Hold the last decrypted block back: only at the end is it known to carry the padding.
    held = b""
    for chunk in chunks:
        data = held + stream.update(chunk)
        cut = max(0, len(data) - block)
        out.write(data[:cut])
        held = data[cut:]
    held += _finalize(stream, block)
    out.write(pkcs7.unpad(held, block))


def run(args: argparse.Namespace) -> int:
    """Encrypt or decrypt the input to the output."""
    algorithm, mode = _cipher(args.cipher)
    key = parse_hex(args.key, "-K", size=32)
    iv = None if args.iv is None else parse_hex(args.iv, "-iv")
    cipher = new_cipher(algorithm, key)
    stream = _stream(cipher, mode, iv, decrypt=args.decrypt)
    pad = mode in _PADDED and not args.nopad
    work = _decrypt if args.decrypt else _encrypt
    with stream, OutputStream(args.out) as out:
        work(stream, iter_chunks(args.input), out, block=cipher.block_size, pad=pad)
    return 0
