"""Interop with the ``openssl`` CLI + gost engine, an independent oracle, for every parameter set.

Keys made by ``openssl genpkey`` are read back from their PKCS#8 PEM; our SPKI encoding must equal
OpenSSL's byte for byte; signatures cross in both directions; VKO matches ``pkeyutl -derive``.
"""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest

from signing.gost import GostPrivateKey, GostPublicKey, ParamSet, streebog_digest
from signing.gost._keyder import decode_pkcs8_scalar, encode_spki

ALGORITHM = {256: "gost2012_256", 512: "gost2012_512"}
by_name = pytest.mark.parametrize("paramset", list(ParamSet), ids=lambda p: p.name)


def _run(openssl: str, *args: str | Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([openssl, *map(str, args)], capture_output=True, timeout=60, check=False)


def _ok(openssl: str, *args: str | Path) -> None:
    done = _run(openssl, *args)
    assert done.returncode == 0, done.stderr.decode(errors="replace")


def _pem_body(path: Path) -> bytes:
    lines = path.read_text().splitlines()
    return base64.b64decode("".join(line for line in lines if not line.startswith("-----")))


def _genpkey(openssl: str, paramset: ParamSet, path: Path) -> None:
    _ok(
        openssl, "genpkey", "-engine", "gost", "-algorithm", ALGORITHM[paramset.key_size],
        "-pkeyopt", f"paramset:{paramset.engine_name}", "-out", path,
    )  # fmt: skip


@by_name
def test_openssl_keys_load_and_spki_is_byte_identical(
    openssl: str, paramset: ParamSet, tmp_path: Path
) -> None:
    key_pem, pub_der = tmp_path / "key.pem", tmp_path / "pub.der"
    _genpkey(openssl, paramset, key_pem)
    _ok(openssl, "pkey", "-engine", "gost", "-in", key_pem, "-pubout", "-outform", "DER", "-out", pub_der)
    key = GostPrivateKey.from_private_bytes(paramset, decode_pkcs8_scalar(_pem_body(key_pem), paramset.size))
    # Same OID, same parameter encoding (digest OID present or not), same point.
    assert encode_spki(paramset, key.public_key().point_bytes()) == pub_der.read_bytes()


@by_name
def test_openssl_signatures_verify_here(openssl: str, paramset: ParamSet, tmp_path: Path) -> None:
    key_pem, pub_der = tmp_path / "key.pem", tmp_path / "pub.der"
    _genpkey(openssl, paramset, key_pem)
    _ok(openssl, "pkey", "-engine", "gost", "-in", key_pem, "-pubout", "-outform", "DER", "-out", pub_der)
    public = GostPublicKey.from_point_bytes(paramset, _spki_point(pub_der.read_bytes(), paramset))

    digest = streebog_digest(b"digest to sign", size=paramset.size)
    (tmp_path / "digest.bin").write_bytes(digest)
    _ok(openssl, "pkeyutl", "-engine", "gost", "-sign", "-inkey", key_pem,
        "-in", tmp_path / "digest.bin", "-out", tmp_path / "raw.sig")  # fmt: skip
    public.verify_digest(digest, (tmp_path / "raw.sig").read_bytes())

    message = b"a document signed by openssl dgst\n" * 10
    (tmp_path / "message.txt").write_bytes(message)
    _ok(openssl, "dgst", "-engine", "gost", f"-{paramset.digest_name}", "-sign", key_pem,
        "-out", tmp_path / "dgst.sig", tmp_path / "message.txt")  # fmt: skip
    public.verify(message, (tmp_path / "dgst.sig").read_bytes())
    assert not public.is_valid_signature(message + b"!", (tmp_path / "dgst.sig").read_bytes())


@by_name
def test_our_signatures_verify_in_openssl(openssl: str, paramset: ParamSet, tmp_path: Path) -> None:
    key = GostPrivateKey.generate(paramset)
    pub_der = tmp_path / "pub.der"
    pub_der.write_bytes(encode_spki(paramset, key.public_key().point_bytes()))
    digest = streebog_digest(b"digest signed here", size=paramset.size)
    (tmp_path / "digest.bin").write_bytes(digest)
    signature = key.sign_digest(digest)
    verify = ("pkeyutl", "-engine", "gost", "-verify", "-pubin", "-keyform", "DER", "-inkey", pub_der,
              "-in", tmp_path / "digest.bin", "-sigfile", tmp_path / "sig.bin")  # fmt: skip
    (tmp_path / "sig.bin").write_bytes(signature)
    _ok(openssl, *verify)
    (tmp_path / "sig.bin").write_bytes(signature[:-1] + bytes([signature[-1] ^ 1]))
    assert _run(openssl, *verify).returncode != 0

    message = b"a document signed here\n" * 10
    (tmp_path / "message.txt").write_bytes(message)
    (tmp_path / "dgst.sig").write_bytes(key.sign(message))
    _ok(openssl, "dgst", "-engine", "gost", f"-{paramset.digest_name}", "-verify", pub_der, "-keyform", "DER",
        "-signature", tmp_path / "dgst.sig", tmp_path / "message.txt")  # fmt: skip


@pytest.mark.parametrize(
    ("paramset", "bits"),
    [
        (ParamSet.TC26_256_A, 256),
        (ParamSet.CRYPTOPRO_XCHA, 256),
        (ParamSet.TC26_512_A, 256),
        (ParamSet.TC26_512_A, 512),
    ],
    ids=lambda v: getattr(v, "name", str(v)),
)
def test_vko_matches_openssl_derive(openssl: str, paramset: ParamSet, bits: int, tmp_path: Path) -> None:
    ours = GostPrivateKey.generate(paramset)
    theirs_pem, ours_pub = tmp_path / "theirs.pem", tmp_path / "ours.der"
    _genpkey(openssl, paramset, theirs_pem)
    theirs = GostPrivateKey.from_private_bytes(
        paramset, decode_pkcs8_scalar(_pem_body(theirs_pem), paramset.size)
    )
    ours_pub.write_bytes(encode_spki(paramset, ours.public_key().point_bytes()))
    ukm = bytes.fromhex("1d80603c8544c727")
    _ok(openssl, "pkeyutl", "-engine", "gost", "-derive", "-inkey", theirs_pem, "-peerkey", ours_pub,
        "-peerform", "DER", "-pkeyopt", f"ukmhex:{ukm.hex()}", "-pkeyopt", f"vko:{bits}",
        "-out", tmp_path / "shared.bin")  # fmt: skip
    expected = (tmp_path / "shared.bin").read_bytes()
    assert ours.vko(theirs.public_key(), ukm, output_size=bits // 8) == expected


def _spki_point(spki: bytes, paramset: ParamSet) -> bytes:
    # The point is the last 2·|q| bytes of the engine's SPKI (inside BIT STRING ⊃ OCTET STRING).
    point = spki[-2 * paramset.size :]
    assert encode_spki(paramset, point) == spki
    return point
