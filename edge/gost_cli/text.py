"""Readable dumps of certificates and requests (``x509 -text``, ``req -text``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from asn1crypto import keys
from asn1crypto import x509 as asn1_x509

from edge.gost_cli.extensions import EXTENDED_KEY_USAGES, GENERAL_NAMES, KEY_USAGES
from edge.gost_cli.names import format_name
from signing.asn1 import PARAMSET_OIDS
from signing.csr import CertificationRequest
from signing.keys import decode_gost_spki, spki_key_algorithm
from signing.x509 import Certificate

_KU_NAMES = {name: short for short, name in reversed(list(KEY_USAGES.items()))}
_EKU_NAMES = {name: short for short, name in EXTENDED_KEY_USAGES.items()}
_GN_NAMES = {name: short for short, name in GENERAL_NAMES.items()}
_KU_ORDER = list(asn1_x509.KeyUsage._map.values())

_LABELS: Mapping[str, str] = {
    "basic_constraints": "X509v3 Basic Constraints",
    "key_usage": "X509v3 Key Usage",
    "extended_key_usage": "X509v3 Extended Key Usage",
    "subject_alt_name": "X509v3 Subject Alternative Name",
    "key_identifier": "X509v3 Subject Key Identifier",
    "authority_key_identifier": "X509v3 Authority Key Identifier",
    "crl_distribution_points": "X509v3 CRL Distribution Points",
    "authority_information_access": "Authority Information Access",
    "certificate_policies": "X509v3 Certificate Policies",
}


def _hex(data: bytes) -> str:
    return ":".join(f"{byte:02X}" for byte in data)


def _time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def describe_key(spki: bytes) -> list[str]:
    """Lines naming the key algorithm and its parameters (GOST parameter set, curve or size)."""
    algorithm = spki_key_algorithm(spki)
    lines = [f"Public Key Algorithm: {algorithm.value} ({algorithm.oid})"]
    if algorithm.is_gost:
        paramset, point = decode_gost_spki(spki)
        long_name = PARAMSET_OIDS[paramset.oid].replace("_", "-")
        lines.append(f"Parameter set: {long_name} (engine {paramset.engine_name}, {paramset.oid})")
        lines.append(f"Public key (x_le ‖ y_le): {point.hex()}")
    else:
        info = keys.PublicKeyInfo.load(spki)
        if info.algorithm == "ec":
            lines.append(f"Curve: {info.curve[1]}")
        else:
            lines.append(f"Key size: {info.bit_size} bits")
    return lines


def _basic_constraints(value: Any) -> str:
    text = f"CA:{'TRUE' if value['ca'].native else 'FALSE'}"
    length = value["path_len_constraint"].native
    return text if length is None else f"{text}, pathlen:{length}"


def _key_usage(value: Any) -> str:
    names = set(value.native)
    return ", ".join(_KU_NAMES.get(name, name) for name in _KU_ORDER if name in names)


def _general_names(value: Iterable[Any]) -> str:
    return ", ".join(f"{_GN_NAMES.get(name.name, name.name)}:{name.native}" for name in value)


def _crl_points(value: Iterable[Any]) -> str:
    return ", ".join(f"URI:{point.url}" for point in value if point.url)


def _access(value: Iterable[Any]) -> str:
    return ", ".join(
        f"{entry['access_method'].native} - {_general_names([entry['access_location']])}" for entry in value
    )


_FORMATTERS: Mapping[str, Callable[[Any], str]] = {
    "basic_constraints": _basic_constraints,
    "key_usage": _key_usage,
    "extended_key_usage": lambda v: ", ".join(_EKU_NAMES.get(p, p) for p in v.native),
    "subject_alt_name": _general_names,
    "key_identifier": lambda v: _hex(v.native),
    "authority_key_identifier": lambda v: f"keyid:{_hex(v['key_identifier'].native or b'')}",
    "crl_distribution_points": _crl_points,
    "authority_information_access": _access,
}


def describe_extension(extension: asn1_x509.Extension) -> str:
    """One line: label, criticality and the value in openssl's words where known."""
    kind = extension["extn_id"].native
    label = _LABELS.get(kind, kind)
    critical = " (critical)" if extension["critical"].native else ""
    formatter = _FORMATTERS.get(kind)
    if formatter is not None:
        value = formatter(extension["extn_value"].parsed)
    else:
        parsed = extension["extn_value"].parsed
        value = repr(parsed.native) if parsed is not None else extension["extn_value"].contents.hex()
    return f"{label}{critical}: {value}"


def _indent(lines: Iterable[str], depth: int) -> list[str]:
    return [" " * (4 * depth) + line for line in lines]


def certificate_text(certificate: Certificate) -> str:
    """The ``x509 -text`` dump."""
    lines = [
        "Certificate:",
        *_indent(
            [
                "Version: 3",
                f"Serial Number: {certificate.serial_number} (0x{certificate.serial_number:x})",
                f"Signature Algorithm: {certificate.signature_algorithm.name}"
                f" ({certificate.signature_algorithm.oid})",
                f"Issuer: {format_name(certificate.issuer)}",
                "Validity:",
                f"    Not Before: {_time(certificate.not_before)}",
                f"    Not After : {_time(certificate.not_after)}",
                f"Subject: {format_name(certificate.subject)}",
                "Subject Public Key Info:",
                *_indent(describe_key(certificate.spki), 1),
                "Extensions:",
                *_indent(
                    [describe_extension(e) for e in certificate.asn1["tbs_certificate"]["extensions"]], 1
                ),
                f"Signature: {certificate.signature.hex()}",
            ],
            1,
        ),
    ]
    return "\n".join(lines) + "\n"


def request_text(request: CertificationRequest) -> str:
    """The ``req -text`` dump."""
    algorithm = request.signature_algorithm
    lines = [
        "Certificate Request:",
        *_indent(
            [
                "Version: 1 (0x0)",
                f"Subject: {format_name(request.subject)}",
                "Subject Public Key Info:",
                *_indent(describe_key(request.public_key().spki()), 1),
                "Requested Extensions:",
                *_indent([describe_extension(e) for e in request.extensions], 1),
                f"Signature Algorithm: {algorithm.name} ({algorithm.oid})",
                f"Signature: {request.signature.hex()}",
            ],
            1,
        ),
    ]
    return "\n".join(lines) + "\n"
