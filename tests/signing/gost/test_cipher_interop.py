"""Interop with the ``openssl`` CLI (gostprov provider and gost engine), in both directions.

``openssl enc`` takes one-block CBC IVs only and has no ``magma-ecb``; everything else the binding
offers is compared byte for byte. OMAC is checked against ``openssl mac``'s ``kuznyechik-mac`` /
``magma-mac`` and against OpenSSL's own generic CMAC over the GOST block ciphers (an independent
implementation of the same OMAC1 construction).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from signing.gost.cipher import BlockCipher, Kuznyechik, Magma, Mode, new_cipher

LOADERS = {
    "provider": ["-provider", "default", "-provider", "gostprov"],
    "engine": ["-engine", "gost"],
}
CASES = [
    (Kuznyechik, Mode.ECB),
    (Kuznyechik, Mode.CBC),
    (Kuznyechik, Mode.CTR),
    (Kuznyechik, Mode.CTR_ACPKM),
    (Magma, Mode.CBC),
    (Magma, Mode.CTR),
    (Magma, Mode.CTR_ACPKM),
]


@pytest.fixture(scope="module")
def openssl_cli() -> str:
    path = shutil.which("openssl")
    if path is None:
        pytest.skip("openssl CLI not installed")
    return path


def _run(argv: list[str], data: bytes) -> bytes:
    done = subprocess.run(argv, input=data, capture_output=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout


def _case(cls: type[BlockCipher], mode: Mode) -> tuple[bytes, bytes | None, bytes]:
    key = os.urandom(32)
    iv = {Mode.ECB: None, Mode.CBC: os.urandom(cls.block_size)}.get(mode, os.urandom(cls.ctr_iv_size))
    # Longer than the default CTR-ACPKM section (4096 / 1024 bytes) so that key meshing happens.
    blocks = 5000 // cls.block_size + 3
    return key, iv, os.urandom(blocks * cls.block_size)


def _enc_argv(
    cli: str, loader: str, cls: type[BlockCipher], mode: Mode, key: bytes, iv: bytes | None
) -> list[str]:
    argv = [cli, "enc", *LOADERS[loader], f"-{cls.algorithm}-{mode}", "-nopad", "-K", key.hex()]
    return [*argv, "-iv", iv.hex()] if iv is not None else argv


@pytest.mark.parametrize("loader", list(LOADERS))
@pytest.mark.parametrize(("cls", "mode"), CASES, ids=[f"{c.algorithm}-{m}" for c, m in CASES])
def test_openssl_enc_decrypts_ours(openssl_cli: str, loader: str, cls: type[BlockCipher], mode: Mode) -> None:
    key, iv, plain = _case(cls, mode)
    ours = cls(key).encrypt(mode, plain, iv=iv)
    assert _run([*_enc_argv(openssl_cli, loader, cls, mode, key, iv), "-d"], ours) == plain


@pytest.mark.parametrize("loader", list(LOADERS))
@pytest.mark.parametrize(("cls", "mode"), CASES, ids=[f"{c.algorithm}-{m}" for c, m in CASES])
def test_we_decrypt_openssl_enc(openssl_cli: str, loader: str, cls: type[BlockCipher], mode: Mode) -> None:
    key, iv, plain = _case(cls, mode)
    theirs = _run([*_enc_argv(openssl_cli, loader, cls, mode, key, iv), "-e"], plain)
    assert theirs == cls(key).encrypt(mode, plain, iv=iv)
    assert cls(key).decrypt(mode, theirs, iv=iv) == plain


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 64, 1000])
@pytest.mark.parametrize("algorithm", ["kuznyechik", "magma"])
def test_omac_matches_openssl_mac(openssl_cli: str, tmp_path: Path, algorithm: str, size: int) -> None:
    key, message = os.urandom(32), os.urandom(size)
    source = tmp_path / "message.bin"
    source.write_bytes(message)
    hexkey = ["-macopt", f"hexkey:{key.hex()}", "-in", str(source)]
    gost_mac = _run([openssl_cli, "mac", *LOADERS["provider"], *hexkey, f"{algorithm}-mac"], b"")
    generic_cmac = _run(
        [openssl_cli, "mac", *LOADERS["provider"], "-cipher", f"{algorithm}-cbc", *hexkey, "CMAC"], b""
    )
    ours = new_cipher(algorithm, key).mac(message).hex().upper()
    assert gost_mac.decode().strip() == ours
    assert generic_cmac.decode().strip() == ours
