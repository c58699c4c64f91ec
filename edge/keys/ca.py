"""The built-in CA's public documents, for clients and ``openssl``; no authentication.

* ``GET /api/v1/ca/certificate``: its certificate; PEM by default, DER with ``?format=der`` or
  ``Accept: application/pkix-cert``;
* ``GET /api/v1/ca/crl``: its current CRL (RFC 5280, signed in the HSM, cached and re-signed when a
  certificate is revoked or it ages: ``actors.keys.crl``); DER (``application/pkix-crl``, as RFC 5280
  §4.2.1.13 distribution points serve it) by default, PEM with ``?format=pem`` or
  ``Accept: application/x-pem-file``.

The CA is created at first use, so the first call may take a moment (a key generated in an HSM unit).
"""

from __future__ import annotations

import datetime as dt
import email.utils

from quart import Blueprint, Response, request
from quart_schema import tag

from edge.auth import public
from edge.keys.context import get_key_service

blueprint = Blueprint("ca", __name__, url_prefix="/api/v1")

DER_TYPE = "application/pkix-cert"
PEM_TYPE = "application/x-pem-file"
CRL_TYPE = "application/pkix-crl"


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


def _http_date(when: dt.datetime) -> str:
    return email.utils.format_datetime(when.astimezone(dt.UTC), usegmt=True)
