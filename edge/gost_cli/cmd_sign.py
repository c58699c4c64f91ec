"""``sign`` and ``verify``: raw signatures of a file or of a given digest.

A GOST signature is ``s ‖ r`` (64 or 128 bytes), what ``openssl pkeyutl -sign`` and
``openssl dgst -sign`` write with the gost engine; ECDSA signatures are DER, RSA PKCS#1 v1.5.
"""

from __future__ import annotations

import argparse
import os

from edge.gost_cli.errors import InputError, UsageError, VerificationFailure
from edge.gost_cli.files import iter_chunks, read_file, write_output
from edge.gost_cli.keyspec import read_private_key, read_public_key, signature_algorithm_for, signer_for
from edge.gost_cli.options import Subparsers, add_output, looks_like_hex, parse_hex
from signing.algorithms import SignatureAlgorithm
from signing.errors import InvalidSignatureError
from signing.keys import PublicKey
from signing.x509 import Certificate


def _add_message(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("-in", dest="input", metavar="FILE", help="the data (default: stdin)")
    source.add_argument(
        "-hash",
        metavar="HEX_OR_FILE",
        help="a precomputed digest: hex, or a file with the raw digest bytes (or their hex)",
    )
    parser.add_argument(
        "-md",
        metavar="NAME",
        help="digest (default: the key's: streebog256/512 for GOST, sha256/384 for ECDSA, sha256 for RSA)",
    )


def register(sub: Subparsers) -> None:
    """Add ``sign`` and ``verify``."""
    sign = sub.add_parser(
        "sign",
        help="sign a file or a digest (raw signature)",
        description="Sign data, or a precomputed digest, with a private key; write the raw signature.",
    )
    sign.add_argument("-key", "-inkey", dest="key", required=True, metavar="KEY", help="private key (PKCS#8)")
    _add_message(sign)
    add_output(sign, what="signature")
    sign.add_argument("-hex", action="store_true", help="write the signature as one line of hex")
    sign.set_defaults(handler=run_sign)

    verify = sub.add_parser(
        "verify",
        help="verify a raw signature of a file or a digest",
        description="Verify a raw signature; exit 0 and print 'Verified OK', or exit 1.",
    )
    signer = verify.add_mutually_exclusive_group(required=True)
    signer.add_argument("-pubin", metavar="PUB", help="the signer's public key (SubjectPublicKeyInfo)")
    signer.add_argument("-cert", metavar="CERT", help="the signer's certificate")
    signer.add_argument("-key", "-inkey", dest="key", metavar="KEY", help="the signer's private key")
    verify.add_argument(
        "-sig", "-signature", "-sigfile", dest="sig", required=True, metavar="SIG", help="signature file"
    )
    _add_message(verify)
    verify.set_defaults(handler=run_verify)


def _digest(args: argparse.Namespace, algorithm: SignatureAlgorithm) -> bytes:
    size = algorithm.digest.size
    if args.hash is None:
        hasher = algorithm.digest.new()
        for chunk in iter_chunks(args.input):
            hasher.update(chunk)
        digest: bytes = hasher.digest()
        return digest
    if not os.path.isfile(args.hash):
        if not looks_like_hex(args.hash):
            raise UsageError(f"-hash {args.hash!r} is neither a file nor a hex string")
        return parse_hex(args.hash, "-hash", size=size)
    data = read_file(args.hash, "digest")
    if len(data) == size:
        return data
    if looks_like_hex(data):
        return parse_hex(data.decode("ascii"), f"digest in {args.hash}", size=size)
    raise InputError(
        f"{args.hash} must hold a {size}-byte {algorithm.digest.name} digest, has {len(data)} bytes"
    )


def run_sign(args: argparse.Namespace) -> int:
    """Sign and write the signature."""
    signer = signer_for(read_private_key(args.key), args.md)
    signature = signer.sign_digest(_digest(args, signer.signature_algorithm))
    write_output(args.out, (signature.hex() + "\n").encode() if args.hex else signature)
    return 0


def _public_key(args: argparse.Namespace) -> PublicKey:
    if args.pubin is not None:
        return read_public_key(args.pubin)
    if args.cert is not None:
        return Certificate.load(read_file(args.cert, "certificate")).public_key()
    return read_private_key(args.key).public_key()


def run_verify(args: argparse.Namespace) -> int:
    """Check the signature; print ``Verified OK`` or fail with :class:`VerificationFailure`."""
    public = _public_key(args)
    algorithm = signature_algorithm_for(public, args.md)
    signature = read_file(args.sig, "signature")
    digest = _digest(args, algorithm)
    try:
        public.verify_digest(digest, signature, algorithm)
    except InvalidSignatureError:
        raise VerificationFailure(f"{algorithm.name} signature does not verify") from None
    write_output(None, b"Verified OK\n")
    return 0
