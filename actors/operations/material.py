"""Signing material for operations: ``actors.keys``' checks on every load, parsing only once.

``load_signing_material`` reads the certificate and key rows and parses the certificate on every
call; parsing (asn1crypto, every field) and building the public key cost more than the read itself.
``MaterialCache`` reads the rows every time — so a revocation, a new default or an expired
certificate takes effect at once — and reuses the material built from rows that are *identical* to
ones seen before, re-checking only the validity window (which depends on the time). Anything else
goes through ``actors.keys.material.material_of``, which makes every check and raises its errors.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from dataclasses import dataclass
from uuid import UUID

from actors.keys.errors import CertificateNotFoundError, NoDefaultCertificateError
from actors.keys.material import SigningMaterial, material_of
from signing.keys import PublicKey
from storage import Database
from storage.repos import keys as keys_repo

DEFAULT_SIZE = 1024
"""Certificates kept parsed per worker."""


@dataclass(frozen=True, slots=True)
class Material:
    """Checked signing material and the certificate's public key (to verify results)."""

    signing: SigningMaterial
    """Certificate, key and algorithm (``actors.keys``)."""
    public_key: PublicKey
    """The certificate's public key, parsed once."""


class MaterialCache:
    """``load`` = ``actors.keys.load_signing_material`` with parsed certificates kept (LRU)."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self._size = size
        self._entries: OrderedDict[keys_repo.SigningRows, Material] = OrderedDict()

    async def load(self, db: Database, *, user_id: UUID, certificate_id: UUID | None) -> Material:
        """The checked material of ``certificate_id`` (None: the default) of ``user_id``.

        Raises the ``actors.keys`` errors of ``load_signing_material``.
        """
        rows = await db.run_readonly(keys_repo.signing_rows, user_id, certificate_id)
        if rows is None:
            if certificate_id is None:
                raise NoDefaultCertificateError(
                    "no certificate_id was given and the user has no default certificate"
                )
            raise CertificateNotFoundError(certificate_id)
        now = dt.datetime.now(dt.UTC)
        cached = self._entries.get(rows)
        if cached is not None and rows.certificate.not_before <= now <= rows.certificate.not_after:
            self._entries.move_to_end(rows)
            return cached
        signing = material_of(rows, at=now)  # every check; raises when one fails
        material = Material(signing, signing.certificate.public_key())
        self._entries[rows] = material
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return material
