"""Revocation repository: what the built-in CA's CRL lists and what verification asks about a certificate.

Reads the ``certificates`` and ``ca`` tables of ``migrations/0003_keys.sql`` (revocations themselves
are written by ``storage.repos.keys``). Units of work for ``Database.run`` / ``run_readonly``:

* :func:`revocation_state`: a cheap fingerprint of a CA's revocations (count and latest time), so a
  cached CRL can tell whether it is still complete without reading every entry;
* :func:`crl_snapshot`: the next cRLNumber (taken in the same unit, so numbers never repeat across
  workers or nodes) and every revoked certificate the CA issued;
* :func:`statuses_by_fingerprint`: status of certificates the built-in CA issued, by SHA-256 of DER.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
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
    """The content of one CRL."""

    number: int
    """Its cRLNumber (taken from ``ca.next_crl_number``)."""
    state: RevocationState
    """The revocation state it reflects."""
    revoked: tuple[RevokedRow, ...]
    """Every revoked certificate, oldest revocation first."""


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


async def revocation_state(conn: Connection, ca_id: UUID) -> RevocationState:
    """Count and latest time of the revocations of ``ca_id``'s certificates (index-only work)."""
    row = await conn.fetchrow(
        """SELECT count(*) AS count, max(revoked_at) AS latest FROM certificates
           WHERE ca_id = $1 AND status = 'revoked'""",
        ca_id,
    )
    assert row is not None  # an aggregate always answers one row
    return RevocationState(int(row["count"]), row["latest"])


async def crl_snapshot(conn: Connection, ca_id: UUID) -> CrlSnapshot:
    """Take the CA's next CRL number and read every revoked certificate it issued, in one unit.

    ``NotFoundError`` when there is no such CA. The counter row is locked by the update until the
    unit commits, so concurrent issuers are serialised and each gets its own number.
    """
    number = await conn.fetchval(
        "UPDATE ca SET next_crl_number = next_crl_number + 1 WHERE id = $1 RETURNING next_crl_number - 1",
        ca_id,
    )
    if number is None:
        raise NotFoundError(f"CA {ca_id} not found")
    rows = await conn.fetch(
        """SELECT serial, revoked_at, revocation_reason FROM certificates
           WHERE ca_id = $1 AND status = 'revoked' ORDER BY revoked_at, serial""",
        ca_id,
    )
    revoked = tuple(RevokedRow(row["serial"], row["revoked_at"], row["revocation_reason"]) for row in rows)
    latest = revoked[-1].revoked_at if revoked else None
    return CrlSnapshot(int(number), RevocationState(len(revoked), latest), revoked)


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
