"""The built-in CA's public documents, for clients and ``openssl``; no authentication.

* ``GET /api/v1/ca/certificate``: its certificate; PEM by default, DER with ``?format=der`` or
  ``Accept: application/pkix-cert``;
* ``GET /api/v1/ca/crl``: its current CRL (RFC 5280, signed in the HSM, cached and re-signed when a
  certificate is revoked or it ages: ``actors.keys.crl``); DER (``application/pkix-crl``, as RFC 5280
  §4.2.1.13 distribution points serve it) by default, PEM with ``?format=pem`` or
  ``Accept: application/x-pem-file``;
* ``POST /api/v1/ca/ocsp`` (``application/ocsp-request`` in) and ``GET /api/v1/ca/ocsp/<base64
  request>`` (RFC 6960 Appendix A; url-encoded base64): its OCSP responder (``actors.keys.ocsp``),
  ``application/ocsp-response`` out. Every OCSP answer is HTTP 200 with an OCSPResponse, errors
  included (``malformedRequest`` for garbage or too many CertIDs, ``tryLater`` while the server
  starts or no HSM unit can sign), except a body over the size cap: HTTP 413, unread.

The CA is created at first use, so the first call may take a moment (a key generated in an HSM unit).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import email.utils
import urllib.parse

from quart import Blueprint, Response, request
from quart_schema import tag

from edge.auth import public
from edge.errors import NotReadyError
from edge.keys.context import get_key_service
from edge.problems import problem_response
from signing.ocsp import error_response

blueprint = Blueprint("ca", __name__, url_prefix="/api/v1")

DER_TYPE = "application/pkix-cert"
PEM_TYPE = "application/x-pem-file"
CRL_TYPE = "application/pkix-crl"
OCSP_RESPONSE_TYPE = "application/ocsp-response"


@blueprint.get("/ca/certificate")
@public
@tag(["certificates"])
async def ca_certificate() -> Response:
    """The built-in CA's certificate (PEM, or DER with ``?format=der``)."""
    certificate = await get_key_service().ca_certificate()
    wants_der = request.args.get("format") == "der" or (
        request.accept_mimetypes.best_match([PEM_TYPE, DER_TYPE]) == DER_TYPE
        and request.accept_mimetypes[DER_TYPE] > request.accept_mimetypes[PEM_TYPE]
    )
    headers = {"Cache-Control": "public, max-age=300"}
    if wants_der:
        headers["Content-Disposition"] = 'attachment; filename="klyuch-ca.cer"'
        return Response(certificate.der, content_type=DER_TYPE, headers=headers)
    headers["Content-Disposition"] = 'attachment; filename="klyuch-ca.pem"'
    return Response(certificate.pem(), content_type=PEM_TYPE, headers=headers)


@blueprint.get("/ca/crl")
@public
@tag(["certificates"])
async def ca_crl() -> Response:
    """The built-in CA's current CRL (DER, or PEM with ``?format=pem``)."""
    crl = await get_key_service().ca.crl()
    wants_pem = request.args.get("format") == "pem" or (
        request.accept_mimetypes.best_match([CRL_TYPE, PEM_TYPE]) == PEM_TYPE
        and request.accept_mimetypes[PEM_TYPE] > request.accept_mimetypes[CRL_TYPE]
    )
    # A revocation must be visible at once: caches revalidate instead of serving a stale list.
    headers = {"Cache-Control": "no-cache", "Last-Modified": _http_date(crl.this_update)}
    if wants_pem:
        headers["Content-Disposition"] = 'attachment; filename="klyuch-ca.crl.pem"'
        return Response(crl.pem(), content_type=PEM_TYPE, headers=headers)
    headers["Content-Disposition"] = 'attachment; filename="klyuch-ca.crl"'
    return Response(crl.der, content_type=CRL_TYPE, headers=headers)


@blueprint.post("/ca/ocsp")
@public
@tag(["certificates"])
async def ca_ocsp_post() -> Response:
    """OCSP over POST: the DER OCSPRequest is the body (RFC 6960 Appendix A.1)."""
    try:
        keys = get_key_service()
    except NotReadyError:
        return _ocsp_response(error_response("try_later"), cache_control="no-store")
    limit = keys.settings.ocsp_max_request_bytes
    if (request.content_length or 0) > limit:
        return _too_large(limit)
    body = await request.get_data(as_text=False)
    assert isinstance(body, bytes)  # as_text=False: quart's overloads do not say so
    if len(body) > limit:  # a chunked body announces no length
        return _too_large(limit)
    return _ocsp_response(await keys.ca.ocsp.respond(body), cache_control="no-store")


@blueprint.get("/ca/ocsp/<path:encoded>", merge_slashes=False)
@public
@tag(["certificates"])
async def ca_ocsp_get(encoded: str) -> Response:
    """OCSP over GET: the DER OCSPRequest, base64 then url-encoded, is the last path segment(s)."""
    try:
        keys = get_key_service()
    except NotReadyError:
        return _ocsp_response(error_response("try_later"), cache_control="no-store")
    der = _from_url(encoded, keys.settings.ocsp_max_request_bytes)
    if der is None:
        return _ocsp_response(error_response("malformed_request"), cache_control="no-store")
    # Revocations must be seen at once: shared caches revalidate instead of serving an old "good".
    return _ocsp_response(await keys.ca.ocsp.respond(der), cache_control="no-cache")


def _from_url(encoded: str, limit: int) -> bytes | None:
    """The request in a GET path; None when it is no base64 or larger than ``limit`` bytes."""
    if len(encoded) > limit * 2:
        return None
    # The server already decoded %xx once; a client that encoded twice still gets through, and a
    # '+' turned into a space by a form-style encoder is put back. URL-safe base64 is accepted too.
    text = urllib.parse.unquote(encoded).replace(" ", "+").replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        der = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return der if len(der) <= limit else None


def _ocsp_response(der: bytes, *, cache_control: str) -> Response:
    return Response(
        der, status=200, content_type=OCSP_RESPONSE_TYPE, headers={"Cache-Control": cache_control}
    )


def _too_large(limit: int) -> Response:
    detail = f"OCSP requests are limited to {limit} bytes (ca.ocsp_max_request_bytes)"
    return problem_response(413, "Request body too large", detail, code="too_large")


def _http_date(when: dt.datetime) -> str:
    return email.utils.format_datetime(when.astimezone(dt.UTC), usegmt=True)
