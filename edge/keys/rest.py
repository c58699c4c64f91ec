"""``/api/v1/keys`` and ``/api/v1/certificates``: a user's keys and certificates.

* ``POST /keys`` — generate a key in an HSM unit (201).
* ``GET /keys`` — the caller's keys (operators: ``?user_id=``), paged; ``GET /keys/{id}`` — one.
* ``POST /keys/{id}/csr`` — a PKCS#10 request signed by the key in the HSM (PEM).
* ``POST /keys/{id}/certificate`` — the built-in CA certifies the key now (201; 403 when the
  policy says CSR + upload instead).
* ``PUT /keys/{id}/certificate`` — upload a certificate an external CA issued for the key (201;
  422 when it certifies another key or does not chain to the trust anchors).
* ``POST /keys/{id}/default``, ``POST /keys/{id}/revoke``.
* ``GET /certificates`` (``?key_id=``, operators ``?user_id=``), ``GET /certificates/{id}``,
  ``POST /certificates/{id}/default``, ``POST /certificates/{id}/revoke``.

Someone else's key or certificate answers 404 like a missing one. The rules live in
``actors.keys.service``; this module only speaks HTTP.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from uuid import UUID

from quart import Blueprint
from quart_schema import tag, validate_querystring, validate_request, validate_response

from actors.keys.hsmkeys import signature_algorithm_of
from actors.keys.service import KeyService
from actors.keys.subject import display_name
from edge.auth import current_principal
from edge.errors import BadRequestError
from edge.keys.context import get_key_service
from edge.keys.models import (
    CertificateListQuery,
    CertificateOut,
    CertificatePage,
    CsrCreate,
    CsrOut,
    IssueCreate,
    KeyCreate,
    KeyListQuery,
    KeyOut,
    KeyPage,
    Revoke,
    UploadCreate,
    UploadOut,
    certificate_bytes,
    key_out,
)
from storage.repos.keys import KeyRow

blueprint = Blueprint("keys", __name__, url_prefix="/api/v1")


def _service() -> KeyService:
    return get_key_service()


def _key(row: KeyRow) -> KeyOut:
    return key_out(row, signature_algorithm_of(row.algorithm).name)


# --- keys ----------------------------------------------------------------------------------------


@blueprint.post("/keys")
@tag(["keys"])
@validate_request(KeyCreate)
@validate_response(KeyOut, 201)
async def create_key(data: KeyCreate) -> tuple[KeyOut, int]:
    """Generate a key for the caller in an HSM unit (GOST R 34.10-2012 256/512, ECDSA P-256)."""
    row = await _service().create_key(
        current_principal(),
        algorithm=data.algorithm,
        paramset=data.paramset,
        label=data.label,
        make_default=data.default,
        hsm_domain=data.hsm_domain,
    )
    return _key(row), 201


@blueprint.get("/keys")
@tag(["keys"])
@validate_querystring(KeyListQuery)
@validate_response(KeyPage)
async def list_keys(query_args: KeyListQuery) -> KeyPage:
    """The caller's keys, oldest first (operators: any user's with ``user_id``)."""
    rows = await _service().list_keys(
        current_principal(),
        user_id=query_args.user_id,
        status=query_args.status,
        limit=query_args.limit + 1,
        after=_decode_cursor(query_args.cursor),
    )
    page = rows[: query_args.limit]
    more = len(rows) > query_args.limit
    return KeyPage(
        items=[_key(row) for row in page],
        next_cursor=_encode_cursor(page[-1].created_at, page[-1].id) if more else None,
    )


@blueprint.get("/keys/<uuid:key_id>")
@tag(["keys"])
@validate_response(KeyOut)
async def get_key(key_id: UUID) -> KeyOut:
    """One key."""
    return _key(await _service().get_key(current_principal(), key_id))


@blueprint.post("/keys/<uuid:key_id>/csr")
@tag(["keys"])
@validate_request(CsrCreate)
@validate_response(CsrOut)
async def key_csr(key_id: UUID, data: CsrCreate) -> CsrOut:
    """A PKCS#10 certification request for the key, signed in the HSM (subject: the body's, else
    the user's profile)."""
    subject = data.subject.attributes() if data.subject is not None else None
    request = await _service().certification_request(current_principal(), key_id, subject=subject)
    return CsrOut(
        key_id=key_id,
        subject=display_name(request.subject),
        signature_algorithm=request.signature_algorithm.name,
        pem=request.pem().decode("ascii"),
    )


@blueprint.post("/keys/<uuid:key_id>/certificate")
@tag(["keys", "certificates"])
@validate_request(IssueCreate)
@validate_response(CertificateOut, 201)
async def issue_certificate(key_id: UUID, data: IssueCreate) -> tuple[CertificateOut, int]:
    """Have the built-in CA certify the key now (when its policy allows)."""
    subject = data.subject.attributes() if data.subject is not None else None
    row = await _service().issue_certificate(
        current_principal(),
        key_id,
        subject=subject,
        validity_days=data.validity_days,
        make_default=data.default,
    )
    return CertificateOut.of(row), 201


@blueprint.put("/keys/<uuid:key_id>/certificate")
@tag(["keys", "certificates"])
@validate_request(UploadCreate)
@validate_response(UploadOut, 201)
async def upload_certificate(key_id: UUID, data: UploadCreate) -> tuple[UploadOut, int]:
    """Store a certificate an external CA issued for the key (checked against the key and the
    trust anchors)."""
    stored = await _service().upload_certificate(
        current_principal(),
        key_id,
        certificate=certificate_bytes(data.certificate),
        chain=[certificate_bytes(item) for item in data.chain],
        make_default=data.default,
    )
    out = CertificateOut.of(stored.row)
    return UploadOut(**out.model_dump(), warnings=list(stored.warnings)), 201


@blueprint.post("/keys/<uuid:key_id>/default")
@tag(["keys"])
@validate_response(KeyOut)
async def default_key(key_id: UUID) -> KeyOut:
    """Make the key the default (its newest valid certificate becomes the default certificate)."""
    return _key(await _service().set_default_key(current_principal(), key_id))


@blueprint.post("/keys/<uuid:key_id>/revoke")
@tag(["keys"])
@validate_request(Revoke)
@validate_response(KeyOut)
async def revoke_key(key_id: UUID, data: Revoke) -> KeyOut:
    """Revoke the key and its certificates: it signs nothing any more."""
    return _key(await _service().revoke_key(current_principal(), key_id, reason=data.reason))


# --- certificates --------------------------------------------------------------------------------


@blueprint.get("/certificates")
@tag(["certificates"])
@validate_querystring(CertificateListQuery)
@validate_response(CertificatePage)
async def list_certificates(query_args: CertificateListQuery) -> CertificatePage:
    """The caller's certificates, oldest first (operators: any user's with ``user_id``)."""
    rows = await _service().list_certificates(
        current_principal(),
        user_id=query_args.user_id,
        key_id=query_args.key_id,
        status=query_args.status,
        limit=query_args.limit + 1,
        after=_decode_cursor(query_args.cursor),
    )
    page = rows[: query_args.limit]
    more = len(rows) > query_args.limit
    return CertificatePage(
        items=[CertificateOut.of(row) for row in page],
        next_cursor=_encode_cursor(page[-1].created_at, page[-1].id) if more else None,
    )


@blueprint.get("/certificates/<uuid:certificate_id>")
@tag(["certificates"])
@validate_response(CertificateOut)
async def get_certificate(certificate_id: UUID) -> CertificateOut:
    """One certificate."""
    return CertificateOut.of(await _service().get_certificate(current_principal(), certificate_id))


@blueprint.post("/certificates/<uuid:certificate_id>/default")
@tag(["certificates"])
@validate_response(CertificateOut)
async def default_certificate(certificate_id: UUID) -> CertificateOut:
    """Make the certificate the default (what signing uses when no certificate is named)."""
    return CertificateOut.of(await _service().set_default_certificate(current_principal(), certificate_id))


@blueprint.post("/certificates/<uuid:certificate_id>/revoke")
@tag(["certificates"])
@validate_request(Revoke)
@validate_response(CertificateOut)
async def revoke_certificate(certificate_id: UUID, data: Revoke) -> CertificateOut:
    """Revoke the certificate: nothing is signed under it any more."""
    row = await _service().revoke_certificate(current_principal(), certificate_id, reason=data.reason)
    return CertificateOut.of(row)


# --- paging --------------------------------------------------------------------------------------


def _encode_cursor(created_at: datetime, row_id: UUID) -> str:
    text = f"{created_at.isoformat()}|{row_id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> tuple[datetime, UUID] | None:
    if cursor is None:
        return None
    try:
        text = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
        stamp, _, row_id = text.partition("|")
        after = datetime.fromisoformat(stamp), UUID(row_id)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadRequestError("the cursor is malformed") from None
    if after[0].tzinfo is None:
        raise BadRequestError("the cursor is malformed")
    return after
