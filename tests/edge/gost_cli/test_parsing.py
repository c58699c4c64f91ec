"""The command line's own parsers, in process: ``-subj``, ``-addext``, openssl's block padding."""

from __future__ import annotations

import argparse

import pytest
from asn1crypto import x509 as asn1_x509

from edge.gost_cli import pkcs7
from edge.gost_cli.app import COMMANDS, build_parser
from edge.gost_cli.errors import InputError, UsageError
from edge.gost_cli.extensions import merge, parse_extension
from edge.gost_cli.keyspec import resolve_digest
from edge.gost_cli.names import format_name, parse_subject
from signing.x509 import build_name


def test_subject_escapes_order_and_russian_attributes() -> None:
    pairs = parse_subject(
        r"/C=RU/O=ООО \/Ключ\//CN=a=b/OU=c+d/SNILS=12345678901/emailAddress=x@y.ru/1.2.3.4=v"
    )
    assert pairs == [
        ("country_name", "RU"),
        ("organization_name", "ООО /Ключ/"),
        ("common_name", "a=b"),
        ("organizational_unit_name", "c+d"),
        ("snils", "12345678901"),
        ("email_address", "x@y.ru"),
        ("1.2.3.4", "v"),
    ]
    shown = format_name(build_name(pairs))
    assert shown == "C=RU, O=ООО /Ключ/, CN=a=b, OU=c+d, SNILS=12345678901, emailAddress=x@y.ru, 1.2.3.4=v"


@pytest.mark.parametrize("text", ["CN=x", "/", "/CN", "/CN=", "/XX=1", "/CN=x\\"])
def test_bad_subjects(text: str) -> None:
    with pytest.raises(UsageError):
        parse_subject(text)


def test_extensions_follow_openssl_criticality() -> None:
    usage = parse_extension("keyUsage=digitalSignature,cRLSign")
    assert usage["critical"].native is False  # openssl: critical only when written
    assert set(usage["extn_value"].parsed.native) == {"digital_signature", "crl_sign"}
    constraints = parse_extension("basicConstraints=critical,CA:TRUE,pathlen:2")
    assert constraints["critical"].native is True
    assert constraints["extn_value"].parsed.native == {"ca": True, "path_len_constraint": 2}
    names = parse_extension("subjectAltName=email:a@b.ru,DNS:host.ru,URI:http://x.ru,IP:10.0.0.1")
    assert [n.name for n in names["extn_value"].parsed] == [
        "rfc822_name",
        "dns_name",
        "uniform_resource_identifier",
        "ip_address",
    ]
    eku = parse_extension("extendedKeyUsage=clientAuth,1.2.643.2.2.34.6")
    assert eku["extn_value"].parsed.native == ["client_auth", "1.2.643.2.2.34.6"]
    aia = parse_extension("authorityInfoAccess=OCSP;URI:http://ocsp.ru,caIssuers;URI:http://ca.ru/ca.crt")
    assert [e["access_method"].native for e in aia["extn_value"].parsed] == ["ocsp", "ca_issuers"]
    # A later extension of the same type replaces an earlier one, in place.
    merged = merge([usage, eku], [parse_extension("keyUsage=critical,keyCertSign")])
    assert [e["extn_id"].native for e in merged] == ["key_usage", "extended_key_usage"]
    assert isinstance(merged[0], asn1_x509.Extension)
    assert merged[0]["critical"].native is True


@pytest.mark.parametrize(
    "text",
    [
        "keyUsage",
        "keyUsage=",
        "keyUsage=sign",
        "basicConstraints=CA:maybe",
        "subjectAltName=otherName:x",
        "crlDistributionPoints=email:a@b",
        "authorityInfoAccess=URI:http://x",
        "nameConstraints=permitted;DNS:x",
    ],
)
def test_bad_extensions(text: str) -> None:
    with pytest.raises(UsageError):
        parse_extension(text)


@pytest.mark.parametrize("block", [8, 16])
def test_pkcs7_padding_round_trip(block: int) -> None:
    for length in range(3 * block):
        pad = pkcs7.padding(length, block)
        assert 1 <= len(pad) <= block
        assert (length + len(pad)) % block == 0
        last = (b"x" * length + pad)[-block:]
        assert pkcs7.unpad(last, block) == (b"x" * length)[len(b"x" * length) + len(pad) - block :]
    for bad in (bytes(block), b"\x03" * (block - 1) + b"\x02", bytes([block + 1]) * block, b""):
        with pytest.raises(InputError):
            pkcs7.unpad(bad, block)


def test_command_table_matches_the_parser() -> None:
    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert tuple(commands.choices) == COMMANDS


def test_digest_names() -> None:
    assert resolve_digest("md_gost12_256").name == "streebog256"
    assert resolve_digest("STREEBOG512").name == "streebog512"
    assert resolve_digest("1.2.643.7.1.1.2.2").name == "streebog256"
    with pytest.raises(UsageError):
        resolve_digest("md5")
