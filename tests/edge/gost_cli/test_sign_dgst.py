"""``dgst``, ``sign`` and ``verify`` against ``openssl dgst`` / ``pkeyutl`` (gost engine), both ways."""

from __future__ import annotations

import pytest

from tests.edge.gost_cli.conftest import END_TO_END, Tools

DATA = "Документ для подписи\n".encode() * 300
MD = {"gost2012_256": "-md_gost12_256", "gost2012_512": "-md_gost12_512"}


@pytest.mark.parametrize(
    ("md", "flag"), [("streebog256", "-md_gost12_256"), ("streebog512", "-md_gost12_512")]
)
def test_dgst_prints_what_openssl_prints(tools: Tools, md: str, flag: str) -> None:
    tools.write("doc.txt", DATA)
    tools.write("empty.bin", b"")
    theirs = tools.openssl("dgst", flag, "doc.txt", "empty.bin").text
    assert tools.klyuch("dgst", "-md", md, "doc.txt", "empty.bin").text == theirs
    assert (
        tools.klyuch("dgst", flag, "-r", "doc.txt").text == tools.openssl("dgst", flag, "-r", "doc.txt").text
    )
    binary = tools.openssl("dgst", flag, "-binary", "doc.txt").stdout
    assert tools.klyuch("dgst", "-md", md, "-binary", "doc.txt").stdout == binary
    assert tools.klyuch("dgst", "-md", md, input=DATA).text == tools.openssl("dgst", flag, input=DATA).text


def test_dgst_hmac_equals_openssl(tools: Tools) -> None:
    tools.write("doc.txt", DATA)
    key = bytes(range(100))  # longer than Streebog's 64-byte block: hashed first
    tools.write("key.bin", key)
    for flag, md in (("-md_gost12_256", "streebog256"), ("-md_gost12_512", "streebog512")):
        theirs = tools.openssl("dgst", flag, "-mac", "hmac", "-macopt", f"hexkey:{key.hex()}", "doc.txt").text
        assert tools.klyuch("dgst", "-md", md, "-hmac", key.hex(), "doc.txt").text == theirs
        assert tools.klyuch("dgst", "-md", md, "-hmac-file", "key.bin", "doc.txt").text == theirs


@pytest.mark.parametrize(("algorithm", "paramset"), END_TO_END)
def test_our_key_and_signature_for_openssl(tools: Tools, algorithm: str, paramset: str) -> None:
    """Our genkey → our sign of a file and of a hash → openssl dgst -verify and pkeyutl -verify."""
    tools.write("doc.txt", DATA)
    tools.klyuch("genkey", "-a", algorithm, "-p", paramset, "-o", "key.pem")
    tools.klyuch("pubkey", "-in", "key.pem", "-o", "pub.pem")
    tools.klyuch("sign", "-key", "key.pem", "-in", "doc.txt", "-o", "doc.sig")
    done = tools.openssl("dgst", MD[algorithm], "-verify", "pub.pem", "-signature", "doc.sig", "doc.txt")
    assert done.text == "Verified OK\n"
    tools.openssl("dgst", MD[algorithm], "-binary", "-out", "doc.hash", "doc.txt")
    tools.openssl(
        "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-in", "doc.hash", "-sigfile", "doc.sig"
    )
    # A hash given in hex, as openssl dgst prints it.
    hex_digest = tools.read("doc.hash").hex()
    tools.klyuch("sign", "-key", "key.pem", "-hash", hex_digest, "-o", "hash.sig")
    tools.openssl(
        "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-in", "doc.hash", "-sigfile", "hash.sig"
    )
    # Our verify accepts our own signatures too, through the private key's public half.
    assert (
        tools.klyuch("verify", "-key", "key.pem", "-sig", "hash.sig", "-in", "doc.txt").text
        == "Verified OK\n"
    )


@pytest.mark.parametrize(("algorithm", "paramset"), END_TO_END)
def test_openssl_key_signs_here(tools: Tools, algorithm: str, paramset: str) -> None:
    """openssl genpkey → our sign (file, and hash file) → openssl verifies."""
    tools.write("doc.txt", DATA)
    tools.openssl_key("key.pem", algorithm, paramset)
    tools.openssl("pkey", "-in", "key.pem", "-pubout", "-out", "pub.pem")
    tools.klyuch("sign", "-inkey", "key.pem", "-in", "doc.txt", "-o", "doc.sig")
    tools.openssl("dgst", MD[algorithm], "-verify", "pub.pem", "-signature", "doc.sig", "doc.txt")
    tools.openssl("dgst", MD[algorithm], "-binary", "-out", "doc.hash", "doc.txt")
    tools.klyuch("sign", "-key", "key.pem", "-hash", "doc.hash", "-o", "hash.sig")
    tools.openssl(
        "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-in", "doc.hash", "-sigfile", "hash.sig"
    )


@pytest.mark.parametrize(("algorithm", "paramset"), END_TO_END)
def test_openssl_signatures_verify_here(tools: Tools, algorithm: str, paramset: str) -> None:
    """openssl dgst -sign and pkeyutl -sign → our verify; a wrong key or altered data → exit 1."""
    tools.write("doc.txt", DATA)
    tools.openssl_key("key.pem", algorithm, paramset)
    tools.openssl("pkey", "-in", "key.pem", "-pubout", "-out", "pub.pem")
    tools.openssl("dgst", MD[algorithm], "-sign", "key.pem", "-out", "dgst.sig", "doc.txt")
    tools.openssl("dgst", MD[algorithm], "-binary", "-out", "doc.hash", "doc.txt")
    tools.openssl("pkeyutl", "-sign", "-inkey", "key.pem", "-in", "doc.hash", "-out", "pkeyutl.sig")
    assert (
        tools.klyuch("verify", "-pubin", "pub.pem", "-sig", "dgst.sig", "-in", "doc.txt").text
        == "Verified OK\n"
    )
    tools.klyuch("verify", "-pubin", "pub.pem", "-sig", "pkeyutl.sig", "-hash", "doc.hash")
    tools.klyuch(
        "verify", "-pubin", "pub.pem", "-signature", "pkeyutl.sig", "-hash", tools.read("doc.hash").hex()
    )

    tools.write("altered.txt", DATA + b".")
    failed = tools.klyuch("verify", "-pubin", "pub.pem", "-sig", "dgst.sig", "-in", "altered.txt", expect=1)
    assert "does not verify" in failed.stderr
    tools.openssl_key("other.pem", algorithm, paramset)
    tools.openssl("pkey", "-in", "other.pem", "-pubout", "-out", "other.pub")
    tools.klyuch("verify", "-pubin", "other.pub", "-sig", "dgst.sig", "-in", "doc.txt", expect=1)
    # openssl agrees that the wrong key fails.
    tools.openssl(
        "dgst", MD[algorithm], "-verify", "other.pub", "-signature", "dgst.sig", "doc.txt", expect=1
    )
