"""Certificate subjects: Russian distinguished-name attributes from a request, or the user's profile.

Attributes are asn1crypto names (after ``signing.asn1.register``), the ones Russian qualified
certificates carry (Order 795 of the FSB): CN, SN, G, T, O, OU, L, ST, street, C, E and the numeric
identifiers INN, INNLE, SNILS, OGRN, OGRNIP. They are written in one fixed order, whatever order
the request gave them in.
"""

from __future__ import annotations

from collections.abc import Mapping

from asn1crypto.x509 import Name

from actors.keys.errors import InvalidKeyRequestError
from signing.errors import InvalidInputError
from signing.x509 import build_name, name_attributes
from storage.repos.identity import UserRow

SUBJECT_ATTRIBUTES = (
    "common_name",
    "surname",
    "given_name",
    "title",
    "organization_name",
    "organizational_unit_name",
    "street_address",
    "locality_name",
    "state_or_province_name",
    "country_name",
    "email_address",
    "inn",
    "innle",
    "snils",
    "ogrn",
    "ogrnip",
)
"""Accepted attributes, in the order they are written into a name."""


def subject_pairs(attributes: Mapping[str, str]) -> list[tuple[str, str]]:
    """The given attributes as ordered name pairs, checked (lengths of numeric identifiers...).

    ``InvalidKeyRequestError`` names the attribute that is wrong; a subject needs a commonName.
    """
    unknown = sorted(set(attributes) - set(SUBJECT_ATTRIBUTES))
    if unknown:
        raise InvalidKeyRequestError(f"unknown subject attribute(s): {', '.join(unknown)}")
    pairs = [(name, attributes[name]) for name in SUBJECT_ATTRIBUTES if attributes.get(name)]
    if not any(name == "common_name" for name, _ in pairs):
        raise InvalidKeyRequestError("the subject needs a common_name")
    try:
        build_name(pairs)
    except InvalidInputError as exc:
        raise InvalidKeyRequestError(f"subject: {exc}") from exc
    return pairs


def profile_subject(user: UserRow) -> list[tuple[str, str]]:
    """A subject from the user's account: commonName = display name (else username), e-mail if known."""
    attributes = {"common_name": user.display_name or user.username}
    if user.email:
        attributes["email_address"] = user.email
    return subject_pairs(attributes)


SHORT_NAMES = {
    "common_name": "CN",
    "surname": "SN",
    "given_name": "G",
    "title": "T",
    "organization_name": "O",
    "organizational_unit_name": "OU",
    "street_address": "STREET",
    "locality_name": "L",
    "state_or_province_name": "ST",
    "country_name": "C",
    "email_address": "E",
    "inn": "INN",
    "innle": "INNLE",
    "snils": "SNILS",
    "ogrn": "OGRN",
    "ogrnip": "OGRNIP",
}
"""Short attribute labels of :func:`display_name` (OpenSSL's, with the Russian identifiers)."""


def display_name(name: Name) -> str:
    """A name as text for people and listings: ``CN=…, O=…, C=RU`` (RFC 4514 order and escaping)."""
    parts = []
    for attribute, value in reversed(name_attributes(name)):
        label = SHORT_NAMES.get(attribute, attribute)
        escaped = "".join("\\" + ch if ch in ',+"\\<>;=' else ch for ch in value)
        if escaped.startswith(("#", " ")):
            escaped = "\\" + escaped
        if escaped.endswith(" "):
            escaped = escaped[:-1] + "\\ "
        parts.append(f"{label}={escaped}")
    return ", ".join(parts)
