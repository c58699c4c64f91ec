"""Extra trust anchors: external CA certificates that uploaded certificates must chain to.

Configured as files (``CaSettings.trust_anchor_files``); :func:`import_trust_anchor_files` adds them
to the database at start, where every worker and node finds them (``material.trust_anchors``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import trio

from actors.identity.audit import audit
from actors.keys.errors import InvalidKeyRequestError
from actors.keys.subject import display_name
from signing.errors import SigningError
from signing.x509 import Certificate
from storage import Database
from storage.repos import keys as repo


async def import_trust_anchor_files(db: Database, paths: Sequence[Path]) -> int:
    """Add each file's CA certificate (PEM or DER) as a trust anchor; return how many were new.

    ``InvalidKeyRequestError`` names a file that cannot be read or is not a CA certificate: a
    misconfigured anchor must stop the start, not weaken the checks silently.
    """
    added = 0
    for path in paths:
        try:
            data = await trio.Path(path).read_bytes()
            certificate = Certificate.load(data)
        except (OSError, SigningError) as exc:
            raise InvalidKeyRequestError(f"trust anchor file {path}: {exc}") from exc
        if not certificate.is_ca:
            raise InvalidKeyRequestError(f"trust anchor file {path} is not a CA certificate")
        subject = display_name(certificate.subject)
        if await db.run(repo.add_trust_anchor, certificate.der, subject, "config"):
            audit("audit_trust_anchor_added", subject=subject, source="config", file=str(path))
            added += 1
    return added
