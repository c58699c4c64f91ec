"""Keys repository: users' keys, their certificates, the built-in CA row and extra trust anchors.

Tables come from ``migrations/0003_keys.sql``. Every function is a unit of work (or a step of one) for
``Database.run``: ``fn(conn, ...)``. Who may do what is decided by ``actors.keys``; this module keeps
the invariants the schema cannot express alone:

* a user has at most one default key and one default certificate (partial unique indexes); changes
  of either take a per-user transaction advisory lock first, so two concurrent "first key" inserts
  cannot both claim the default and fail on the index;
* a user's first active key and first valid certificate become the default by themselves;
* revoking a key revokes its valid certificates in the same unit; a revoked object loses the
  default flag (nothing is promoted in its place: the user chooses);
* every change to a key or certificate row is announced on ``CHANGES_CHANNEL`` (payload: the user
  id) by a trigger (``migrations/0007_key_change_notify.sql``), for per-process caches.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeVar
from uuid import UUID

import asyncpg

from storage.database import Connection
from storage.errors import NotFoundError

KeyStatus = Literal["active", "revoked"]
CertificateStatus = Literal["valid", "revoked"]
CertificateSource = Literal["builtin_ca", "uploaded"]

KEY_COLUMNS = (
    "id, user_id, algorithm, paramset, hsm_domain, hsm_key_id, wrapped_blob, public_key_spki, label, "
    "status, is_default, created_at, revoked_at, revocation_reason"
)
CERTIFICATE_COLUMNS = (
    "id, key_id, user_id, ca_id, der, fingerprint, serial, subject, issuer, not_before, not_after, source, "
    "chain_validated, status, revoked_at, revocation_reason, is_default, created_at"
)
CA_COLUMNS = (
    "id, status, algorithm, paramset, hsm_domain, hsm_key_id, wrapped_blob, certificate_der, subject, "
    "not_before, not_after, issued_count, next_crl_number, created_at, retired_at"
)

_RowT = TypeVar("_RowT", "KeyRow", "CertificateRow", "CaRow")

CHANGES_CHANNEL = "klyuch_keys_changed"
"""NOTIFY channel of key and certificate changes (sent by triggers when the change commits)."""

_DEFAULT_LOCK_SALT = 0x6B657973  # "keys": separates these advisory locks from any other user-keyed lock


async def _lock_user_defaults(conn: Connection, user_id: UUID) -> None:
    """Serialise changes of ``user_id``'s default flags until the unit ends."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1::uuid::text, $2))", user_id, _DEFAULT_LOCK_SALT
    )


def _as_row(cls: type[_RowT], row: asyncpg.Record | None) -> _RowT:
    """``row`` as a ``cls`` dataclass (its fields are the selected columns, in any order)."""
    assert row is not None  # INSERT/UPDATE ... RETURNING of an existing row
    return cls(**dict(row))


async def _row_by_id(conn: Connection, table: str, columns: str, row_id: UUID, what: str) -> asyncpg.Record:
    """The ``table`` row with ``row_id``; ``NotFoundError`` ("<what> <id> not found") when there is none."""
    row = await conn.fetchrow(f"SELECT {columns} FROM {table} WHERE id = $1", row_id)
    if row is None:
        raise NotFoundError(f"{what} {row_id} not found")
    return row


async def _take_default(
    conn: Connection, table: str, columns: str, *, user_id: UUID, row_id: UUID, eligible: str, what: str
) -> asyncpg.Record:
    """Make ``row_id`` (a row of ``user_id`` in status ``eligible``) the user's default in ``table``.

    The caller holds :func:`_lock_user_defaults`. Clears the user's other default first (the partial
    unique index allows one); ``NotFoundError`` when the row is not an eligible row of the user.
    """
    await conn.execute(
        f"UPDATE {table} SET is_default = false WHERE user_id = $1 AND is_default AND id <> $2",
        user_id,
        row_id,
    )
    row = await conn.fetchrow(
        f"""UPDATE {table} SET is_default = true WHERE id = $1 AND user_id = $2 AND status = $3
            RETURNING {columns}""",
        row_id,
        user_id,
        eligible,
    )
    if row is None:
        raise NotFoundError(f"{what} {row_id} not found")
    return row


# --- keys ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyRow:
    """One ``keys`` row."""

    id: UUID
    """Primary key."""
    user_id: UUID
    """Owner."""
    algorithm: str
    """``gost3410_2012_256``, ``gost3410_2012_512`` or ``ecdsa_p256`` (as HSM units name them)."""
    paramset: str | None
    """GOST parameter set (``signing.gost.ParamSet`` member name); None for ECDSA."""
    hsm_domain: str
    """Key store in the HSM pool (``soft`` or ``pkcs11:<label>``)."""
    hsm_key_id: str
    """Key id the unit returned (32 hex digits)."""
    wrapped_blob: bytes | None
    """Soft units: the private key wrapped under the units' KEK; None on PKCS#11 tokens."""
    public_key_spki: bytes
    """DER SubjectPublicKeyInfo."""
    label: str | None
    """The owner's name for the key."""
    status: str
    """``active`` or ``revoked``."""
    is_default: bool
    """The owner's default key."""
    created_at: datetime
    """Creation time."""
    revoked_at: datetime | None
    """When it was revoked."""
    revocation_reason: str | None
    """Why it was revoked."""


@dataclass(frozen=True, slots=True)
class NewKey:
    """The fields of a key to insert."""

    user_id: UUID
    """Owner."""
    algorithm: str
    """Key algorithm (see :attr:`KeyRow.algorithm`)."""
    paramset: str | None
    """GOST parameter set name, None for ECDSA."""
    hsm_domain: str
    """Key store."""
    hsm_key_id: str
    """Key id in the key store."""
    wrapped_blob: bytes | None
    """Soft-unit blob."""
    public_key_spki: bytes
    """DER SubjectPublicKeyInfo."""
    label: str | None = None
    """The owner's name for the key."""


async def insert_key(conn: Connection, key: NewKey, *, make_default: bool = False) -> KeyRow:
    """Insert a key; it becomes the default when asked to or when the user has no default key."""
    await _lock_user_defaults(conn, key.user_id)
    has_default = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM keys WHERE user_id = $1 AND is_default)", key.user_id
    )
    if make_default and has_default:
        await conn.execute(
            "UPDATE keys SET is_default = false WHERE user_id = $1 AND is_default", key.user_id
        )
    row = await conn.fetchrow(
        f"""INSERT INTO keys (user_id, algorithm, paramset, hsm_domain, hsm_key_id, wrapped_blob,
                              public_key_spki, label, is_default)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {KEY_COLUMNS}""",
        key.user_id,
        key.algorithm,
        key.paramset,
        key.hsm_domain,
        key.hsm_key_id,
        key.wrapped_blob,
        key.public_key_spki,
        key.label,
        make_default or not has_default,
    )
    return _as_row(KeyRow, row)


async def get_key(conn: Connection, key_id: UUID) -> KeyRow:
    """The key with ``key_id``; ``NotFoundError`` when there is none."""
    return _as_row(KeyRow, await _row_by_id(conn, "keys", KEY_COLUMNS, key_id, "key"))


async def list_keys(
    conn: Connection,
    user_id: UUID,
    *,
    status: KeyStatus | None = None,
    limit: int = 100,
    after: tuple[datetime, UUID] | None = None,
) -> list[KeyRow]:
    """Up to ``limit`` keys of ``user_id``, oldest first, starting after ``(created_at, id)``."""
    after_time, after_id = after if after is not None else (None, None)
    rows = await conn.fetch(
        f"""SELECT {KEY_COLUMNS} FROM keys
            WHERE user_id = $1 AND ($2::text IS NULL OR status = $2)
              AND ($4::timestamptz IS NULL OR (created_at, id) > ($4, $5::uuid))
            ORDER BY created_at, id LIMIT $3""",
        user_id,
        status,
        limit,
        after_time,
        after_id,
    )
    return [_as_row(KeyRow, row) for row in rows]


async def set_default_key(conn: Connection, user_id: UUID, key_id: UUID) -> KeyRow:
    """Make ``key_id`` (an active key of ``user_id``) the user's default key.

    Its newest valid certificate, if any, becomes the default certificate too, so choosing a key
    decides what signing uses. ``NotFoundError`` if the key is not an active key of the user.
    """
    await _lock_user_defaults(conn, user_id)
    row = await _take_default(
        conn, "keys", KEY_COLUMNS, user_id=user_id, row_id=key_id, eligible="active", what="key"
    )
    newest = await conn.fetchval(
        """SELECT id FROM certificates WHERE key_id = $1 AND status = 'valid'
           ORDER BY not_after DESC, created_at DESC LIMIT 1""",
        key_id,
    )
    if newest is not None:
        await _make_default_certificate(conn, user_id, newest)
    return _as_row(KeyRow, row)


async def revoke_key(conn: Connection, key_id: UUID, reason: str) -> tuple[KeyRow, list[UUID]]:
    """Revoke a key and every valid certificate of it; return the key and the revoked certificates.

    Revoking a revoked key changes nothing (its first revocation time and reason stay).
    """
    row = await conn.fetchrow(
        f"""UPDATE keys SET status = 'revoked', is_default = false, revoked_at = now(), revocation_reason = $2
            WHERE id = $1 AND status = 'active' RETURNING {KEY_COLUMNS}""",
        key_id,
        reason,
    )
    if row is None:
        return await get_key(conn, key_id), []
    revoked = await conn.fetch(
        """UPDATE certificates SET status = 'revoked', is_default = false, revoked_at = now(),
                                   revocation_reason = $2
           WHERE key_id = $1 AND status = 'valid' RETURNING id""",
        key_id,
        reason,
    )
    return _as_row(KeyRow, row), [record["id"] for record in revoked]


# --- certificates --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CertificateRow:
    """One ``certificates`` row."""

    id: UUID
    """Primary key."""
    key_id: UUID
    """The certified key."""
    user_id: UUID
    """Owner (the key's owner)."""
    ca_id: UUID | None
    """The built-in CA that issued it; None for uploaded certificates."""
    der: bytes
    """The certificate."""
    fingerprint: bytes
    """SHA-256 of ``der``."""
    serial: str
    """Serial number, lower-case hex."""
    subject: str
    """Subject for display."""
    issuer: str
    """Issuer for display."""
    not_before: datetime
    """Start of validity."""
    not_after: datetime
    """End of validity."""
    source: str
    """``builtin_ca`` or ``uploaded``."""
    chain_validated: bool
    """Whether its chain was checked against trust anchors when stored."""
    status: str
    """``valid`` or ``revoked``."""
    revoked_at: datetime | None
    """When it was revoked."""
    revocation_reason: str | None
    """Why it was revoked."""
    is_default: bool
    """The owner's default certificate."""
    created_at: datetime
    """When it was stored."""


@dataclass(frozen=True, slots=True)
class NewCertificate:
    """The fields of a certificate to insert."""

    key_id: UUID
    """The certified key."""
    user_id: UUID
    """Owner."""
    der: bytes
    """The certificate."""
    serial: str
    """Serial number, lower-case hex."""
    subject: str
    """Subject for display."""
    issuer: str
    """Issuer for display."""
    not_before: datetime
    """Start of validity."""
    not_after: datetime
    """End of validity."""
    source: CertificateSource
    """Where it came from."""
    chain_validated: bool
    """Whether its chain was checked against trust anchors."""
    ca_id: UUID | None = None
    """The built-in CA that issued it (``source == 'builtin_ca'``)."""


async def insert_certificate(
    conn: Connection, certificate: NewCertificate, *, make_default: bool = False
) -> CertificateRow:
    """Insert a certificate of an active key.

    It becomes the default when asked to or when the user has no default certificate; a certificate
    made default also makes its key the default key. A second copy of the same DER raises
    ``ConflictError``; a key that is not active raises ``NotFoundError`` (checked under a row lock,
    so a revocation racing with the insert cannot leave a valid certificate on a revoked key).
    """
    await _lock_user_defaults(conn, certificate.user_id)
    active = await conn.fetchval(
        "SELECT status = 'active' FROM keys WHERE id = $1 AND user_id = $2 FOR UPDATE",
        certificate.key_id,
        certificate.user_id,
    )
    if not active:
        raise NotFoundError(f"key {certificate.key_id} is not an active key of this user")
    has_default = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM certificates WHERE user_id = $1 AND is_default)", certificate.user_id
    )
    row = await conn.fetchrow(
        f"""INSERT INTO certificates (key_id, user_id, ca_id, der, fingerprint, serial, subject, issuer,
                                      not_before, not_after, source, chain_validated)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING {CERTIFICATE_COLUMNS}""",
        certificate.key_id,
        certificate.user_id,
        certificate.ca_id,
        certificate.der,
        hashlib.sha256(certificate.der).digest(),
        certificate.serial,
        certificate.subject,
        certificate.issuer,
        certificate.not_before,
        certificate.not_after,
        certificate.source,
        certificate.chain_validated,
    )
    inserted = _as_row(CertificateRow, row)
    if make_default or not has_default:
        return await _make_default_certificate(conn, certificate.user_id, inserted.id)
    return inserted


async def get_certificate(conn: Connection, certificate_id: UUID) -> CertificateRow:
    """The certificate with ``certificate_id``; ``NotFoundError`` when there is none."""
    return _as_row(
        CertificateRow,
        await _row_by_id(conn, "certificates", CERTIFICATE_COLUMNS, certificate_id, "certificate"),
    )


async def list_certificates(
    conn: Connection,
    user_id: UUID,
    *,
    key_id: UUID | None = None,
    status: CertificateStatus | None = None,
    limit: int = 100,
    after: tuple[datetime, UUID] | None = None,
) -> list[CertificateRow]:
    """Up to ``limit`` certificates of ``user_id`` (of one key if given), oldest first."""
    after_time, after_id = after if after is not None else (None, None)
    rows = await conn.fetch(
        f"""SELECT {CERTIFICATE_COLUMNS} FROM certificates
            WHERE user_id = $1 AND ($2::uuid IS NULL OR key_id = $2) AND ($3::text IS NULL OR status = $3)
              AND ($5::timestamptz IS NULL OR (created_at, id) > ($5, $6::uuid))
            ORDER BY created_at, id LIMIT $4""",
        user_id,
        key_id,
        status,
        limit,
        after_time,
        after_id,
    )
    return [_as_row(CertificateRow, row) for row in rows]


async def set_default_certificate(conn: Connection, user_id: UUID, certificate_id: UUID) -> CertificateRow:
    """Make a valid certificate of ``user_id`` the default (its key becomes the default key too)."""
    await _lock_user_defaults(conn, user_id)
    return await _make_default_certificate(conn, user_id, certificate_id)


async def _make_default_certificate(conn: Connection, user_id: UUID, certificate_id: UUID) -> CertificateRow:
    row = await _take_default(
        conn,
        "certificates",
        CERTIFICATE_COLUMNS,
        user_id=user_id,
        row_id=certificate_id,
        eligible="valid",
        what="certificate",
    )
    chosen = _as_row(CertificateRow, row)
    await conn.execute(
        "UPDATE keys SET is_default = false WHERE user_id = $1 AND is_default AND id <> $2",
        user_id,
        chosen.key_id,
    )
    await conn.execute("UPDATE keys SET is_default = true WHERE id = $1 AND status = 'active'", chosen.key_id)
    return chosen


async def revoke_certificate(conn: Connection, certificate_id: UUID, reason: str) -> CertificateRow:
    """Revoke a certificate (a revoked one stays as first revoked)."""
    row = await conn.fetchrow(
        f"""UPDATE certificates SET status = 'revoked', is_default = false, revoked_at = now(),
                                    revocation_reason = $2
            WHERE id = $1 AND status = 'valid' RETURNING {CERTIFICATE_COLUMNS}""",
        certificate_id,
        reason,
    )
    if row is None:
        return await get_certificate(conn, certificate_id)
    return _as_row(CertificateRow, row)


@dataclass(frozen=True, slots=True)
class SigningRows:
    """A certificate and its key, read together for signing."""

    certificate: CertificateRow
    """The certificate."""
    key: KeyRow
    """Its key."""


async def signing_rows(conn: Connection, user_id: UUID, certificate_id: UUID | None) -> SigningRows | None:
    """The named certificate of ``user_id`` (or the user's default) with its key; None if there is none.

    A certificate of another user is None too: the caller cannot tell it from a missing one.
    """
    if certificate_id is None:
        row = await conn.fetchrow(
            f"SELECT {CERTIFICATE_COLUMNS} FROM certificates WHERE user_id = $1 AND is_default", user_id
        )
    else:
        row = await conn.fetchrow(
            f"SELECT {CERTIFICATE_COLUMNS} FROM certificates WHERE id = $1 AND user_id = $2",
            certificate_id,
            user_id,
        )
    if row is None:
        return None
    certificate = _as_row(CertificateRow, row)
    return SigningRows(certificate, await get_key(conn, certificate.key_id))


# --- the built-in CA -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaRow:
    """One ``ca`` row."""

    id: UUID
    """Primary key."""
    status: str
    """``active`` or ``retired``."""
    algorithm: str
    """Key algorithm of the CA key."""
    paramset: str | None
    """GOST parameter set name."""
    hsm_domain: str
    """Key store of the CA key."""
    hsm_key_id: str
    """Key id of the CA key."""
    wrapped_blob: bytes | None
    """Soft-unit blob of the CA key."""
    certificate_der: bytes
    """The CA's self-signed certificate."""
    subject: str
    """The CA's name for display."""
    not_before: datetime
    """Start of validity."""
    not_after: datetime
    """End of validity."""
    issued_count: int
    """Certificates issued so far."""
    next_crl_number: int
    """Number of the next CRL."""
    created_at: datetime
    """Creation time."""
    retired_at: datetime | None
    """When it stopped issuing."""


@dataclass(frozen=True, slots=True)
class NewCa:
    """The fields of a CA to insert."""

    algorithm: str
    """Key algorithm."""
    paramset: str | None
    """GOST parameter set name."""
    hsm_domain: str
    """Key store."""
    hsm_key_id: str
    """Key id."""
    wrapped_blob: bytes | None
    """Soft-unit blob."""
    certificate_der: bytes
    """Self-signed certificate."""
    subject: str
    """Name for display."""
    not_before: datetime
    """Start of validity."""
    not_after: datetime
    """End of validity."""


async def active_ca(conn: Connection) -> CaRow | None:
    """The active built-in CA, if it was created."""
    row = await conn.fetchrow(f"SELECT {CA_COLUMNS} FROM ca WHERE status = 'active'")
    return None if row is None else _as_row(CaRow, row)


async def insert_ca(conn: Connection, ca: NewCa) -> CaRow:
    """Insert the active CA; ``ConflictError`` when another process inserted one first."""
    row = await conn.fetchrow(
        f"""INSERT INTO ca (algorithm, paramset, hsm_domain, hsm_key_id, wrapped_blob, certificate_der,
                            subject, not_before, not_after)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {CA_COLUMNS}""",
        ca.algorithm,
        ca.paramset,
        ca.hsm_domain,
        ca.hsm_key_id,
        ca.wrapped_blob,
        ca.certificate_der,
        ca.subject,
        ca.not_before,
        ca.not_after,
    )
    return _as_row(CaRow, row)


async def count_issued(conn: Connection, ca_id: UUID) -> int:
    """Add one to the CA's issued count (in the unit that stores the certificate); return the new count."""
    count: int = await conn.fetchval(
        "UPDATE ca SET issued_count = issued_count + 1 WHERE id = $1 RETURNING issued_count", ca_id
    )
    return count


async def ca_certificates(conn: Connection) -> list[bytes]:
    """DER certificates of every built-in CA, active first (retired ones still anchor old signatures)."""
    rows = await conn.fetch("SELECT certificate_der FROM ca ORDER BY status = 'active' DESC, created_at DESC")
    return [bytes(row["certificate_der"]) for row in rows]


# --- trust anchors -------------------------------------------------------------------------------


async def add_trust_anchor(
    conn: Connection, der: bytes, subject: str, source: Literal["config", "admin"]
) -> bool:
    """Store an extra trust anchor unless it is there already; True when it was added."""
    status: str = await conn.execute(
        """INSERT INTO trust_anchors (fingerprint, der, subject, source) VALUES ($1, $2, $3, $4)
           ON CONFLICT (fingerprint) DO NOTHING""",
        hashlib.sha256(der).digest(),
        der,
        subject,
        source,
    )
    return status.endswith(" 1")


async def trust_anchor_certificates(conn: Connection) -> list[bytes]:
    """DER certificates of the extra trust anchors, oldest first."""
    rows = await conn.fetch("SELECT der FROM trust_anchors ORDER BY created_at, fingerprint")
    return [bytes(row["der"]) for row in rows]
