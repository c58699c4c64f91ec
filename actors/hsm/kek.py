"""The soft-HSM key-encryption key (KEK) and its sealed file.

The KEK is 32 random bytes made once, at initialisation, and stored only sealed under an operator
passphrase::

    P        = PBKDF2-HMAC-Streebog-512(passphrase (UTF-8), salt (32 random bytes), iterations, 32)
    header   = "klyuch-sealed-kek/1/<iterations>/<salt hex>"
    K_enc    = KDF_GOSTR3411_2012_256(P, "klyuch/kek/enc", header)
    K_mac    = KDF_GOSTR3411_2012_256(P, "klyuch/kek/mac", header)
    sealed   = KExp15-Kuznyechik(KEK, K_enc, K_mac, IV (8 random bytes))        (48 bytes)
    kek_id   = first 8 bytes of KDF_GOSTR3411_2012_256(KEK, "klyuch/kek/id", "")  (16 hex digits)

The file is a small JSON object (``format``, ``version``, ``kdf``, ``iterations``, ``salt``,
``cipher``, ``iv``, ``sealed``, ``kek_id``; byte fields in hex). Every field either feeds the key
derivation or the MAC, or is checked after unsealing (``kek_id``), so a wrong passphrase and any
tampering fail alike with :class:`KekUnsealError`; a file that is not even well-formed fails with
:class:`KekFormatError`. The ``kek_id`` identifies a hot-standby pair: two units unsealing the same
file report the same id.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from actors.hsm.errors import KekError, KekFormatError, KekUnsealError
from signing.errors import InvalidSignatureError, SigningError
from signing.gost.kdf import kdf_gostr3411_2012_256, pbkdf2_gostr3411_2012_512
from signing.gost.kexp15 import kexp15, kimp15

KEK_SIZE: Final = 32
SALT_SIZE: Final = 32
IV_SIZE: Final = 8
"""KExp15 with Kuznyechik takes a half-block (8-byte) IV."""
DEFAULT_ITERATIONS: Final = 100_000
"""PBKDF2 iterations for new files (~1.5 s on a 2-core test machine)."""
MIN_ITERATIONS: Final = 1_000
MAX_ITERATIONS: Final = 10_000_000
FORMAT: Final = "klyuch-sealed-kek"
VERSION: Final = 1
MAX_FILE_SIZE: Final = 64 * 1024
_CIPHER: Final = "kuznyechik"


@dataclass(frozen=True, slots=True, repr=False)
class Kek:
    """An unsealed KEK. ``repr`` shows only its id."""

    key: bytes
    """The 32 secret bytes (never logged, never sent)."""
    kek_id: str
    """Public fingerprint: 16 hex digits."""

    def __repr__(self) -> str:
        return f"Kek(kek_id={self.kek_id!r})"

    @classmethod
    def from_key(cls, key: bytes) -> Kek:
        """Wrap raw KEK bytes, computing the fingerprint."""
        if len(key) != KEK_SIZE:
            raise KekError(f"a KEK is {KEK_SIZE} bytes, got {len(key)}")
        return cls(key=key, kek_id=kek_fingerprint(key))

    @classmethod
    def generate(cls) -> Kek:
        """A fresh random KEK."""
        return cls.from_key(os.urandom(KEK_SIZE))


def kek_fingerprint(key: bytes) -> str:
    """The public id of a KEK."""
    return kdf_gostr3411_2012_256(key, b"klyuch/kek/id", b"")[:8].hex()


def _check_iterations(iterations: object) -> int:
    if not isinstance(iterations, int) or not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
        raise KekFormatError(f"iterations must be {MIN_ITERATIONS}..{MAX_ITERATIONS}, got {iterations!r}")
    return iterations


def _sealing_keys(passphrase: str, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
    if not passphrase:
        raise KekError("the KEK passphrase must not be empty")
    base = pbkdf2_gostr3411_2012_512(passphrase.encode("utf-8"), salt, iterations, length=32)
    header = f"{FORMAT}/{VERSION}/{iterations}/{salt.hex()}".encode()
    return (
        kdf_gostr3411_2012_256(base, b"klyuch/kek/enc", header),
        kdf_gostr3411_2012_256(base, b"klyuch/kek/mac", header),
    )


def seal(kek: Kek, passphrase: str, *, iterations: int = DEFAULT_ITERATIONS) -> bytes:
    """The sealed-file content (JSON bytes) for ``kek`` under ``passphrase``."""
    salt, iv = os.urandom(SALT_SIZE), os.urandom(IV_SIZE)
    enc_key, mac_key = _sealing_keys(passphrase, salt, _check_iterations(iterations))
    sealed = kexp15(kek.key, algorithm=_CIPHER, enc_key=enc_key, mac_key=mac_key, iv=iv)
    document = {
        "format": FORMAT,
        "version": VERSION,
        "kdf": "pbkdf2-hmac-streebog512",
        "iterations": iterations,
        "salt": salt.hex(),
        "cipher": "kuznyechik-kexp15",
        "iv": iv.hex(),
        "sealed": sealed.hex(),
        "kek_id": kek.kek_id,
    }
    return (json.dumps(document, indent=2) + "\n").encode()


def unseal(content: bytes, passphrase: str) -> Kek:
    """Open sealed-file content; :class:`KekUnsealError` for a wrong passphrase or tampering."""
    document = _parse(content)
    enc_key, mac_key = _sealing_keys(passphrase, document["salt"], document["iterations"])
    try:
        key = kimp15(
            document["sealed"], algorithm=_CIPHER, enc_key=enc_key, mac_key=mac_key, iv=document["iv"]
        )
    except InvalidSignatureError:
        raise KekUnsealError("the sealed KEK does not open: wrong passphrase or a tampered file") from None
    except SigningError as exc:
        raise KekFormatError(f"the sealed KEK is malformed: {exc}") from exc
    kek = Kek.from_key(key) if len(key) == KEK_SIZE else None
    if kek is None or kek.kek_id != document["kek_id"]:
        raise KekUnsealError("the sealed KEK does not match its recorded id: the file was tampered with")
    return kek


def _parse(content: bytes) -> dict[str, Any]:
    try:
        raw = json.loads(content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise KekFormatError("the sealed KEK file is not JSON") from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise KekFormatError(f"not a {FORMAT} file")
    if raw.get("version") != VERSION:
        raise KekFormatError(f"unsupported sealed KEK version {raw.get('version')!r}")
    if raw.get("kdf") != "pbkdf2-hmac-streebog512" or raw.get("cipher") != "kuznyechik-kexp15":
        raise KekFormatError("unsupported KDF or cipher in the sealed KEK file")
    parsed: dict[str, Any] = {"iterations": _check_iterations(raw.get("iterations"))}
    for name, size in (("salt", SALT_SIZE), ("iv", IV_SIZE), ("sealed", KEK_SIZE + 16)):
        parsed[name] = _hex(raw, name, size)
    kek_id = raw.get("kek_id")
    if not isinstance(kek_id, str) or len(_hex(raw, "kek_id", 8)) != 8:
        raise KekFormatError("kek_id must be 16 hex digits")
    parsed["kek_id"] = kek_id.lower()
    return parsed


def _hex(raw: dict[str, Any], name: str, size: int) -> bytes:
    value = raw.get(name)
    try:
        decoded = bytes.fromhex(value) if isinstance(value, str) else None
    except ValueError:
        decoded = None
    if decoded is None or len(decoded) != size:
        raise KekFormatError(f"{name} must be {size} bytes in hex")
    return decoded


def create_file(path: Path, passphrase: str, *, iterations: int = DEFAULT_ITERATIONS) -> Kek:
    """Make a new KEK and write it sealed to ``path`` (mode 0600), refusing to overwrite a file.

    The file appears atomically (written aside, then hard-linked into place), so two units racing
    to initialise the same path end up sharing one KEK: the loser gets :class:`FileExistsError`.
    """
    kek = Kek.generate()
    content = seal(kek, passphrase, iterations=iterations)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
    return kek


def load_file(path: Path, passphrase: str) -> Kek:
    """Read and unseal a KEK file."""
    try:
        with path.open("rb") as handle:
            content = handle.read(MAX_FILE_SIZE + 1)
    except OSError as exc:
        raise KekFormatError(f"cannot read the sealed KEK file {path}: {exc.strerror}") from exc
    if len(content) > MAX_FILE_SIZE:
        raise KekFormatError(f"the sealed KEK file {path} is larger than {MAX_FILE_SIZE} bytes")
    return unseal(content, passphrase)


def load_or_create_file(path: Path, passphrase: str, *, iterations: int = DEFAULT_ITERATIONS) -> Kek:
    """Unseal ``path``, creating it first when it does not exist (the embedded default)."""
    if not path.exists():
        with contextlib.suppress(FileExistsError):
            return create_file(path, passphrase, iterations=iterations)
    return load_file(path, passphrase)
