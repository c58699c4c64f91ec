"""Revocation repository: the built-in CA's stored CRL, what it lists, and what verification asks.

Reads the ``certificates`` and ``ca`` tables of ``migrations/0003_keys.sql`` (revocations themselves
are written by ``storage.repos.keys``) and keeps ``ca_crls`` (``migrations/0010_ca_crls.sql``): the
latest CRL of each CA, shared by every worker and node. Units of work for ``Database.run`` /
``run_readonly``:

* :func:`crl_view`: a cheap fingerprint of a CA's revocations (count and latest time), the stored
  CRL (its DER only when the caller lacks that number) and whether a worker is re-signing it, in one
  statement: the per-request check;
* :func:`claim_crl`: under the CA's advisory lock, re-check and either answer the view (current, or
  claimed by another worker) or record a claim with a lease, draw the next cRLNumber from the ``ca``
  row and read every revoked certificate (the snapshot to sign);
* :func:`store_crl`: store a CRL signed under a claim, only if the claim is still the caller's and
  its number is higher than the stored one; :func:`release_crl_claim`: give a claim up;
* :func:`statuses_by_fingerprint`: status of certificates the built-in CA issued, by SHA-256 of DER.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from storage.database import Connection
from storage.errors import NotFoundError


@dataclass(frozen=True, slots=True)
class RevocationState:
    """What changes whenever a certificate of the CA is revoked (revocations are never undone)."""

    count: int
    """How many of its certificates are revoked."""
    latest: datetime | None
    """The latest revocation time."""


@dataclass(frozen=True, slots=True)
class RevokedRow:
    """One revoked certificate of the CA."""

    serial: str
    """Serial number, lower-case hex."""
    revoked_at: datetime
    """When it was revoked."""
    revocation_reason: str | None
    """The stored reason (RFC 5280 names from the API)."""


@dataclass(frozen=True, slots=True)
class CrlSnapshot:
    """The content of the next CRL, drawn by the worker that claimed its signing."""

    number: int
    """Its cRLNumber (taken from ``ca.next_crl_number``)."""
    state: RevocationState
    """The revocation state it reflects."""
    revoked: tuple[RevokedRow, ...]
    """Every revoked certificate, oldest revocation first."""


@dataclass(frozen=True, slots=True)
class StoredCrl:
    """The CA's latest CRL as ``ca_crls`` keeps it."""

    number: int
    """Its cRLNumber."""
    der: bytes | None
    """The signed CRL; None when the reader said it already holds this number."""
    this_update: datetime
    """Its thisUpdate."""
    next_update: datetime
    """Its nextUpdate."""
    refresh_at: datetime
    """When it is due to be re-signed even without a change."""
    state: RevocationState
    """The revocation state it lists."""


@dataclass(frozen=True, slots=True)
class CrlView:
    """What decides whether the stored CRL may be served: one row, read in one statement."""

    state: RevocationState
    """The CA's revocation state now."""
    stored: StoredCrl | None
    """The latest stored CRL (None before the first)."""
    claimed: bool
    """A worker holds a live claim to re-sign it."""
    now: datetime
    """The database's clock when read (every node judges ages by the same clock)."""

    def current(self, max_validity: timedelta) -> bool:
        """The stored CRL lists the current state, is before its refresh point and is valid no longer
        than ``max_validity`` (a shortened configuration takes effect at once)."""
        stored = self.stored
        return (
            stored is not None
            and stored.state == self.state
            and self.now < stored.refresh_at
            and stored.next_update - stored.this_update <= max_validity
        )

    @property
    def servable(self) -> bool:
        """There is a stored CRL and it is still before its nextUpdate (valid, if possibly stale)."""
        return self.stored is not None and self.now < self.stored.next_update


@dataclass(frozen=True, slots=True)
class NewCrl:
    """A CRL signed under a claim, to be stored."""

    number: int
    """Its cRLNumber (the claim's)."""
    der: bytes
    """The signed CRL."""
    this_update: datetime
    """Its thisUpdate."""
    next_update: datetime
    """Its nextUpdate."""
    refresh_at: datetime
    """When it should be re-signed even without a change."""
    state: RevocationState
    """The revocation state it lists (the claim's snapshot)."""


@dataclass(frozen=True, slots=True)
class CertificateStatusRow:
    """Status of a certificate the built-in CA issued."""

    fingerprint: bytes
    """SHA-256 of its DER."""
    ca_id: UUID
    """The issuing built-in CA."""
    status: str
    """``valid`` or ``revoked``."""
    revoked_at: datetime | None
    """When it was revoked."""
    revocation_reason: str | None
    """Why."""


_CRL_LOCK_SALT = 0x63726C73  # "crls": separates these advisory locks from any other CA-keyed lock

_VIEW = """
SELECT s.count, s.latest, c.number,
       CASE WHEN c.number IS DISTINCT FROM $2 THEN c.der END AS der,
       c.this_update, c.next_update, c.refresh_at, c.revoked_count, c.latest_revoked_at,
       coalesce(c.claimed_until > now(), false) AS claimed, now() AS now
FROM (SELECT count(*) AS count, max(revoked_at) AS latest FROM certificates
      WHERE ca_id = $1 AND status = 'revoked') AS s
LEFT JOIN ca_crls AS c ON c.ca_id = $1"""


async def crl_view(conn: Connection, ca_id: UUID, known_number: int | None) -> CrlView:
    """The CA's revocation state and its stored CRL, in one statement (index-only count + a key lookup).

    The DER is left out when the stored number is ``known_number`` (the caller holds that CRL).
    """
    row = await conn.fetchrow(_VIEW, ca_id, known_number)
    assert row is not None  # the aggregate always answers one row
    stored = None
    if row["number"] is not None:
        der = row["der"]
        stored = StoredCrl(
            int(row["number"]),
            None if der is None else bytes(der),
            row["this_update"],
            row["next_update"],
            row["refresh_at"],
            RevocationState(int(row["revoked_count"]), row["latest_revoked_at"]),
        )
    return CrlView(
        RevocationState(int(row["count"]), row["latest"]), stored, bool(row["claimed"]), row["now"]
    )


async def _lock_crl(conn: Connection, ca_id: UUID) -> None:
    """Serialise claims and stores of one CA's CRL until the transaction ends."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1::uuid::text, $2))", ca_id, _CRL_LOCK_SALT
    )


async def claim_crl(
    conn: Connection,
    ca_id: UUID,
    token: UUID,
    lease: timedelta,
    max_validity: timedelta,
    known_number: int | None,
) -> CrlView | CrlSnapshot:
    """Claim the signing of the CA's next CRL, unless the stored one is current or already claimed.

    Under the CA's advisory lock the view is read again (another worker may have just stored a
    CRL or claimed): if the stored CRL is ``current(max_validity)`` or another live claim exists,
    that view is answered and nothing changes. Otherwise the claim (``token``, lapsing after
    ``lease``) is recorded, the next number is drawn from ``ca.next_crl_number`` and every revoked
    certificate is read: the snapshot to sign. ``NotFoundError`` when there is no such CA.
    """
    await _lock_crl(conn, ca_id)
    view = await crl_view(conn, ca_id, known_number)
    if view.claimed or view.current(max_validity):
        return view
    number = await conn.fetchval(
        "UPDATE ca SET next_crl_number = next_crl_number + 1 WHERE id = $1 RETURNING next_crl_number - 1",
        ca_id,
    )
    if number is None:
        raise NotFoundError(f"CA {ca_id} not found")
    await conn.execute(
        """INSERT INTO ca_crls (ca_id, claim_token, claimed_until) VALUES ($1, $2, now() + $3)
           ON CONFLICT (ca_id) DO UPDATE
           SET claim_token = excluded.claim_token, claimed_until = excluded.claimed_until""",
        ca_id,
        token,
        lease,
    )
    rows = await conn.fetch(
        """SELECT serial, revoked_at, revocation_reason FROM certificates
           WHERE ca_id = $1 AND status = 'revoked' ORDER BY revoked_at, serial""",
        ca_id,
    )
    revoked = tuple(RevokedRow(row["serial"], row["revoked_at"], row["revocation_reason"]) for row in rows)
    # The same snapshot as the entries: the state is what these rows are, not a second count.
    latest = max((row.revoked_at for row in revoked), default=None)
    return CrlSnapshot(int(number), RevocationState(len(revoked), latest), revoked)


async def store_crl(conn: Connection, ca_id: UUID, token: UUID, crl: NewCrl) -> bool:
    """Store ``crl`` as the CA's latest and end the claim ``token``; False (nothing changed) when the
    claim is no longer ``token``'s (it lapsed and another worker took over) or a CRL with a number
    at least as high is stored already (numbers never go back)."""
    await _lock_crl(conn, ca_id)
    stored = await conn.fetchval(
        """UPDATE ca_crls SET number = $3, der = $4, this_update = $5, next_update = $6, refresh_at = $7,
                  revoked_count = $8, latest_revoked_at = $9, issued_at = now(),
                  claim_token = NULL, claimed_until = NULL
           WHERE ca_id = $1 AND claim_token = $2 AND (number IS NULL OR number < $3)
           RETURNING true""",
        ca_id,
        token,
        crl.number,
        crl.der,
        crl.this_update,
        crl.next_update,
        crl.refresh_at,
        crl.state.count,
        crl.state.latest,
    )
    return bool(stored)


async def release_crl_claim(conn: Connection, ca_id: UUID, token: UUID) -> None:
    """End the claim ``token`` without storing a CRL (signing failed); another claim is left alone."""
    await conn.execute(
        "UPDATE ca_crls SET claim_token = NULL, claimed_until = NULL WHERE ca_id = $1 AND claim_token = $2",
        ca_id,
        token,
    )


async def statuses_by_fingerprint(
    conn: Connection, fingerprints: Sequence[bytes]
) -> list[CertificateStatusRow]:
    """Status of those of ``fingerprints`` that are certificates a built-in CA issued."""
    if not fingerprints:
        return []
    rows = await conn.fetch(
        """SELECT fingerprint, ca_id, status, revoked_at, revocation_reason FROM certificates
           WHERE fingerprint = ANY($1::bytea[]) AND ca_id IS NOT NULL""",
        list(fingerprints),
    )
    return [
        CertificateStatusRow(
            bytes(row["fingerprint"]),
            row["ca_id"],
            row["status"],
            row["revoked_at"],
            row["revocation_reason"],
        )
        for row in rows
    ]
