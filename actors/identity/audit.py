"""``audit(event, **fields)``: the one place security events leave the identity domain.

For now an audit event is a structured log line at info level on the ``audit`` logger, its event
name starting with ``audit_``. The hash-chained audit log (the Audit actor) will take over by
redirecting this function; callers do not change. Fields name who and what (user id, username,
client id, address, reason, token id), never passwords, tokens, secrets or hashes.
"""

from __future__ import annotations

import structlog

_log = structlog.get_logger("audit")


def audit(event: str, **fields: object) -> None:
    """Record the security event ``event`` (``audit_*`` snake_case) with its fields."""
    if not event.startswith("audit_"):
        raise ValueError(f"audit event names start with 'audit_': {event!r}")
    _log.info(event, **fields)
