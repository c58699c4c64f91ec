"""Distinguished names in openssl's ``-subj`` spelling: ``/C=RU/O=Org/CN=Name/SNILS=…/OGRN=…``.

A ``/`` or ``=`` inside a value is escaped with a backslash, as for openssl. Attribute types are
openssl short names (table below, Russian ones included), asn1crypto names or dotted OIDs; the
library (:func:`signing.x509.build_name`) picks the string types and checks Russian numbers.
"""

from __future__ import annotations

from collections.abc import Mapping

from asn1crypto import x509 as asn1_x509

from edge.gost_cli.errors import UsageError
from signing.x509 import name_attributes

SHORT_NAMES: Mapping[str, str] = {
    "C": "country_name",
    "ST": "state_or_province_name",
    "L": "locality_name",
    "street": "street_address",
    "postalCode": "postal_code",
    "O": "organization_name",
    "OU": "organizational_unit_name",
    "CN": "common_name",
    "SN": "surname",
    "GN": "given_name",
    "givenName": "given_name",
    "initials": "initials",
    "generationQualifier": "generation_qualifier",
    "pseudonym": "pseudonym",
    "title": "title",
    "name": "name",
    "serialNumber": "serial_number",
    "dnQualifier": "dn_qualifier",
    "emailAddress": "email_address",
    "DC": "domain_component",
    "UID": "user_id",
    "organizationIdentifier": "organization_identifier",
    "OGRN": "ogrn",
    "OGRNIP": "ogrnip",
    "SNILS": "snils",
    "INN": "inn",
    "INNLE": "innle",
}
"""openssl short names → asn1crypto attribute names."""

_BY_LOWER = {short.lower(): name for short, name in SHORT_NAMES.items()}
_DISPLAY = {name: short for short, name in reversed(list(SHORT_NAMES.items()))}


def _split_unescaped(text: str, separator: str, *, limit: int = -1) -> list[str]:
    """Split on ``separator`` where it is not escaped; escapes are kept for :func:`_unescape`."""
    parts, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator and limit != 0:
            parts.append("".join(current))
            current = []
            limit -= 1
        else:
            current.append(char)
    if escaped:
        raise UsageError("-subj ends with a lone backslash")
    parts.append("".join(current))
    return parts


def _unescape(text: str) -> str:
    out, escaped = [], False
    for char in text:
        if escaped or char != "\\":
            out.append(char)
            escaped = False
        else:
            escaped = True
    return "".join(out)


def attribute_type(short: str) -> str:
    """The asn1crypto name (or dotted OID) of an attribute type given on the command line."""
    if short in SHORT_NAMES:
        return SHORT_NAMES[short]
    if short.lower() in _BY_LOWER:
        return _BY_LOWER[short.lower()]
    if short in asn1_x509.NameType._map.values() or all(part.isdigit() for part in short.split(".")):
        return short
    raise UsageError(f"unknown name attribute {short!r} in -subj (known: {', '.join(SHORT_NAMES)})")


def parse_subject(text: str) -> list[tuple[str, str]]:
    """``/C=RU/O=Org/CN=Name`` → ``[("country_name", "RU"), ...]`` in the given order."""
    if not text.startswith("/"):
        raise UsageError(f"-subj must look like /CN=Name/O=Org, got {text!r}")
    pairs = []
    for part in _split_unescaped(text[1:], "/"):
        if not part:
            continue
        pieces = _split_unescaped(part, "=", limit=1)
        if len(pieces) != 2 or not pieces[1]:
            raise UsageError(f"-subj element {_unescape(part)!r} is not TYPE=VALUE")
        pairs.append((attribute_type(_unescape(pieces[0]).strip()), _unescape(pieces[1])))
    if not pairs:
        raise UsageError("-subj names no attribute")
    return pairs


def format_name(name: asn1_x509.Name) -> str:
    """A one-line display: ``C=RU, O=Org, CN=Name`` (openssl short names where known)."""
    return ", ".join(f"{_DISPLAY.get(kind, kind)}={value}" for kind, value in name_attributes(name))
