"""``x509``: issue a certificate from a request (``-req``), or show one (``-in CERT``).

Issued certificates get, in this order of precedence (later wins): the library's profile
(:data:`signing.x509.END_ENTITY_PROFILE`, or with ``-ca`` :data:`signing.x509.CA_PROFILE`), the
extensions the request asks for (unless ``-copy_extensions none``; with ``-ca`` the profile's
basicConstraints and keyUsage win over the request's), then ``-ext``; subject and authority key
identifiers are always computed.
"""

from __future__ import annotations

import argparse
import datetime as dt
from dataclasses import dataclass

from asn1crypto import x509 as asn1_x509

from edge.gost_cli.errors import InputError, UsageError, VerificationFailure
from edge.gost_cli.extensions import merge, parse_extension
from edge.gost_cli.files import read_file, write_output
from edge.gost_cli.keyspec import read_private_key, signer_for
from edge.gost_cli.options import Subparsers, add_outform, add_output, parse_serial, positive_int
from edge.gost_cli.text import certificate_text
from signing.csr import CertificationRequest
from signing.errors import InvalidSignatureError
from signing.keys import PrivateKey, public_key_pem
from signing.x509 import (
    CA_PROFILE,
    END_ENTITY_PROFILE,
    Certificate,
    CertificateAuthority,
    authority_key_identifier,
    basic_constraints,
    extended_key_usage,
    key_identifier,
    key_usage,
    prepare_certificate,
    subject_key_identifier,
)

# Extensions never copied from a request: the issuer decides them.
_NOT_COPIED = frozenset({"basic_constraints", "key_identifier", "authority_key_identifier"})
_CA_DECIDES = frozenset({"basic_constraints", "key_usage"})

DEFAULT_DAYS = 365
MAX_DAYS = 200 * 365
"""Longer validities are refused (and dates past the year 9999 cannot be written at all)."""

EPILOG = """\
Examples:
  x509 -req -in ca.csr -selfsign -key ca.key -ca -days 3650 -o ca.pem
  x509 -req -in user.csr -CA ca.pem -CAkey ca.key -days 365 -ext "subjectAltName=email:a@b.ru" -o user.pem
  x509 -in user.pem -text -noout"""


def register(sub: Subparsers) -> None:
    """Add ``x509``."""
    x509 = sub.add_parser(
        "x509",
        help="issue a certificate from a request, or show a certificate",
        description="Issue (-req) or display (-in CERT) an X.509 v3 certificate.",
        epilog=EPILOG,
    )
    x509.add_argument(
        "-in", dest="input", required=True, metavar="FILE", help="request (-req) or certificate"
    )
    x509.add_argument("-req", action="store_true", help="-in is a certification request to issue from")
    x509.add_argument("-selfsign", action="store_true", help="self-sign with -key (the request's own key)")
    x509.add_argument(
        "-key", "-signkey", dest="key", metavar="KEY", help="the key of a self-signed certificate"
    )
    x509.add_argument("-CA", dest="ca_cert", metavar="CERT", help="issuing CA certificate")
    x509.add_argument("-CAkey", dest="ca_key", metavar="KEY", help="issuing CA private key")
    x509.add_argument("-days", type=positive_int, help=f"validity in days from now (default {DEFAULT_DAYS})")
    x509.add_argument("-set_serial", dest="serial", metavar="N", help="serial number (decimal or 0xHEX)")
    x509.add_argument("-ca", action="store_true", help="issue a CA certificate (cA, keyCertSign, cRLSign)")
    x509.add_argument("-ext", action="append", default=[], metavar="EXT", help="add or override an extension")
    x509.add_argument(
        "-copy_extensions",
        choices=("copy", "none"),
        default="copy",
        help="copy the extensions the request asks for (default) or not",
    )
    x509.add_argument("-md", metavar="NAME", help="digest for ECDSA/RSA issuers (GOST keys fix their own)")
    x509.add_argument("-text", action="store_true", help="print the certificate in readable form")
    x509.add_argument("-pubkey", action="store_true", help="print the subject's public key (PEM)")
    x509.add_argument("-noout", action="store_true", help="do not write the encoded certificate")
    add_output(x509, what="certificate")
    add_outform(x509)
    x509.set_defaults(handler=run)


@dataclass(frozen=True, slots=True)
class _Issuer:
    signer: PrivateKey
    name: asn1_x509.Name | None
    key_id: bytes
    not_after_limit: dt.datetime | None


def _self_issuer(args: argparse.Namespace, request: CertificationRequest) -> _Issuer:
    if args.key is None:
        raise UsageError("-selfsign needs -key KEY")
    signer = signer_for(read_private_key(args.key), args.md)
    spki = signer.public_key().spki()
    if spki != request.public_key().spki():
        raise InputError("-key is not the key of the request")
    return _Issuer(signer, None, key_identifier(spki), None)


def _ca_issuer(args: argparse.Namespace) -> _Issuer:
    if args.ca_key is None:
        raise UsageError("-CA needs -CAkey KEY")
    certificate = Certificate.load(read_file(args.ca_cert, "CA certificate"))
    signer = signer_for(read_private_key(args.ca_key), args.md)
    # The library's own checks: the key is the certificate's, and it is a CA allowed to sign.
    CertificateAuthority(certificate, signer)
    key_id = certificate.subject_key_identifier or key_identifier(certificate.spki)
    return _Issuer(signer, certificate.subject, key_id, certificate.not_after)


def _extensions(
    args: argparse.Namespace, request: CertificationRequest, issuer: _Issuer
) -> list[asn1_x509.Extension]:
    profile = CA_PROFILE if args.ca else END_ENTITY_PROFILE
    # A self-signed CA is a root: no path length limit unless -ext sets one.
    path_length = profile.path_length if issuer.name is not None else None
    defaults = [basic_constraints(ca=profile.is_ca, path_length=path_length), key_usage(profile.key_usage)]
    if profile.extended_key_usage:
        defaults.append(extended_key_usage(profile.extended_key_usage))
    copied = []
    if args.copy_extensions == "copy":
        copied = [e for e in request.extensions if e["extn_id"].native not in _NOT_COPIED]
    if args.ca:
        copied = [e for e in copied if e["extn_id"].native not in _CA_DECIDES]
    explicit = [parse_extension(text) for text in args.ext]
    identifiers = [
        subject_key_identifier(key_identifier(request.public_key().spki())),
        authority_key_identifier(issuer.key_id),
    ]
    return merge(defaults, copied, explicit, identifiers)


def _issue(args: argparse.Namespace) -> Certificate:
    if args.selfsign == (args.ca_cert is not None):
        raise UsageError("-req needs either -selfsign -key KEY or -CA CERT -CAkey KEY")
    days = DEFAULT_DAYS if args.days is None else args.days
    if days > MAX_DAYS:
        raise UsageError(f"-days {days} is more than {MAX_DAYS} (200 years)")
    try:
        request = CertificationRequest.load(read_file(args.input, "request"))
    except InvalidSignatureError:
        raise VerificationFailure("the request's self-signature does not verify") from None
    issuer = _self_issuer(args, request) if args.selfsign else _ca_issuer(args)
    not_before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    not_after = not_before + dt.timedelta(days=days)
    if issuer.not_after_limit is not None and not_after > issuer.not_after_limit:
        raise InputError(f"-days {days} would outlive the CA certificate ({issuer.not_after_limit})")
    prepared = prepare_certificate(
        subject=request.subject,
        subject_public_key=request.public_key(),
        issuer=issuer.name if issuer.name is not None else request.subject,
        issuer_public_key=issuer.signer.public_key(),
        signature_algorithm=issuer.signer.signature_algorithm,
        not_before=not_before,
        not_after=not_after,
        extensions=_extensions(args, request, issuer),
        serial_number=parse_serial(args.serial) if args.serial else None,
    )
    return prepared.finish(issuer.signer.sign_digest(prepared.digest))


def run(args: argparse.Namespace) -> int:
    """Issue or load the certificate, then write what was asked for."""
    if args.req:
        certificate = _issue(args)
    else:
        issuing = (args.selfsign, args.key, args.ca_cert, args.ca_key, args.ca, args.ext, args.serial)
        if any(issuing) or args.days is not None:
            raise UsageError("signing options need -req (issue from a request)")
        certificate = Certificate.load(read_file(args.input, "certificate"))
    output = b""
    if args.text:
        output += certificate_text(certificate).encode()
    if args.pubkey:
        output += public_key_pem(certificate.public_key())
    if not args.noout:
        output += certificate.pem() if args.outform == "PEM" else certificate.der
    write_output(args.out, output)
    return 0
