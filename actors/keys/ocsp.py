"""``OcspResponder``: the built-in CA answers OCSP (RFC 6960) for the certificates it issued.

Every request is answered with DER of an ``OCSPResponse``, never an exception: a request that
cannot be parsed or asks about too many certificates gets ``malformedRequest``, an HSM or database
outage ``tryLater``, anything else ``internalError`` (logged). A CertID whose issuer hashes are not
the active CA's, or a serial the CA never issued, is answered ``unknown``.

Statuses are read live (one index lookup per request); the CA key signs each new answer in an HSM
unit (prepare → sign the digest in a unit → finish, as for certificates and CRLs) and every signed
response is audited (``audit_ocsp_answered``: the CA, the serials asked about, their count).

A signature costs an HSM round trip, so answers to requests *without* a nonce are cached per worker,
keyed by the exact CertIDs asked for, for ``ca.ocsp_cache_s`` seconds; a cached answer is served only
while the live statuses still equal those it was signed with, so a revocation (in any worker or
node) is never hidden by the cache. Concurrent identical requests wait for one signature. When no
unit can sign, a cached answer with the same statuses is served until its nextUpdate. Requests
with a nonce are signed every time (the nonce must be echoed), so anyone could make the HSM sign
at will: a worker signs at most ``ca.ocsp_nonce_signatures_per_s`` of them per second (a token
bucket, bursts of one second's worth) and answers the rest ``tryLater``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

import structlog
import trio

from actors.hsmpool import Balancer
from actors.identity.audit import audit
from actors.keys.errors import KeyStoreUnavailableError
from actors.keys.hsmkeys import sign_prepared
from signing.crl import crl_reason
from signing.errors import MalformedDataError
from signing.ocsp import (
    CertIdentity,
    CertStatus,
    IssuerHashes,
    OcspRequest,
    error_response,
    parse_request,
    prepare_response,
)
from storage import Database
from storage.errors import StorageUnavailableError
from storage.repos import ocsp as repo

if TYPE_CHECKING:
    from actors.keys.ca import BuiltinCa, LoadedCa

__all__ = [
    "CACHE_ENTRIES",
    "CACHE_S",
    "MAX_CERT_IDS",
    "MAX_REQUEST_BYTES",
    "NONCE_SIGNATURES_PER_S",
    "RESPONSE_VALIDITY",
    "OcspResponder",
]

log = structlog.get_logger("actors.keys.ocsp")

MAX_CERT_IDS = 20
"""Most certificates one request may ask about by default (``ca.ocsp_max_cert_ids``)."""

MAX_REQUEST_BYTES = 16 * 1024
"""Default largest OCSP request (``ca.ocsp_max_request_bytes``; 20 SHA-256 CertIDs, a nonce and a
signature fit in a few KiB)."""

CACHE_S = 60.0
"""Default reuse time of a signed answer to a request without a nonce (``ca.ocsp_cache_s``)."""

CACHE_ENTRIES = 4096
"""Most cached answers per worker (oldest dropped first)."""

NONCE_SIGNATURES_PER_S = 50.0
"""Default signatures per second for requests with a nonce (``ca.ocsp_nonce_signatures_per_s``)."""

RESPONSE_VALIDITY = dt.timedelta(hours=1)
"""Default nextUpdate − thisUpdate of answers (``ca.ocsp_validity_s``)."""

_Key = tuple[UUID, tuple[bytes, ...]]


@dataclass(frozen=True, slots=True)
class _Signed:
    """A signed answer and what it said."""

    statuses: tuple[CertStatus, ...]
    der: bytes
    reuse_until: dt.datetime
    next_update: dt.datetime


class OcspResponder:
    """The built-in CA's OCSP responder in one worker: live statuses, HSM-signed, cached briefly."""

    def __init__(
        self,
        ca: BuiltinCa,
        db: Database,
        hsm: Balancer,
        *,
        cache_s: float = CACHE_S,
        validity: dt.timedelta = RESPONSE_VALIDITY,
        max_cert_ids: int = MAX_CERT_IDS,
        nonce_signatures_per_s: float = NONCE_SIGNATURES_PER_S,
    ) -> None:
        """``cache_s`` 0 disables the cache; ``validity`` must exceed ``cache_s``;
        ``nonce_signatures_per_s`` 0 signs every request with a nonce."""
        if validity <= dt.timedelta(seconds=cache_s):
            raise ValueError("an answer must stay valid longer than it is cached")
        self._ca = ca
        self._db = db
        self._hsm = hsm
        self._cache_for = dt.timedelta(seconds=cache_s)
        self._validity = validity
        self._max_cert_ids = max_cert_ids
        self._nonces = None if nonce_signatures_per_s <= 0 else _TokenBucket(nonce_signatures_per_s)
        self._cache: OrderedDict[_Key, _Signed] = OrderedDict()
        self._signing: dict[_Key, trio.Event] = {}
        self._hashes: tuple[UUID, IssuerHashes] | None = None

    async def respond(self, request_der: bytes) -> bytes:
        """DER of the OCSPResponse answering ``request_der`` (an error response when it cannot)."""
        try:
            request = parse_request(request_der, max_cert_ids=self._max_cert_ids)
        except MalformedDataError as exc:
            log.info("ocsp_request_refused", code=exc.code, error=str(exc))
            return error_response("malformed_request")
        try:
            return await self._answer(request)
        except (KeyStoreUnavailableError, StorageUnavailableError) as exc:
            log.warning("ocsp_try_later", error_type=type(exc).__name__, error=str(exc))
            return error_response("try_later")
        except Exception as exc:  # trio.Cancelled is a BaseException and passes through
            log.error("ocsp_failed", error_type=type(exc).__name__, exc_info=exc)
            return error_response("internal_error")

    async def _answer(self, request: OcspRequest) -> bytes:
        ca = await self._ca.get()
        statuses = await self._statuses(ca, request.cert_ids)
        if request.nonce is not None and self._nonces is not None and not self._nonces.take():
            log.warning("ocsp_nonce_rate_exceeded", ca_id=str(ca.id))
            return error_response("try_later")
        if request.nonce is not None or self._cache_for <= dt.timedelta(0):
            return (await self._sign(ca, request, statuses)).der
        key: _Key = (ca.id, tuple(identity.der for identity in request.cert_ids))
        while True:
            cached = self._cache.get(key)
            fresh = cached is not None and dt.datetime.now(dt.UTC) < cached.reuse_until
            if cached is not None and fresh and cached.statuses == statuses:
                return cached.der
            pending = self._signing.get(key)
            if pending is None:
                break
            await pending.wait()  # another task signs this very answer: reuse it
        done = self._signing[key] = trio.Event()
        try:
            signed = await self._sign_or_reuse(ca, request, statuses, cached)
            self._remember(key, signed)
            return signed.der
        finally:
            del self._signing[key]
            done.set()

    async def _sign_or_reuse(
        self, ca: LoadedCa, request: OcspRequest, statuses: tuple[CertStatus, ...], cached: _Signed | None
    ) -> _Signed:
        try:
            return await self._sign(ca, request, statuses)
        except KeyStoreUnavailableError as exc:
            # An answer that still says the same and is before its nextUpdate is still true.
            if cached is None or cached.statuses != statuses or dt.datetime.now(dt.UTC) >= cached.next_update:
                raise
            log.warning("ocsp_resign_deferred", ca_id=str(ca.id), error=str(exc))
            return cached

    def _remember(self, key: _Key, signed: _Signed) -> None:
        self._cache[key] = signed
        self._cache.move_to_end(key)
        while len(self._cache) > CACHE_ENTRIES:
            self._cache.popitem(last=False)

    def _issuer_hashes(self, ca: LoadedCa) -> IssuerHashes:
        if self._hashes is None or self._hashes[0] != ca.id:
            self._hashes = (ca.id, IssuerHashes(ca.certificate))
        return self._hashes[1]

    async def _statuses(self, ca: LoadedCa, cert_ids: tuple[CertIdentity, ...]) -> tuple[CertStatus, ...]:
        hashes = self._issuer_hashes(ca)
        ours = [identity.serial_number for identity in cert_ids if hashes.names(identity)]
        wanted = sorted({f"{serial:x}" for serial in ours})
        rows = await self._db.run_readonly(repo.statuses_by_serial, ca.id, wanted) if wanted else []
        known: dict[int, CertStatus] = {}
        for row in rows:
            serial = int(row.serial, 16)
            if row.status == "revoked" and row.revoked_at is not None:
                known[serial] = CertStatus.revoked(row.revoked_at, crl_reason(row.revocation_reason))
            else:
                known.setdefault(serial, CertStatus.good())
        return tuple(
            known.get(identity.serial_number, CertStatus.unknown())
            if hashes.names(identity)
            else CertStatus.unknown()
            for identity in cert_ids
        )

    async def _sign(self, ca: LoadedCa, request: OcspRequest, statuses: tuple[CertStatus, ...]) -> _Signed:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        next_update = now + self._validity
        prepared = prepare_response(
            issuer=ca.certificate,
            signature_algorithm=ca.signature_algorithm,
            request=request,
            statuses=statuses,
            produced_at=now,
            next_update=next_update,
        )
        signature = await sign_prepared(self._hsm, ca.key, ca.signature_algorithm, prepared)
        response = prepared.finish(signature)
        audit(
            "audit_ocsp_answered",
            ca_id=str(ca.id),
            count=len(request.cert_ids),
            serials=[f"{identity.serial_number:x}" for identity in request.cert_ids],
            statuses=[status.kind for status in statuses],
            nonce=request.nonce is not None,
        )
        return _Signed(statuses, response.der, now + self._cache_for, next_update)


class _TokenBucket:
    """At most ``rate`` takes per second on average, in bursts of up to one second's worth (at least 1)."""

    __slots__ = ("_at", "_capacity", "_rate", "_tokens")

    def __init__(self, rate: float) -> None:
        self._rate = rate
        self._capacity = max(1.0, rate)
        self._tokens = self._capacity
        self._at = time.monotonic()

    def take(self) -> bool:
        """Take one token if there is one."""
        now = time.monotonic()
        self._tokens = min(self._capacity, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True
