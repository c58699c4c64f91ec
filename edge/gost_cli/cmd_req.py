"""``req``: make a PKCS#10 request (``-key -subj``), or check and show one (``-in``)."""

from __future__ import annotations

import argparse

from edge.gost_cli.errors import UsageError, VerificationFailure
from edge.gost_cli.extensions import parse_extension
from edge.gost_cli.files import read_file, write_output
from edge.gost_cli.keyspec import read_private_key, signer_for
from edge.gost_cli.names import parse_subject
from edge.gost_cli.options import Subparsers, add_outform, add_output
from edge.gost_cli.text import request_text
from signing.csr import CertificationRequest, build_request
from signing.errors import InvalidSignatureError

EPILOG = """\
Subject: /C=RU/O=Org/CN=Name/SNILS=12345678901/OGRN=1027700132195/INN=500100732259 (escape / as \\/).
Extensions (-addext, repeatable): basicConstraints, keyUsage, extendedKeyUsage, subjectAltName,
crlDistributionPoints, authorityInfoAccess in openssl's syntax, e.g.
-addext "keyUsage=critical,digitalSignature,nonRepudiation" -addext "subjectAltName=email:a@b.ru"."""


def register(sub: Subparsers) -> None:
    """Add ``req``."""
    req = sub.add_parser(
        "req",
        help="make, verify or show a certification request (PKCS#10)",
        description="With -key and -subj make a request; with -in read one (its signature is checked).",
        epilog=EPILOG,
    )
    req.add_argument("-new", action="store_true", help="make a new request (implied by -key)")
    req.add_argument("-key", metavar="KEY", help="the requester's private key")
    req.add_argument("-subj", metavar="SUBJECT", help="subject, /TYPE=VALUE/...")
    req.add_argument("-addext", action="append", default=[], metavar="EXT", help="request an extension")
    req.add_argument("-md", metavar="NAME", help="digest for ECDSA/RSA keys (GOST keys fix their own)")
    req.add_argument("-utf8", action="store_true", help="accepted for openssl compatibility (always UTF-8)")
    req.add_argument("-in", dest="input", metavar="REQ", help="an existing request (PEM or DER)")
    req.add_argument("-verify", action="store_true", help="check the request's signature and say so")
    req.add_argument("-text", action="store_true", help="print the request in readable form")
    req.add_argument("-noout", action="store_true", help="do not write the encoded request")
    add_output(req, what="request")
    add_outform(req)
    req.set_defaults(handler=run)


def _load(path: str) -> CertificationRequest:
    try:
        return CertificationRequest.load(read_file(path, "request"))
    except InvalidSignatureError:
        raise VerificationFailure("certificate request self-signature does not verify") from None


def _new(args: argparse.Namespace) -> CertificationRequest:
    if args.key is None or args.subj is None:
        raise UsageError("a new request needs -key and -subj (or read one with -in)")
    signer = signer_for(read_private_key(args.key), args.md)
    return build_request(
        signer,
        subject=parse_subject(args.subj),
        extensions=[parse_extension(text) for text in args.addext],
    )


def run(args: argparse.Namespace) -> int:
    """Make or load the request, then write what was asked for."""
    if args.input is not None:
        if args.new or args.key or args.subj or args.addext:
            raise UsageError("-in reads a request; -new/-key/-subj/-addext make one: not both")
        request = _load(args.input)
    elif args.verify:
        raise UsageError("-verify needs -in REQ")
    else:
        request = _new(args)
    output = b""
    if args.verify:
        output += b"Certificate request self-signature verify OK\n"
    if args.text:
        output += request_text(request).encode()
    if not args.noout and not args.verify:
        output += request.pem() if args.outform == "PEM" else request.der
    write_output(args.out, output)
    return 0
