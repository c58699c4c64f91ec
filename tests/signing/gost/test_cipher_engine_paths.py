"""The binding gives the same answers whether or not the gost ENGINE is loaded in the process.

``ENGINE_by_id("gost")`` registers the engine's ciphers, after which ``EVP_CipherInit`` silently
runs the engine's legacy implementation instead of gostprov's (and CTR-ACPKM's section size must
then be set with a ctrl). Which path a test session takes depends on test order, so each path runs
here in a fresh interpreter.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

SCRIPT = """
import ctypes, json, sys
from pathlib import Path

if sys.argv[1] == "engine":
    lib = ctypes.CDLL("libcrypto.so.3")
    by_id = lib["ENGINE_by_id"]
    by_id.restype, by_id.argtypes = ctypes.c_void_p, [ctypes.c_char_p]
    assert by_id(b"gost"), "gost engine missing"

from signing.gost.cipher import Mode, new_cipher
from signing.gost.cipher_native import _fetched_cipher
from signing.gost.kexp15 import kexp15, kimp15

lib = ctypes.CDLL("libcrypto.so.3")
nid, engine_for = lib["EVP_CIPHER_get_nid"], lib["ENGINE_get_cipher_engine"]
nid.argtypes, engine_for.argtypes, engine_for.restype = [ctypes.c_void_p], [ctypes.c_int], ctypes.c_void_p
legacy = bool(engine_for(nid(_fetched_cipher("kuznyechik-ctr-acpkm"))))
assert legacy == (sys.argv[1] == "engine"), legacy

vectors = Path(sys.argv[2])
modes = json.loads((vectors / "cipher_gost_r_34_13_2015.json").read_text())
for v in modes["vectors"]:
    c = new_cipher(v["algorithm"], bytes.fromhex(modes["keys"][v["algorithm"]]))
    iv = bytes.fromhex(v["iv"]) if v["iv"] else None
    plain = bytes.fromhex(modes["plaintexts"][v["algorithm"]])
    assert c.encrypt(v["mode"], plain, iv=iv).hex() == v["ciphertext"], v["name"]
    assert c.decrypt(v["mode"], bytes.fromhex(v["ciphertext"]), iv=iv) == plain, v["name"]
for v in modes["macs"]:
    c = new_cipher(v["algorithm"], bytes.fromhex(modes["keys"][v["algorithm"]]))
    assert c.mac(bytes.fromhex(modes["plaintexts"][v["algorithm"]]), size=v["size"]).hex() == v["mac"]
for v in json.loads((vectors / "cipher_ctr_acpkm_r_1323565_1_017_2018.json").read_text())["vectors"]:
    c = new_cipher(v["algorithm"], bytes.fromhex(v["key"]))
    got = c.ctr_acpkm(bytes.fromhex(v["iv"]), bytes.fromhex(v["plaintext"]), section_size=v["section_size"])
    assert got.hex() == v["ciphertext"], v["name"]
for v in json.loads((vectors / "kexp15_r_1323565_1_017_2018.json").read_text())["vectors"]:
    args = {k: bytes.fromhex(v[k]) for k in ("enc_key", "mac_key", "iv")}
    assert kexp15(bytes.fromhex(v["key"]), algorithm=v["algorithm"], **args).hex() == v["export"]
    assert kimp15(bytes.fromhex(v["export"]), algorithm=v["algorithm"], **args).hex() == v["key"]
print("ok", "engine" if legacy else "provider")
"""


@pytest.mark.parametrize("path", ["provider", "engine"])
def test_vectors_on_both_native_paths(path: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, path, str(Path(__file__).parent / "vectors")],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ok", path]
