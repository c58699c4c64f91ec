"""The built-in CA's revocation data: its CRL (``CrlPublisher``) and statuses for verification.

One CRL per CA for the whole deployment. The latest CRL of the CA is stored in PostgreSQL
(``ca_crls``) and every worker of every node serves that one, so cRLNumbers seen by clients never go
back (RFC 5280 §5.2.3) and a CRL is signed once per change, not once per worker.

Serving. Each request reads, in one statement (:func:`storage.repos.revocation.crl_view`), the CA's
revocation state (count and latest time of revocations: an index-only aggregate), the stored CRL's
header and whether a worker is re-signing it; the DER comes along only when this worker does not
already hold that number (the in-memory cache is keyed by CA and number). The stored CRL is served
when it lists the current state, is before its refresh point (3/4 of its validity, stored with it
and judged by the database clock) and is valid no longer than the configured validity.

Re-issuing: a claim with a lease, not a transaction held across the signature. The HSM signature is
a trio call and a unit of work runs on the storage thread's asyncio loop, so a transaction cannot
span it without blocking that loop or a pooled connection for the whole signature (up to the HSM
timeout, retries included). Instead, a worker that finds the stored CRL stale runs
:func:`~storage.repos.revocation.claim_crl`: under a transaction-level advisory lock on the CA it
re-checks (another worker may have just stored or claimed), records a claim that lapses after
:data:`CLAIM_LEASE`, draws the next number from ``ca.next_crl_number`` and reads the entries, and
commits. It then signs through the HSM pool with no transaction open (prepare → sign the digest in
a unit → finish: the key never leaves the unit), bounded by :data:`SIGN_TIMEOUT_S`, and stores the
CRL with :func:`~storage.repos.revocation.store_crl` (again under the lock) only if the claim is
still its own and the number is higher than the stored one; then it audits ``audit_crl_issued``
(once per stored CRL, whichever worker signed it). Workers that find a live claim poll the row
(:data:`POLL_FIRST_S` doubling up to :data:`POLL_MAX_S`, one cheap query each) until the new CRL
is there or the claim ends; a claim whose worker died lapses and the next worker takes over with a
higher number (numbers may skip, never repeat or go back). Within a worker a ``trio.Lock`` lets one
task at a time claim or wait; the others re-check after it.

HSM outage: when no unit can sign (or the claim holder takes longer than a lease), the stored CRL is
served while it is before its nextUpdate (a CRL is valid until then; ``crl_reissue_deferred`` is
logged) and the claim is released; without one the error goes to the caller (503).

:func:`revocation_records` answers, for verification, what the built-in CA's records say about
certificates given by fingerprint (only certificates a built-in CA issued are covered).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING
from uuid import UUID, uuid4

import structlog
import trio

from actors.hsmpool import Balancer
from actors.identity.audit import audit
from actors.keys.errors import KeyStoreUnavailableError
from actors.keys.hsmkeys import sign_prepared
from actors.keys.settings import CaSettings, crl_validity
from signing.cms.validation import RevocationRecord
from signing.crl import Crl, RevokedEntry, crl_reason, prepare_crl
from storage import Database, StorageError
from storage.repos import revocation as repo

if TYPE_CHECKING:
    from actors.keys.ca import BuiltinCa, LoadedCa

__all__ = ["CrlPublisher", "revocation_records"]

log = structlog.get_logger("actors.keys.crl")

REFRESH_AT = 0.75
"""Fraction of a CRL's validity after which the next request re-issues it."""

SIGN_TIMEOUT_S = 15.0
"""Longest wait for the HSM signature of a CRL (the default HSM call timeout times its attempts)."""

CLAIM_LEASE = dt.timedelta(seconds=SIGN_TIMEOUT_S + 10)
"""How long a claim to re-sign holds: the signature plus the two short database units around it."""

POLL_FIRST_S = 0.005
"""First pause while another worker re-signs (a soft-HSM signature takes about a millisecond)."""

POLL_MAX_S = 0.1
"""Longest pause between two looks at the stored CRL while another worker re-signs."""

RELEASE_TIMEOUT_S = 5.0
"""How long giving a claim up may take before the lease is left to end it."""


class CrlPublisher:
    """The built-in CA's CRL as every worker serves it: stored in PostgreSQL, re-signed by one worker."""

    def __init__(self, ca: BuiltinCa, db: Database, hsm: Balancer, settings: CaSettings) -> None:
        self._ca = ca
        self._db = db
        self._hsm = hsm
        self._validity = crl_validity(settings)
        self._cached: tuple[UUID, Crl] | None = None
        self._lock = trio.Lock()

    @property
    def validity(self) -> dt.timedelta:
        """nextUpdate − thisUpdate of the CRLs issued here."""
        return self._validity

    async def current(self) -> Crl:
        """The CA's current CRL (the CA is created at first use, like for its certificate)."""
        ca = await self._ca.get()
        view = await self._view(ca.id)
        if view.current(self._validity):
            return await self._crl_of(ca.id, view)
        async with self._lock:  # one claim or wait per worker; the other tasks re-check after it
            return await self._settle(ca)

    async def _settle(self, ca: LoadedCa) -> Crl:
        """Serve the stored CRL once it is current: claim and sign it here, or wait for the claimer."""
        give_up_at = trio.current_time() + CLAIM_LEASE.total_seconds()
        delay = POLL_FIRST_S
        while True:
            view = await self._view(ca.id)
            if view.current(self._validity):
                return await self._crl_of(ca.id, view)
            if not view.claimed:
                token = uuid4()
                claim = await self._db.run(
                    repo.claim_crl, ca.id, token, CLAIM_LEASE, self._validity, self._known_number(ca.id)
                )
                if isinstance(claim, repo.CrlSnapshot):
                    issued = await self._issue(ca, token, claim)
                    if issued is not None:
                        return issued
                    continue  # the claim lapsed and another worker took over: look again
                if claim.current(self._validity):
                    return await self._crl_of(ca.id, claim)
            if trio.current_time() >= give_up_at:
                waited = KeyStoreUnavailableError("another worker has been re-signing the CRL too long")
                return await self._deferred(ca.id, waited)
            await trio.sleep(delay)
            delay = min(delay * 2, POLL_MAX_S)

    async def _issue(self, ca: LoadedCa, token: UUID, snapshot: repo.CrlSnapshot) -> Crl | None:
        """Sign and store the claimed CRL; None when the claim was lost before storing."""
        try:
            crl, new = await self._sign(ca, snapshot)
            stored = await self._db.run(repo.store_crl, ca.id, token, new)
        except KeyStoreUnavailableError as exc:
            await self._release(ca.id, token)
            return await self._deferred(ca.id, exc)
        except BaseException:
            await self._release(ca.id, token)
            raise
        if not stored:
            log.warning("crl_claim_lost", ca_id=str(ca.id), crl_number=new.number)
            return None
        audit(
            "audit_crl_issued",
            ca_id=str(ca.id),
            crl_number=new.number,
            revoked=new.state.count,
            this_update=new.this_update.isoformat(),
            next_update=new.next_update.isoformat(),
        )
        self._remember(ca.id, crl)
        return crl

    async def _sign(self, ca: LoadedCa, snapshot: repo.CrlSnapshot) -> tuple[Crl, repo.NewCrl]:
        """The snapshot as a CRL signed in the HSM (bounded by ``SIGN_TIMEOUT_S``), and its row."""
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
        signature: bytes | None = None
        with trio.move_on_after(SIGN_TIMEOUT_S):
            signature = await sign_prepared(self._hsm, ca.key, ca.signature_algorithm, prepared)
        if signature is None:
            raise KeyStoreUnavailableError(f"the HSM did not sign the CRL within {SIGN_TIMEOUT_S} s")
        crl = prepared.finish(signature)
        refresh_at = this_update + self._validity * REFRESH_AT
        new = repo.NewCrl(snapshot.number, crl.der, this_update, next_update, refresh_at, snapshot.state)
        return crl, new

    async def _deferred(self, ca_id: UUID, error: KeyStoreUnavailableError) -> Crl:
        """The stored CRL while it is before its nextUpdate (re-read: another worker may have stored a
        newer one meanwhile, and serving an older one would move numbers back); else ``error``."""
        view = await self._view(ca_id)
        if not view.servable or view.stored is None:
            raise error
        log.warning("crl_reissue_deferred", ca_id=str(ca_id), crl_number=view.stored.number, error=str(error))
        return await self._crl_of(ca_id, view)

    async def _release(self, ca_id: UUID, token: UUID) -> None:
        """Give the claim up at once (shielded, bounded); on failure its lease ends it."""
        with trio.CancelScope(shield=True), trio.move_on_after(RELEASE_TIMEOUT_S):
            try:
                await self._db.run(repo.release_crl_claim, ca_id, token)
            except StorageError as exc:
                log.warning("crl_claim_release_failed", ca_id=str(ca_id), error=str(exc))

    async def _view(self, ca_id: UUID) -> repo.CrlView:
        return await self._db.run_readonly(repo.crl_view, ca_id, self._known_number(ca_id))

    def _known_number(self, ca_id: UUID) -> int | None:
        cached = self._cached
        return cached[1].number if cached is not None and cached[0] == ca_id else None

    async def _crl_of(self, ca_id: UUID, view: repo.CrlView) -> Crl:
        """The stored CRL of ``view`` as a parsed ``Crl`` (the cached one when the DER was left out)."""
        stored = view.stored
        assert stored is not None  # callers checked: current or servable
        if stored.der is not None:
            crl = Crl.load(stored.der)
            self._remember(ca_id, crl)
            return crl
        cached = self._cached
        if cached is not None and cached[0] == ca_id:
            # The DER was left out because this number was cached; the cache only moves forward,
            # so what it holds now is this CRL or a newer stored one.
            return cached[1]
        return await self._crl_of(ca_id, await self._db.run_readonly(repo.crl_view, ca_id, None))

    def _remember(self, ca_id: UUID, crl: Crl) -> None:
        """Cache ``crl`` unless a higher number of the same CA is cached already."""
        cached = self._cached
        if cached is None or cached[0] != ca_id or (crl.number or 0) > (cached[1].number or 0):
            self._cached = (ca_id, crl)


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
