"""``genkey`` (a new PKCS#8 key) and ``pubkey`` (its SubjectPublicKeyInfo)."""

from __future__ import annotations

import argparse

from edge.gost_cli.errors import UsageError
from edge.gost_cli.files import write_output
from edge.gost_cli.keyspec import KeySpec, read_private_key, resolve_key_spec
from edge.gost_cli.options import Subparsers, add_outform, add_output
from signing.errors import InvalidInputError
from signing.international import generate_ec, generate_rsa
from signing.keys import GostSigningKey, PrivateKey, private_key_pem, public_key_pem

GENKEY_EPILOG = """\
GOST parameter sets (-p): for gost2012_256 A, B, C, XA, XB, TCA, TCB, TCC, TCD
(or cryptopro-a/-b/-c, cryptopro-xcha/-xchb, tc26-256-a..d); for gost2012_512 A, B, C
(or tc26-512-a..c). Default: A. The key is written as unencrypted PKCS#8 (file mode 0600),
the form `openssl genpkey -engine gost` writes."""


def register(sub: Subparsers) -> None:
    """Add ``genkey`` and ``pubkey``."""
    genkey = sub.add_parser(
        "genkey",
        help="generate a private key (PEM PKCS#8)",
        description="Generate a private key.",
        epilog=GENKEY_EPILOG,
    )
    genkey.add_argument(
        "-a",
        "-algorithm",
        dest="algorithm",
        metavar="ALG",
        help="gost2012_256 (default), gost2012_512, ec-p256, ec-p384, rsa2048, rsa3072, rsa4096",
    )
    paramset = genkey.add_mutually_exclusive_group()
    paramset.add_argument("-p", "-paramset", dest="paramset", metavar="PARAMSET", help="GOST parameter set")
    paramset.add_argument(
        "-pkeyopt", metavar="paramset:NAME", help="openssl spelling of -p (only paramset: is understood)"
    )
    add_output(genkey, what="private key")
    add_outform(genkey)
    genkey.set_defaults(handler=run_genkey)

    pubkey = sub.add_parser(
        "pubkey",
        help="write the public key of a private key",
        description="Write the SubjectPublicKeyInfo of a PKCS#8 private key.",
    )
    pubkey.add_argument("-in", dest="input", required=True, metavar="KEY", help="private key (PEM or DER)")
    add_output(pubkey, what="public key")
    add_outform(pubkey)
    pubkey.set_defaults(handler=run_pubkey)


def _generate(spec: KeySpec) -> PrivateKey:
    if spec.paramset is not None:
        return GostSigningKey.generate(spec.paramset)
    if spec.curve is not None:
        return generate_ec(spec.curve)
    assert spec.rsa_bits is not None
    try:
        return generate_rsa(spec.rsa_bits)
    except InvalidInputError as exc:  # the size came from the command line
        raise UsageError(str(exc)) from None


def _pkeyopt_paramset(args: argparse.Namespace) -> str | None:
    if args.pkeyopt is None:
        paramset: str | None = args.paramset
        return paramset
    name, _, value = str(args.pkeyopt).partition(":")
    if name != "paramset" or not value:
        raise UsageError(f"unsupported -pkeyopt {args.pkeyopt!r} (only paramset:NAME)")
    return value


def run_genkey(args: argparse.Namespace) -> int:
    """Generate a key and write it."""
    key = _generate(resolve_key_spec(args.algorithm, _pkeyopt_paramset(args)))
    data = private_key_pem(key) if args.outform == "PEM" else key.pkcs8()
    write_output(args.out, data, private=True)
    return 0


def run_pubkey(args: argparse.Namespace) -> int:
    """Write the public half of a private key."""
    public = read_private_key(args.input).public_key()
    write_output(args.out, public_key_pem(public) if args.outform == "PEM" else public.spki())
    return 0
