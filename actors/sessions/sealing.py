"""Device secrets at rest: sealed with KExp15 (Kuznyechik) under keys derived from the server secret.

::

    K_enc  = KDF_256(server_secret, "klyuch device seal enc v1", device_id[16])
    K_mac  = KDF_256(server_secret, "klyuch device seal mac v1", device_id[16])
    sealed = 0x01 ‖ IV[8] ‖ KExp15(S, K_enc, K_mac, IV)          (1 + 8 + 32 + 16 = 57 bytes)

The keys depend on the device id, so a sealed secret copied onto another device's row does not open.
``server_secret`` is the one of ``actors.identity.server_secret`` (``security.token_secret`` or
``<home>/secrets/token.key``); replacing it makes every device unreadable: they must be enrolled
again (the same rule as for tokens and callback secrets).
"""

from __future__ import annotations

import secrets
from uuid import UUID

from actors.sessions.errors import DeviceSecretError
from signing.errors import IntegrityCheckError
from signing.gost import Kexp15, kdf_gostr3411_2012_256

VERSION = b"\x01"
"""First byte of a sealed secret: the scheme above."""
IV_BYTES = 8
"""Kuznyechik CTR IV length in KExp15."""

_ENC_LABEL = b"klyuch device seal enc v1"
_MAC_LABEL = b"klyuch device seal mac v1"


class SecretSealer:
    """Seal and open device secrets; holds only the server secret."""

    __slots__ = ("_root",)

    def __init__(self, server_secret: bytes) -> None:
        if len(server_secret) < 32:
            raise ValueError("the server secret must be at least 32 bytes")
        self._root = bytes(server_secret)

    def __repr__(self) -> str:
        return "SecretSealer(<hidden>)"

    def _box(self, device_id: UUID) -> Kexp15:
        seed = device_id.bytes
        return Kexp15(
            "kuznyechik",
            enc_key=kdf_gostr3411_2012_256(self._root, _ENC_LABEL, seed),
            mac_key=kdf_gostr3411_2012_256(self._root, _MAC_LABEL, seed),
        )

    def seal(self, device_id: UUID, secret: bytes) -> bytes:
        """Seal ``secret`` for the row of ``device_id``."""
        iv = secrets.token_bytes(IV_BYTES)
        return VERSION + iv + self._box(device_id).wrap(secret, iv=iv)

    def open(self, device_id: UUID, sealed: bytes) -> bytes:
        """Open what :meth:`seal` made for ``device_id``; ``DeviceSecretError`` otherwise."""
        if sealed[:1] != VERSION or len(sealed) <= 1 + IV_BYTES:
            raise DeviceSecretError("not a sealed device secret of a known version")
        iv = sealed[1 : 1 + IV_BYTES]
        try:
            return self._box(device_id).unwrap(sealed[1 + IV_BYTES :], iv=iv)
        except IntegrityCheckError:
            raise DeviceSecretError("the device secret does not open with this server secret") from None
