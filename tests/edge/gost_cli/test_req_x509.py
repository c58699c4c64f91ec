"""``req`` and ``x509`` against ``openssl req`` / ``x509`` / ``verify`` (gost engine), both ways.

One chain per run covers both key sizes: a 512-bit (TC26 512 C) root made here, a 256-bit
(CryptoPro A) end entity under it, and the reverse direction with openssl's request and CA.
"""

from __future__ import annotations

import re

from tests.edge.gost_cli.conftest import P256, P512, Tools

SUBJECT = "/C=RU/O=ООО Ключ/CN=Иванов Иван/SNILS=12345678901/OGRN=1027700132195/INN=500100732259"
ADDEXT = [
    "-addext",
    "keyUsage=critical,digitalSignature,nonRepudiation",
    "-addext",
    "extendedKeyUsage=clientAuth,emailProtection",
    "-addext",
    "subjectAltName=email:ivanov@example.ru",
]
NAMEOPT = ["-nameopt", "utf8,sep_comma_plus"]


def _root(tools: Tools) -> None:
    """ca.key / ca.pem: a self-signed 512-bit root made by our CLI."""
    tools.klyuch("genkey", "-a", P512[0], "-p", P512[1], "-o", "ca.key")
    tools.klyuch(
        "req", "-new", "-key", "ca.key", "-subj", "/C=RU/O=Klyuch Test/CN=Klyuch Root", "-o", "ca.csr"
    )
    tools.klyuch(
        "x509", "-req", "-in", "ca.csr", "-selfsign", "-key", "ca.key", "-ca", "-days", "30", "-o", "ca.pem"
    )


def test_our_request_passes_openssl(tools: Tools) -> None:
    tools.klyuch("genkey", "-a", P256[0], "-p", P256[1], "-o", "user.key")
    tools.klyuch("req", "-key", "user.key", "-subj", SUBJECT, *ADDEXT, "-o", "user.csr")
    done = tools.openssl("req", "-verify", "-in", "user.csr", "-noout", "-text", *NAMEOPT)
    assert "verify OK" in done.stderr + done.text
    assert "O=ООО Ключ" in done.text
    assert "SNILS=12345678901" in done.text
    assert "OGRN=1027700132195" in done.text
    assert "Digital Signature, Non Repudiation" in done.text
    assert "email:ivanov@example.ru" in done.text
    assert tools.klyuch("req", "-verify", "-in", "user.csr", "-noout").text.endswith("verify OK\n")
    # DER output reads the same in openssl.
    tools.klyuch("req", "-in", "user.csr", "-outform", "DER", "-o", "user.der")
    tools.openssl("req", "-verify", "-inform", "DER", "-in", "user.der", "-noout")


def test_our_chain_passes_openssl_verify(tools: Tools) -> None:
    _root(tools)
    assert tools.openssl("verify", "-CAfile", "ca.pem", "ca.pem").text == "ca.pem: OK\n"
    tools.klyuch("genkey", "-a", P256[0], "-p", P256[1], "-o", "user.key")
    tools.klyuch("req", "-key", "user.key", "-subj", SUBJECT, *ADDEXT, "-o", "user.csr")
    tools.klyuch(
        "x509", "-req", "-in", "user.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-days", "10",
        "-set_serial", "0x1234abcd", "-ext", "crlDistributionPoints=URI:http://ca.example.ru/root.crl",
        "-o", "user.pem",
    )  # fmt: skip
    assert tools.openssl("verify", "-CAfile", "ca.pem", "user.pem").text == "user.pem: OK\n"
    text = tools.openssl("x509", "-in", "user.pem", "-noout", "-text", "-serial", *NAMEOPT).text
    assert "serial=1234ABCD" in text
    assert "CA:FALSE" in text
    assert "TLS Web Client Authentication, E-mail Protection" in text
    assert "email:ivanov@example.ru" in text
    assert "http://ca.example.ru/root.crl" in text

    # The readable dump names what openssl names.
    dump = tools.klyuch("x509", "-in", "user.pem", "-text", "-noout").text
    assert "Serial Number: 305441741 (0x1234abcd)" in dump
    assert "Issuer: C=RU, O=Klyuch Test, CN=Klyuch Root" in dump
    assert "Subject: C=RU, O=ООО Ключ, CN=Иванов Иван, SNILS=12345678901, OGRN=1027700132195" in dump
    assert "Parameter set: cryptopro-a (engine A, 1.2.643.2.2.35.1)" in dump
    assert "Signature Algorithm: streebog512_gost3410_2012_512" in dump
    assert "X509v3 Key Usage (critical): digitalSignature, nonRepudiation" in dump
    assert "X509v3 Extended Key Usage: clientAuth, emailProtection" in dump
    assert re.search(r"Not Before: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", dump)
    ca_dump = tools.klyuch("x509", "-in", "ca.pem", "-text", "-noout").text
    assert "X509v3 Basic Constraints (critical): CA:TRUE" in ca_dump
    assert "keyCertSign, cRLSign" in ca_dump
    assert "Parameter set: tc26-512-c (engine C, 1.2.643.7.1.2.1.2.3)" in ca_dump

    # The certificate verifies signatures made with its key, also when re-encoded as DER.
    tools.write("doc.txt", b"signed under a certificate\n")
    tools.klyuch("sign", "-key", "user.key", "-in", "doc.txt", "-o", "doc.sig")
    tools.klyuch("x509", "-in", "user.pem", "-outform", "DER", "-o", "user.der")
    tools.klyuch("verify", "-cert", "user.der", "-sig", "doc.sig", "-in", "doc.txt")
    tools.klyuch("verify", "-cert", "ca.pem", "-sig", "doc.sig", "-in", "doc.txt", expect=1)


def test_openssl_request_and_ca_work_here(tools: Tools) -> None:
    """openssl's request → verified and issued here under openssl's own CA → openssl verify."""
    tools.openssl_key("ca.key", *P256)
    tools.openssl(
        "req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=OpenSSL Root", "-days", "30",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", "ca.pem",
    )  # fmt: skip
    tools.openssl_key("user.key", *P512)
    tools.openssl("req", "-new", "-key", "user.key", "-utf8", "-subj", SUBJECT, *ADDEXT, "-out", "user.csr")
    assert tools.klyuch("req", "-verify", "-in", "user.csr", "-noout").text.endswith("verify OK\n")
    shown = tools.klyuch("req", "-in", "user.csr", "-text", "-noout").text
    assert "Parameter set: tc26-512-c" in shown
    assert "X509v3 Subject Alternative Name: email:ivanov@example.ru" in shown
    tools.klyuch(
        "x509", "-req", "-in", "user.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-days", "5", "-o", "user.pem"
    )
    assert tools.openssl("verify", "-CAfile", "ca.pem", "user.pem").text == "user.pem: OK\n"
    # Self-signed from openssl's request and key: openssl takes it as its own trust anchor.
    tools.klyuch("x509", "-req", "-in", "user.csr", "-selfsign", "-key", "user.key", "-o", "self.pem")
    assert tools.openssl("verify", "-CAfile", "self.pem", "self.pem").text == "self.pem: OK\n"


def test_issuing_refuses_mismatches(tools: Tools) -> None:
    _root(tools)
    tools.klyuch("genkey", "-o", "other.key")
    cases = [
        (["-CA", "ca.pem", "-CAkey", "other.key"], "not the CA certificate's key"),
        (["-CA", "ca.pem", "-CAkey", "ca.key", "-days", "3650"], "outlive the CA certificate"),
        (["-selfsign", "-key", "other.key"], "not the key of the request"),
    ]
    for args, message in cases:
        failed = tools.klyuch("x509", "-req", "-in", "ca.csr", *args, "-o", "out.pem", expect=1)
        assert message in failed.stderr
        assert not (tools.workdir / "out.pem").exists()
