"""The enrolment QR code: its payload (server URL, device id, secret) and its PNG and SVG images.

Payload (ASCII, ~130 characters: QR version 7 at error correction M)::

    klyuch://enroll?u=<server URL, percent-encoded>&d=<device id, 32 hex digits>&k=<secret, base64url>

``k`` is the 32-byte device secret in base64url without padding (43 characters). The payload is a
secret: it is shown once, while the device is pending, and served with ``Cache-Control: no-store``.
"""

from __future__ import annotations

import base64
import binascii
import io
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit
from uuid import UUID

import qrcode
import qrcode.constants
import qrcode.image.pil
import qrcode.image.svg

from actors.sessions.crypto import SECRET_BYTES

SCHEME = "klyuch"
"""URI scheme of enrolment payloads."""
ACTION = "enroll"
"""Host part of enrolment payloads."""
BOX_PIXELS = 8
"""Pixels per module in the PNG."""
BORDER_MODULES = 4
"""Quiet zone, in modules (the QR standard's minimum)."""


@dataclass(frozen=True, slots=True)
class EnrolmentPayload:
    """What the QR code carries."""

    server_url: str
    """Base URL of the server (``http(s)://host[:port]``)."""
    device_id: UUID
    """The device."""
    secret: bytes = field(repr=False)
    """The device secret."""

    def encode(self) -> str:
        """The payload text."""
        query = urlencode({"u": self.server_url, "d": self.device_id.hex, "k": _b64url(self.secret)})
        return f"{SCHEME}://{ACTION}?{query}"

    @classmethod
    def parse(cls, text: str) -> EnrolmentPayload:
        """Read a payload; ``ValueError`` naming what is wrong."""
        parts = urlsplit(text.strip())
        if parts.scheme != SCHEME or parts.netloc != ACTION:
            raise ValueError(f"not a {SCHEME}://{ACTION} payload")
        query = parse_qs(parts.query, strict_parsing=True)
        if any(len(values) != 1 for values in query.values()) or set(query) != {"u", "d", "k"}:
            raise ValueError("the payload needs exactly one each of u, d and k")
        server_url = query["u"][0]
        if urlsplit(server_url).scheme not in ("http", "https"):
            raise ValueError("u must be an http(s) URL")
        try:
            secret = base64.urlsafe_b64decode(query["k"][0] + "=" * (-len(query["k"][0]) % 4))
        except (binascii.Error, ValueError):
            raise ValueError("k is not base64url") from None
        if len(secret) != SECRET_BYTES:
            raise ValueError(f"k must hold {SECRET_BYTES} bytes")
        return cls(server_url.rstrip("/"), UUID(query["d"][0]), secret)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _qr(payload: str, box_size: int) -> qrcode.QRCode:
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size, border=BORDER_MODULES
    )
    code.add_data(payload)
    code.make(fit=True)
    return code


def qr_png(payload: str) -> bytes:
    """The payload as a PNG image (black on white)."""
    buffer = io.BytesIO()
    _qr(payload, BOX_PIXELS).make_image(image_factory=qrcode.image.pil.PilImage).save(buffer)
    return buffer.getvalue()


def qr_svg(payload: str) -> bytes:
    """The payload as an SVG image (one path, scalable viewBox)."""
    buffer = io.BytesIO()
    _qr(payload, 10).make_image(image_factory=qrcode.image.svg.SvgPathImage).save(buffer)
    return buffer.getvalue()
