"""OCSP repository: the status of certificates a built-in CA issued, by serial number.

Reads the ``certificates`` table of ``migrations/0003_keys.sql``; a unit of work for
``Database.run_readonly``. Serial numbers are lower-case hex without leading zeros, as
``actors.keys.service`` stores them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from storage.database import Connection

__all__ = ["SerialStatusRow", "statuses_by_serial"]


@dataclass(frozen=True, slots=True)
class SerialStatusRow:
    """What the CA's records say about one of its certificates."""

    serial: str
    """Serial number, lower-case hex."""
    status: str
    """``valid`` or ``revoked``."""
    revoked_at: datetime | None
    """When it was revoked."""
    revocation_reason: str | None
    """The stored reason (RFC 5280 names from the API)."""


async def statuses_by_serial(conn: Connection, ca_id: UUID, serials: Sequence[str]) -> list[SerialStatusRow]:
    """Status of those of ``serials`` (lower-case hex) that are certificates ``ca_id`` issued.

    A serial stored twice (serials are random, not constrained unique) answers one row per
    certificate; the caller treats the serial as revoked when any of them is.
    """
    if not serials:
        return []
    rows = await conn.fetch(
        """SELECT serial, status, revoked_at, revocation_reason FROM certificates
           WHERE ca_id = $1 AND serial = ANY($2::text[])""",
        ca_id,
        list(serials),
    )
    return [
        SerialStatusRow(row["serial"], row["status"], row["revoked_at"], row["revocation_reason"])
        for row in rows
    ]
