"""``audit(event, **fields)``: the one place security events leave the identity domain.

For now an audit event is a structured log line at info level on the ``audit`` logger, its event
name starting with ``audit_``. The hash-chained audit log (the Audit actor) will take over by
redirecting this function; callers do not change. Fields name who and what (user id, username,
client id, address, reason, token id), never passwords, tokens, secrets or hashes.

``audit_enabled()`` tells a hot path whether an event would be recorded at all, so it can skip
building the fields (text of UUIDs and the like) when the log level drops them.
"""

from __future__ import annotations

import logging

import structlog

_log = structlog.get_logger("audit")


def audit(event: str, **fields: object) -> None:
    """Record the security event ``event`` (``audit_*`` snake_case) with its fields."""
    if not event.startswith("audit_"):
        raise ValueError(f"audit event names start with 'audit_': {event!r}")
    _log.info(event, **fields)


def audit_enabled() -> bool:
    """Whether ``audit`` records events now (False only when the log level drops info events).

    Whatever takes over ``audit`` (the hash-chained audit log) must answer True here.
    """
    # structlog's filtering loggers (the configured ones) answer; any other logger records info.
    try:
        return bool(_log.is_enabled_for(logging.INFO))
    except AttributeError:
        return True
