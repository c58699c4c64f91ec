"""``GET /api/v1/ca/certificate``: the built-in CA's certificate, public, for clients and ``openssl``.

PEM by default; DER with ``?format=der`` or ``Accept: application/pkix-cert``. The CA is created at
first use, so the first call may take a moment (a key generated in an HSM unit).
"""

from __future__ import annotations

from quart import Blueprint, Response, request
from quart_schema import tag

from edge.auth import public
from edge.keys.context import get_key_service

blueprint = Blueprint("ca", __name__, url_prefix="/api/v1")

DER_TYPE = "application/pkix-cert"
PEM_TYPE = "application/x-pem-file"


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
