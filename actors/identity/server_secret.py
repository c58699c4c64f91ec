"""The server secret: the HS256 key of access tokens and the root of the callback-secret sealing key.

``security.token_secret`` wins when set (several nodes must share it). Otherwise 32 random bytes are
generated once into ``<home>/secrets/token.key`` (folder 0700, file 0600). Every worker process of a
node reads the same file: the first writer links a fully written temporary file into place
(``link`` fails when the name exists), so a reader never sees a half-written key and two racing
workers agree on one winner.

Callback secrets of OAuth2 clients are stored sealed with AES-256-GCM under a key derived from this
secret (HKDF-SHA256, its own label). Consequence, by design: replacing the server secret invalidates
every access token and makes stored callback secrets unreadable (clients must be given new ones).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from config.settings import Settings

KEY_BYTES = 32
"""Length of a generated server secret."""

SEAL_VERSION = b"\x01"
"""First byte of a sealed value: the sealing scheme (AES-256-GCM, 12-byte nonce, HKDF label v1)."""

_SEAL_LABEL = b"klyuch oauth-client callback-secret v1"


def secret_path(settings: Settings) -> Path:
    """Where a generated server secret lives."""
    return settings.home / "secrets" / "token.key"


def load_server_secret(settings: Settings) -> bytes:
    """Return the configured secret, or the generated one (made now when missing)."""
    configured = settings.security.token_secret
    if configured is not None:
        return configured.get_secret_value().encode()
    path = secret_path(settings)
    try:
        return _read(path)
    except FileNotFoundError:
        return _create(path)


def _read(path: Path) -> bytes:
    data = path.read_bytes()
    if len(data) < KEY_BYTES:
        raise RuntimeError(f"{path} is shorter than {KEY_BYTES} bytes; remove it to generate a new secret")
    return data


def _create(path: Path) -> bytes:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(KEY_BYTES))
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):  # another worker won the race: use its key
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return _read(path)


class Sealer:
    """Seal and open small secrets stored in the database (AES-256-GCM, bound to a context string)."""

    def __init__(self, server_secret: bytes) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_SEAL_LABEL).derive(server_secret)
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, *, context: str) -> bytes:
        """Encrypt ``plaintext``; ``context`` (e.g. the client id) must be given again to open it."""
        nonce = secrets.token_bytes(12)
        return SEAL_VERSION + nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def open(self, sealed: bytes, *, context: str) -> bytes:
        """Decrypt what ``seal`` made; ``ValueError`` when it was sealed under another secret or context."""
        if sealed[:1] != SEAL_VERSION or len(sealed) < 1 + 12 + 16:
            raise ValueError("not a sealed value of a known version")
        try:
            return self._aead.decrypt(sealed[1:13], sealed[13:], context.encode())
        except InvalidTag:
            raise ValueError("sealed value does not open with this server secret and context") from None
