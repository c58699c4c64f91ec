"""X.509 extensions from openssl-style ``-addext`` / ``-ext`` strings, built by :mod:`signing.x509`.

``NAME=[critical,]VALUE,...`` for:

* ``basicConstraints=critical,CA:TRUE,pathlen:0``
* ``keyUsage=critical,digitalSignature,nonRepudiation`` (openssl's usage names)
* ``extendedKeyUsage=clientAuth,emailProtection,1.2.643.2.2.34.6``
* ``subjectAltName=email:a@b.ru,DNS:host,URI:http://x,IP:10.0.0.1``
* ``crlDistributionPoints=URI:http://ca/crl``
* ``authorityInfoAccess=OCSP;URI:http://ocsp,caIssuers;URI:http://ca/ca.crt``

As with openssl, an extension is critical exactly when ``critical`` is written.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from asn1crypto import x509 as asn1_x509

from edge.gost_cli.errors import UsageError
from signing import x509

KEY_USAGES: Mapping[str, str] = {
    "digitalSignature": "digital_signature",
    "nonRepudiation": "non_repudiation",
    "contentCommitment": "non_repudiation",
    "keyEncipherment": "key_encipherment",
    "dataEncipherment": "data_encipherment",
    "keyAgreement": "key_agreement",
    "keyCertSign": "key_cert_sign",
    "cRLSign": "crl_sign",
    "encipherOnly": "encipher_only",
    "decipherOnly": "decipher_only",
}
"""openssl keyUsage names → asn1crypto names."""

EXTENDED_KEY_USAGES: Mapping[str, str] = {
    "serverAuth": "server_auth",
    "clientAuth": "client_auth",
    "codeSigning": "code_signing",
    "emailProtection": "email_protection",
    "timeStamping": "time_stamping",
    "OCSPSigning": "ocsp_signing",
    "anyExtendedKeyUsage": "any_extended_key_usage",
}
"""openssl extendedKeyUsage names → asn1crypto names."""

GENERAL_NAMES: Mapping[str, str] = {
    "email": "rfc822_name",
    "DNS": "dns_name",
    "URI": "uniform_resource_identifier",
    "IP": "ip_address",
}
"""openssl GeneralName prefixes → asn1crypto choices."""

BASIC_CONSTRAINTS = "basicConstraints"


def _lookup(table: Mapping[str, str], value: str, what: str) -> str:
    if value in table:
        return table[value]
    lowered = {key.lower(): name for key, name in table.items()}
    if value.lower() in lowered:
        return lowered[value.lower()]
    if value in table.values() or (value[:1].isdigit() and all(p.isdigit() for p in value.split("."))):
        return value
    raise UsageError(f"unknown {what} {value!r} (known: {', '.join(table)})")


def _basic_constraints(values: list[str]) -> asn1_x509.Extension:
    ca, path_length = False, None
    for value in values:
        key, _, setting = value.partition(":")
        if key.upper() == "CA" and setting.upper() in ("TRUE", "FALSE"):
            ca = setting.upper() == "TRUE"
        elif key.lower() == "pathlen" and setting.isdigit():
            path_length = int(setting)
        else:
            raise UsageError(f"basicConstraints: cannot read {value!r} (CA:TRUE|FALSE, pathlen:N)")
    return x509.basic_constraints(ca=ca, path_length=path_length)


def _general_names(values: list[str], what: str) -> list[tuple[str, str]]:
    names = []
    for value in values:
        kind, sep, text = value.partition(":")
        if not sep or not text:
            raise UsageError(f"{what}: {value!r} is not KIND:VALUE (email:, DNS:, URI:, IP:)")
        choice = _lookup(GENERAL_NAMES, kind, f"{what} kind")
        if choice == "ip_address":
            _check_ip(text, what)
        names.append((choice, text))
    return names


def _check_ip(text: str, what: str) -> None:
    # asn1crypto's encoder fails on a bad address with a bare OSError; say what is wrong instead.
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise UsageError(f"{what}: {text!r} is not an IP address") from None


def _uris(values: list[str], what: str) -> list[str]:
    names = _general_names(values, what)
    if any(kind != "uniform_resource_identifier" for kind, _ in names):
        raise UsageError(f"{what} takes URI: entries only")
    return [text for _, text in names]


def _authority_information_access(values: list[str]) -> asn1_x509.Extension:
    ocsp: list[str] = []
    issuers: list[str] = []
    for value in values:
        method, sep, location = value.partition(";")
        target = {"ocsp": ocsp, "caissuers": issuers}.get(method.lower())
        if not sep or target is None:
            raise UsageError(f"authorityInfoAccess: {value!r} is not OCSP;URI:... or caIssuers;URI:...")
        target.extend(_uris([location], "authorityInfoAccess"))
    return x509.authority_information_access(ocsp_urls=ocsp, ca_issuers_urls=issuers)


def _build(name: str, values: list[str]) -> asn1_x509.Extension:
    if not values:
        raise UsageError(f"{name} needs a value")
    if name == BASIC_CONSTRAINTS:
        return _basic_constraints(values)
    if name == "keyUsage":
        return x509.key_usage(_lookup(KEY_USAGES, v, "keyUsage") for v in values)
    if name == "extendedKeyUsage":
        return x509.extended_key_usage(_lookup(EXTENDED_KEY_USAGES, v, "extendedKeyUsage") for v in values)
    if name == "subjectAltName":
        return x509.subject_alt_name(_general_names(values, name))
    if name == "crlDistributionPoints":
        return x509.crl_distribution_points(_uris(values, name))
    if name == "authorityInfoAccess":
        return _authority_information_access(values)
    known = "basicConstraints, keyUsage, extendedKeyUsage, subjectAltName, crlDistributionPoints, "
    raise UsageError(f"unsupported extension {name!r} (supported: {known}authorityInfoAccess)")


def with_criticality(extension: asn1_x509.Extension, critical: bool) -> asn1_x509.Extension:
    """A copy of ``extension`` with its critical flag set to ``critical``."""
    copy = extension.copy()
    copy["critical"] = critical
    return copy


def parse_extension(text: str) -> asn1_x509.Extension:
    """One ``NAME=[critical,]VALUE,...`` string → an extension."""
    name, sep, rest = text.partition("=")
    if not sep:
        raise UsageError(f"extension {text!r} is not NAME=VALUE")
    values = [value.strip() for value in rest.split(",") if value.strip()]
    critical = bool(values) and values[0].lower() == "critical"
    return with_criticality(_build(name.strip(), values[int(critical) :]), critical)


def merge(*groups: list[asn1_x509.Extension]) -> list[asn1_x509.Extension]:
    """Concatenate extension lists; a later extension of the same type replaces an earlier one."""
    merged: dict[str, asn1_x509.Extension] = {}
    for group in groups:
        for extension in group:
            merged[extension["extn_id"].dotted] = extension
    return list(merged.values())
