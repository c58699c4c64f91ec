"""Signing material for operations: ``actors.keys``' checks, made once per change of the rows.

``load_signing_material`` reads the certificate and key rows and parses the certificate; a signing
request would pay a database round trip (~0.5 ms of this process's CPU: crossing, BEGIN, two
statements, COMMIT, reset) and the parsing each time. ``MaterialCache`` keeps the checked material by
(user, certificate id or "default") in a ``storage.coherent.CoherentCache``: every change to a user's
keys or certificates is announced by a database trigger on ``storage.repos.keys.CHANGES_CHANNEL``
when it commits, and every worker clears its cache on each announcement — so a revocation, a new
default or an upload takes effect in every worker as soon as the notification arrives (the same
window as any other cross-process state), and at once in the worker that made it. While the worker
is not listening the cache is bypassed and every load reads the rows. The validity window of a
cached certificate is re-checked on every use (it depends on the time, not on the rows).

Below that, material built from rows *identical* to ones seen before is reused without parsing again
(bounded LRU), so even a bypassed cache parses each certificate once.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from dataclasses import dataclass, field
from uuid import UUID

from actors.keys.errors import CertificateNotFoundError, NoDefaultCertificateError
from actors.keys.material import SigningMaterial, material_of
from signing.keys import PublicKey
from storage import Database
from storage.coherent import CoherentCache, keep_coherent
from storage.repos import keys as keys_repo

DEFAULT_SIZE = 4096
"""Certificates kept checked and parsed per worker (``operations.material_cache_entries``)."""
DEFAULT_TTL_S = 300.0
"""Safety net on top of the change notifications (seconds a cached entry may be used)."""

MaterialKey = tuple[UUID, UUID | None]
"""(user id, certificate id; None for the user's default)."""
Checked = tuple["Material", dt.datetime, dt.datetime]
"""Material with its certificate's validity window (not before, not after)."""


@dataclass(slots=True)
class Proof:
    """Whether signatures made under a ``Material`` have verified with its certificate's key."""

    done: bool = False
    """Set once a whole batch verified: the HSM key is the certified one (``execute``)."""


@dataclass(frozen=True, slots=True)
class Material:
    """Checked signing material and the certificate's public key (to verify results)."""

    signing: SigningMaterial
    """Certificate, key and algorithm (``actors.keys``)."""
    public_key: PublicKey
    """The certificate's public key, parsed once."""
    proof: Proof = field(default_factory=Proof, compare=False)
    """Shared by every use of this (cached) material in the worker."""


class MaterialCache:
    """``load`` = ``actors.keys.load_signing_material``, cached while coherent (see the module)."""

    def __init__(self, size: int = DEFAULT_SIZE, *, ttl_s: float = DEFAULT_TTL_S) -> None:
        self._size = size
        self._parsed: OrderedDict[keys_repo.SigningRows, Material] = OrderedDict()
        self.checked: CoherentCache[MaterialKey, Checked] = CoherentCache(ttl_s, max_entries=size)
        """Checked material by (user, certificate); used only while ``keep_coherent`` listens."""

    async def keep_coherent(self, db: Database) -> None:
        """Listen for key and certificate changes and clear the cache on each; runs until cancelled."""
        await keep_coherent(self.checked, db, keys_repo.CHANGES_CHANNEL)

    def forget(self) -> None:
        """Clear the checked material now (this worker changed keys: do not wait for the notification)."""
        self.checked.clear()

    async def load(self, db: Database, *, user_id: UUID, certificate_id: UUID | None) -> Material:
        """The checked material of ``certificate_id`` (None: the default) of ``user_id``.

        Raises the ``actors.keys`` errors of ``load_signing_material``.
        """
        key = (user_id, certificate_id)
        now = dt.datetime.now(dt.UTC)
        cached = self.checked.get(key)
        if cached is not None:
            hit, hit_from, hit_until = cached
            if hit_from <= now <= hit_until:
                return hit
        generation = self.checked.generation  # a change announced during the read voids the put
        rows = await db.run_readonly(keys_repo.signing_rows, user_id, certificate_id)
        if rows is None:
            if certificate_id is None:
                raise NoDefaultCertificateError(
                    "no certificate_id was given and the user has no default certificate"
                )
            raise CertificateNotFoundError(certificate_id)
        now = dt.datetime.now(dt.UTC)
        not_before, not_after = rows.certificate.not_before, rows.certificate.not_after
        material = self._parsed.get(rows)
        if material is not None and not_before <= now <= not_after:
            self._parsed.move_to_end(rows)
        else:
            signing = material_of(rows, at=now)  # every check; raises when one fails
            material = Material(signing, signing.certificate.public_key())
            self._parsed[rows] = material
            if len(self._parsed) > self._size:
                self._parsed.popitem(last=False)
        checked = (material, not_before, not_after)
        self.checked.put(key, checked, generation=generation)
        if certificate_id is None:  # the operation stores the resolved id and executes with it
            self.checked.put((user_id, material.signing.certificate_id), checked, generation=generation)
        return material
