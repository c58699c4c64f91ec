"""``genkey`` / ``pubkey`` against ``openssl pkey`` / ``pkeyutl`` (gost engine).

Every production parameter set: our key is read by openssl with the same parameter set openssl
itself would choose, re-encoded by openssl byte for byte, and signs with openssl's ``pkeyutl``.
"""

from __future__ import annotations

import stat

import pytest

from edge.gost_cli.errors import UsageError
from edge.gost_cli.keyspec import resolve_paramset
from signing.gost.params import ParamSet
from tests.edge.gost_cli.conftest import END_TO_END, Tools

# (-a, the name we pass to -p, the gost engine's own paramset name for openssl genpkey)
ALL_PARAMSETS = [
    ("gost2012_256", "A", "A"),
    ("gost2012_256", "cryptopro-b", "B"),
    ("gost2012_256", "C", "C"),
    ("gost2012_256", "XA", "XA"),
    ("gost2012_256", "cryptopro-xchb", "XB"),
    ("gost2012_256", "tc26-256-a", "TCA"),
    ("gost2012_256", "TCB", "TCB"),
    ("gost2012_256", "TC26_256_C", "TCC"),
    ("gost2012_256", "1.2.643.7.1.2.1.1.4", "TCD"),
    ("gost2012_512", "A", "A"),
    ("gost2012_512", "tc26-512-b", "B"),
    ("gost2012_512", "C", "C"),
]


def _parameter_line(text: str) -> str:
    return next(line.strip() for line in text.splitlines() if "Parameter set" in line)


@pytest.mark.parametrize(
    ("algorithm", "name", "engine_name"), ALL_PARAMSETS, ids=[p[2] + p[0][-3:] for p in ALL_PARAMSETS]
)
def test_genkey_is_openssls_key(tools: Tools, algorithm: str, name: str, engine_name: str) -> None:
    tools.klyuch("genkey", "-a", algorithm, "-p", name, "-o", "key.pem")
    assert stat.S_IMODE((tools.workdir / "key.pem").stat().st_mode) == 0o600
    ours = tools.openssl("pkey", "-in", "key.pem", "-noout", "-text").text
    tools.openssl_key("theirs.pem", algorithm, engine_name)
    theirs = tools.openssl("pkey", "-in", "theirs.pem", "-noout", "-text").text
    assert _parameter_line(ours) == _parameter_line(theirs)
    # openssl re-encodes the key byte for byte, and signs with it.
    assert tools.openssl("pkey", "-in", "key.pem").stdout == tools.read("key.pem")
    size = 32 if algorithm.endswith("256") else 64
    tools.write("digest.bin", bytes(range(1, size + 1)))
    tools.openssl("pkeyutl", "-sign", "-inkey", "key.pem", "-in", "digest.bin", "-out", "sig.bin")
    done = tools.openssl(
        "pkeyutl", "-verify", "-inkey", "key.pem", "-in", "digest.bin", "-sigfile", "sig.bin"
    )
    assert "Signature Verified Successfully" in done.text


@pytest.mark.parametrize(("algorithm", "paramset"), END_TO_END)
def test_pubkey_equals_openssls(tools: Tools, algorithm: str, paramset: str) -> None:
    tools.openssl_key("key.pem", algorithm, paramset)
    ours = tools.klyuch("pubkey", "-in", "key.pem").stdout
    assert ours == tools.openssl("pkey", "-in", "key.pem", "-pubout").stdout
    tools.klyuch("pubkey", "-in", "key.pem", "-outform", "DER", "-o", "pub.der")
    assert (
        tools.read("pub.der") == tools.openssl("pkey", "-in", "key.pem", "-pubout", "-outform", "DER").stdout
    )


def test_genkey_der_and_pkeyopt(tools: Tools) -> None:
    tools.klyuch(
        "genkey", "-algorithm", "gost2012_512", "-pkeyopt", "paramset:B", "-outform", "DER", "-o", "k.der"
    )
    text = tools.openssl("pkey", "-inform", "DER", "-in", "k.der", "-noout", "-text").text
    tools.openssl_key("theirs.pem", "gost2012_512", "B")
    assert _parameter_line(text) == _parameter_line(
        tools.openssl("pkey", "-in", "theirs.pem", "-noout", "-text").text
    )


@pytest.mark.parametrize(
    ("algorithm", "marker", "digest"),
    [
        ("ec-p256", "prime256v1", "-sha256"),
        ("ec-p384", "secp384r1", "-sha384"),
        ("rsa2048", "2048 bit", "-sha256"),
    ],
)
def test_international_keys(tools: Tools, algorithm: str, marker: str, digest: str) -> None:
    tools.klyuch("genkey", "-a", algorithm, "-o", "key.pem")
    assert marker in tools.openssl("pkey", "-in", "key.pem", "-noout", "-text").text
    tools.openssl("pkey", "-in", "key.pem", "-pubout", "-out", "pub.pem")
    tools.write("data.txt", b"international data\n")
    tools.klyuch("sign", "-key", "key.pem", "-in", "data.txt", "-o", "ours.sig")
    tools.openssl("dgst", digest, "-verify", "pub.pem", "-signature", "ours.sig", "data.txt")
    tools.openssl("dgst", digest, "-sign", "key.pem", "-out", "theirs.sig", "data.txt")
    assert (
        tools.klyuch("verify", "-pubin", "pub.pem", "-sig", "theirs.sig", "-in", "data.txt").text
        == "Verified OK\n"
    )


def test_every_paramset_name_resolves() -> None:
    """Engine short names, long names, enum names and OIDs all find the same set (in process)."""
    for paramset in ParamSet.production():
        size = paramset.key_size
        assert resolve_paramset(paramset.engine_name, size) is paramset
        assert resolve_paramset(paramset.oid, None) is paramset
        assert resolve_paramset(paramset.name.lower().replace("_", "-"), None) is paramset
    assert resolve_paramset("cryptopro-a", None) is ParamSet.CRYPTOPRO_A
    assert resolve_paramset("a", 512) is ParamSet.TC26_512_A
    assert resolve_paramset("A", None) is ParamSet.CRYPTOPRO_A
    with pytest.raises(UsageError):
        resolve_paramset("TCA", 512)
    with pytest.raises(UsageError):
        resolve_paramset("1.2.643.2.2.35.0", None)  # the test curve is never offered
