"""Signatures of deliveries: ``X-Klyuch-Signature: v1=<hex HMAC_GOSTR3411_2012_256(secret, t "." body)>``.

The HMAC (R 50.1.113-2016, ``signing.gost.hmac_gostr3411_2012_256``) covers the decimal Unix time
of the ``X-Klyuch-Timestamp`` header, a dot, and the raw request body exactly as sent. The body
names its ``delivery_id``, so the id is authenticated too.

How a receiver verifies a delivery (``verify_delivery`` does steps 1–3):

1. read the raw body bytes before any JSON parsing, and the two headers;
2. reject when ``|now - timestamp| > tolerance`` (300 s is a sound default): a captured request can
   only be replayed within that window;
3. compute ``HMAC_GOSTR3411_2012_256(secret, timestamp + "." + body)`` and compare it in constant
   time with every ``v1=`` value of the signature header (several appear while a secret rotates);
4. parse the body; refuse a ``delivery_id`` already processed. Remember processed ids for at least
   the tolerance window (which defeats replays); remembering them as long as retries last (hours,
   see ``callbacks.max_attempts``) also makes retried deliveries idempotent, since every retry of one
   delivery carries the same id and a fresh timestamp and signature.

The same check with the ``openssl`` CLI and the gost engine::

    printf '%s.%s' "$TIMESTAMP" "$BODY" | openssl dgst -engine gost -md_gost12_256 \\
        -mac hmac -macopt hexkey:$SECRET_HEX
"""

from __future__ import annotations

import hmac

from signing.gost import hmac_gostr3411_2012_256

VERSION = "v1"
"""Scheme tag of the signature value."""

DEFAULT_TOLERANCE_S = 300
"""Receiver-side window for the timestamp (seconds either way)."""


def signing_input(timestamp: int, body: bytes) -> bytes:
    """The bytes the HMAC covers: ``<timestamp>.<body>``."""
    return str(timestamp).encode("ascii") + b"." + body


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The ``X-Klyuch-Signature`` value for ``body`` sent at ``timestamp``."""
    return f"{VERSION}=" + hmac_gostr3411_2012_256(secret, signing_input(timestamp, body)).hex()


def verify_delivery(
    secret: bytes,
    *,
    timestamp_header: str,
    signature_header: str,
    body: bytes,
    now: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> bool:
    """Receiver side, steps 1–3 of the module docstring: True when fresh and signed with ``secret``.

    Deduplicating by ``delivery_id`` (step 4) is the receiver's own state and is left to it.
    """
    if not timestamp_header.isdigit() or len(timestamp_header) > 12:
        return False
    timestamp = int(timestamp_header)
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body).encode("ascii")
    candidates = [part.strip().encode("ascii", "replace") for part in signature_header.split(",")]
    # Compare against every candidate (no early exit) so timing says nothing about which matched.
    matches = [hmac.compare_digest(expected, candidate) for candidate in candidates]
    return any(matches)
