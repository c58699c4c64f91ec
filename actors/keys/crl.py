"""The built-in CA's revocation data: its CRL (``CrlPublisher``) and statuses for verification.

``CrlPublisher`` keeps one signed CRL per worker. Each request asks the database for the CA's
revocation state (count and latest time of revocations: an index-only query) and re-issues only when
that state changed (a revocation in any worker or node), the cached CRL has used three quarters of its
validity, or the active CA changed; otherwise the cached CRL is served. Issuing takes the next
cRLNumber from the ``ca`` row in the same unit that reads the entries (so numbers grow across workers
and nodes), signs through the HSM pool like a certificate (prepare → sign the digest in a unit →
finish, the key never leaves the unit) and is audited (``audit_crl_issued``).

Workers keep their own CRL, so two workers may serve different (equally complete) CRLs until the next
change; their numbers differ, both are valid. When no HSM unit can sign a due re-issue, the cached CRL
is served while it is still before its nextUpdate (a CRL is valid until then; a warning is logged),
so an HSM outage does not take the list offline; without one the error goes to the caller (503).

:func:`revocation_records` answers, for verification, what the built-in CA's records say about
certificates given by fingerprint (only certificates a built-in CA issued are covered).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

import structlog
import trio

from actors.hsmpool import Balancer
from actors.identity.audit import audit
from actors.keys.errors import KeyStoreUnavailableError
from actors.keys.hsmkeys import sign_prepared
from actors.keys.settings import CaSettings, crl_validity
from signing.cms.validation import RevocationRecord
from signing.crl import Crl, RevokedEntry, crl_reason, prepare_crl
from storage import Database
from storage.repos import revocation as repo

if TYPE_CHECKING:
    from actors.keys.ca import BuiltinCa, LoadedCa

__all__ = ["CrlPublisher", "revocation_records"]

log = structlog.get_logger("actors.keys.crl")

REFRESH_AT = 0.75
"""Fraction of a CRL's validity after which the next request re-issues it."""


@dataclass(frozen=True, slots=True)
class _Issued:
    """A signed CRL and what it reflects."""

    ca_id: UUID
    state: repo.RevocationState
    crl: Crl
    refresh_at: dt.datetime


class CrlPublisher:
    """The built-in CA's current CRL in one worker: re-signed on change or age, cached otherwise."""

    def __init__(self, ca: BuiltinCa, db: Database, hsm: Balancer, settings: CaSettings) -> None:
        self._ca = ca
        self._db = db
        self._hsm = hsm
        self._validity = crl_validity(settings)
        self._issued: _Issued | None = None
        self._lock = trio.Lock()

    @property
    def validity(self) -> dt.timedelta:
        """nextUpdate − thisUpdate of the CRLs issued here."""
        return self._validity

    async def current(self) -> Crl:
        """The CA's current CRL (the CA is created at first use, like for its certificate)."""
        ca = await self._ca.get()
        state = await self._db.run_readonly(repo.revocation_state, ca.id)
        issued = self._issued
        if issued is not None and self._fresh(issued, ca.id, state):
            return issued.crl
        async with self._lock:  # one signature per change and worker, however many ask at once
            state = await self._db.run_readonly(repo.revocation_state, ca.id)
            issued = self._issued
            if issued is None or not self._fresh(issued, ca.id, state):
                issued = await self._reissue(ca, issued)
                self._issued = issued
        return issued.crl

    async def _reissue(self, ca: LoadedCa, cached: _Issued | None) -> _Issued:
        try:
            return await self._issue(ca)
        except KeyStoreUnavailableError as exc:
            next_update = None if cached is None or cached.ca_id != ca.id else cached.crl.next_update
            if cached is None or next_update is None or dt.datetime.now(dt.UTC) >= next_update:
                raise
            log.warning(
                "crl_reissue_deferred", ca_id=str(ca.id), crl_number=cached.crl.number, error=str(exc)
            )
            return cached

    def _fresh(self, issued: _Issued, ca_id: UUID, state: repo.RevocationState) -> bool:
        return issued.ca_id == ca_id and issued.state == state and dt.datetime.now(dt.UTC) < issued.refresh_at

    async def _issue(self, ca: LoadedCa) -> _Issued:
        snapshot = await self._db.run(repo.crl_snapshot, ca.id)
        this_update = dt.datetime.now(dt.UTC).replace(microsecond=0)
        next_update = this_update + self._validity
        entries = [
            RevokedEntry(int(row.serial, 16), row.revoked_at, crl_reason(row.revocation_reason))
            for row in snapshot.revoked
        ]
        prepared = prepare_crl(
            issuer=ca.certificate,
            signature_algorithm=ca.signature_algorithm,
            entries=entries,
            number=snapshot.number,
            this_update=this_update,
            next_update=next_update,
        )
        signature = await sign_prepared(self._hsm, ca.key, ca.signature_algorithm, prepared)
        crl = prepared.finish(signature)
        audit(
            "audit_crl_issued",
            ca_id=str(ca.id),
            crl_number=snapshot.number,
            revoked=len(entries),
            this_update=this_update.isoformat(),
            next_update=next_update.isoformat(),
        )
        refresh_at = this_update + self._validity * REFRESH_AT
        return _Issued(ca.id, snapshot.state, crl, refresh_at)


async def revocation_records(db: Database, fingerprints: Iterable[str]) -> dict[str, RevocationRecord]:
    """What the built-in CA's records say about certificates given by SHA-256 fingerprint (hex).

    Only certificates a built-in CA issued appear in the answer; for the others nothing is known.
    """
    wanted = sorted({bytes.fromhex(fingerprint) for fingerprint in fingerprints})
    if not wanted:
        return {}
    rows = await db.run_readonly(repo.statuses_by_fingerprint, wanted)
    return {
        row.fingerprint.hex(): RevocationRecord(
            revoked_at=row.revoked_at if row.status == "revoked" else None,
            reason=(crl_reason(row.revocation_reason) or "unspecified") if row.status == "revoked" else None,
        )
        for row in rows
    }
