"""``enc`` / ``dec`` against ``openssl enc -engine gost -K -iv``, both ways, byte for byte."""

from __future__ import annotations

import os

import pytest

from tests.edge.gost_cli.conftest import Tools

# (cipher, IV bytes): CBC takes a block, CTR half a block; ECB none.
CIPHERS = [
    ("kuznyechik-cbc", 16),
    ("magma-cbc", 8),
    ("kuznyechik-ctr", 8),
    ("magma-ctr", 4),
    ("kuznyechik-ctr-acpkm", 8),
    ("magma-ctr-acpkm", 4),
    ("kuznyechik-ecb", 0),
]
# Not a multiple of any block, and longer than a CTR-ACPKM section and than one read chunk.
PLAIN = os.urandom(70_000 + 3)


def _key_iv(iv_size: int) -> list[str]:
    options = ["-K", os.urandom(32).hex()]
    return [*options, "-iv", os.urandom(iv_size).hex()] if iv_size else options


@pytest.mark.parametrize(("cipher", "iv_size"), CIPHERS, ids=[c for c, _ in CIPHERS])
def test_enc_interoperates_with_openssl(tools: Tools, cipher: str, iv_size: int) -> None:
    key_iv = _key_iv(iv_size)
    tools.write("plain.bin", PLAIN)
    tools.klyuch("enc", "-e", "-cipher", cipher, *key_iv, "-in", "plain.bin", "-out", "ours.bin")
    tools.openssl("enc", "-d", f"-{cipher}", *key_iv, "-in", "ours.bin", "-out", "back.bin")
    assert tools.read("back.bin") == PLAIN
    tools.openssl("enc", "-e", f"-{cipher}", *key_iv, "-in", "plain.bin", "-out", "theirs.bin")
    assert tools.read("theirs.bin") == tools.read("ours.bin")
    tools.klyuch("dec", f"-{cipher}", *key_iv, "-in", "theirs.bin", "-out", "mine.bin")
    assert tools.read("mine.bin") == PLAIN


@pytest.mark.parametrize(("cipher", "block"), [("kuznyechik-cbc", 16), ("magma-cbc", 8)])
def test_nopad_and_stdin_stdout(tools: Tools, cipher: str, block: int) -> None:
    key_iv = _key_iv(block)
    plain = os.urandom(block * 5)
    ours = tools.klyuch("enc", "-cipher", cipher, *key_iv, "-nopad", input=plain).stdout
    assert len(ours) == len(plain)
    theirs = tools.openssl("enc", f"-{cipher}", *key_iv, "-nopad", input=plain).stdout
    assert ours == theirs
    assert tools.klyuch("enc", "-d", "-cipher", cipher, *key_iv, "-nopad", input=ours).stdout == plain
    # Without -nopad, data of whole blocks still gets a whole block of padding, as openssl adds.
    padded = tools.klyuch("enc", "-cipher", cipher, *key_iv, input=plain).stdout
    assert padded == tools.openssl("enc", f"-{cipher}", *key_iv, input=plain).stdout
    assert len(padded) == len(plain) + block


def test_bad_decrypt_leaves_no_output(tools: Tools) -> None:
    tools.write("plain.bin", PLAIN)
    tools.klyuch("enc", "-kuznyechik-cbc", *_key_iv(16), "-in", "plain.bin", "-out", "ct.bin")
    failed = tools.klyuch("dec", "-kuznyechik-cbc", *_key_iv(16), "-in", "ct.bin", "-out", "pt.bin", expect=1)
    assert "bad decrypt" in failed.stderr
    assert not (tools.workdir / "pt.bin").exists()
    tools.klyuch("enc", "-magma-cbc", *_key_iv(8), "-nopad", input=b"12345", expect=1)
