"""Errors of the callbacks package (``actors.callbacks``).

::

    CallbackError                       code
     ├─ InvalidCallbackUrlError         invalid_callback_url     (also a ``ValueError``; ``reason`` says why)
     └─ CallbackClientRequiredError     callback_client_required (the caller has no OAuth2 client, so no
                                                                  callback secret could sign deliveries)

Both are client errors the edge answers with 422 at request time. Delivery failures are not
exceptions: they are outcomes recorded on the outbox row (``last_error`` holds a stable word).
"""

from __future__ import annotations


class CallbackError(Exception):
    """Base of every error of the callbacks package."""

    code = "callback_error"


class InvalidCallbackUrlError(CallbackError, ValueError):
    """A ``callback_url`` the policy refuses; ``reason`` is a stable word, the message a precise detail."""

    code = "invalid_callback_url"

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        """Stable word: ``too_long``, ``malformed``, ``scheme``, ``credentials``, ``host``,
        ``not_allowed``, ``private_address``, ``port``, ``fragment``."""


class CallbackClientRequiredError(CallbackError):
    """Asynchronous mode needs a token issued to an OAuth2 client: its callback secret signs deliveries."""

    code = "callback_client_required"
