"""The wire format of one delivery: a JSON body and the headers that sign it.

``POST <callback_url>`` with ``Content-Type: application/json`` and the body::

    {"event": "operation.completed", "delivery_id": "<uuid>", "operation_id": "<uuid>",
     "delivered_at": "2025-01-31T12:00:00Z", "attempt": 1, "payload": {...}}

Headers: ``X-Klyuch-Delivery`` (the delivery id, the same on every retry), ``X-Klyuch-Event``,
``X-Klyuch-Timestamp`` (decimal Unix seconds, equal to ``delivered_at``) and ``X-Klyuch-Signature``
(``actors.callbacks.signature``). The body is compact UTF-8 JSON; receivers must verify the raw bytes
they received, never a re-serialisation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from actors.callbacks.signature import sign
from storage.repos.callbacks import DeliveryRow

HEADER_DELIVERY = "X-Klyuch-Delivery"
"""Delivery id: stable across retries; the receiver's idempotency key."""
HEADER_EVENT = "X-Klyuch-Event"
"""Event name (also in the body)."""
HEADER_TIMESTAMP = "X-Klyuch-Timestamp"
"""Unix seconds of this attempt; part of the signed input."""
HEADER_SIGNATURE = "X-Klyuch-Signature"
"""``v1=<hex HMAC>``."""
USER_AGENT = "Klyuch-Callbacks/1"
"""``User-Agent`` of deliveries."""


@dataclass(frozen=True, slots=True)
class SignedDelivery:
    """What one attempt sends (the body is never logged)."""

    body: bytes
    """The JSON body as sent and signed."""
    headers: dict[str, str]
    """Content type, user agent and the four ``X-Klyuch-*`` headers."""


def render(row: DeliveryRow, *, secret: bytes, now: datetime) -> SignedDelivery:
    """Body and signed headers of attempt ``row.attempts`` of ``row`` made at ``now``."""
    timestamp = int(now.timestamp())
    document: dict[str, Any] = {
        "event": row.event,
        "delivery_id": str(row.id),
        "operation_id": str(row.operation_id),
        "delivered_at": datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "attempt": row.attempts,
        "payload": json.loads(row.payload),
    }
    body = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        HEADER_DELIVERY: str(row.id),
        HEADER_EVENT: row.event,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: sign(secret, timestamp, body),
    }
    return SignedDelivery(body, headers)
