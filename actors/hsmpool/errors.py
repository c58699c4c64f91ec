"""Errors of the HSM pool (unit clients, supervisor, balancer), grafted onto the unit layer's tree.

::

    HsmError (actors.hsm.errors)                  code                          retried elsewhere
     ├─ HsmRequestError                           hsm_bad_request               no
     │   └─ UnknownKeyDomainError                 hsm_unknown_key_domain        no  (no unit of this pool
     │                                                                              holds that key store)
     └─ HsmUnavailableError                       hsm_unavailable               yes (unit errors); the
         │                                                                          balancer raises this
         │                                                                          class itself when no
         │                                                                          healthy unit is left
         ├─ HsmBusyError                          hsm_busy                      later (every healthy
         │                                                                          unit has its limit of
         │                                                                          work in flight)
         └─ KeyGenerationOutcomeUnknownError      hsm_generate_outcome_unknown  no  (a PKCS#11 unit was
                                                                                    lost while generating:
                                                                                    a key may exist on the
                                                                                    token)

What a pool caller sees: the refusals of a unit (``HsmRequestError`` and its subclasses, never retried),
:class:`HsmUnavailableError` itself (code ``hsm_unavailable``) when no unit of the key's domain is
healthy or every unit a request tried was lost — the request failed fast and may be repeated later —,
:class:`HsmBusyError` when the healthy units are full (load shed at once instead of queueing past the
call timeout), and :class:`KeyGenerationOutcomeUnknownError`. The per-unit causes (``UnitLostError``,
``UnitTimeoutError`` ...) stay inside the pool: they make it try another unit, and the last one is
kept as ``__cause__`` when the pool gives up.
"""

from __future__ import annotations

from actors.hsm.errors import HsmError, HsmRequestError, HsmUnavailableError

__all__ = [
    "HsmBusyError",
    "HsmError",
    "HsmRequestError",
    "HsmUnavailableError",
    "KeyGenerationOutcomeUnknownError",
    "UnknownKeyDomainError",
]


class UnknownKeyDomainError(HsmRequestError):
    """The key names a key store (domain) that no unit of this pool serves."""

    code = "hsm_unknown_key_domain"

    def __init__(self, domain: str, known: list[str]) -> None:
        super().__init__(f"no HSM unit serves key domain {domain!r} (this pool has {known})")
        self.domain = domain


class HsmBusyError(HsmUnavailableError):
    """Every healthy unit of the key's domain already has ``hsm.max_in_flight_items`` items in flight.

    The request was not sent anywhere: shed at once, so that queues (and latency) stay bounded and
    overloaded units are not mistaken for hung ones. Try again later.
    """

    code = "hsm_busy"


class KeyGenerationOutcomeUnknownError(HsmUnavailableError):
    """A PKCS#11 unit was lost (or timed out) while generating a key; the pool did not retry.

    The token may hold a key nobody references (the unit chose its id); generating again makes a
    new one. Soft units never raise this: their keys exist only in the returned blob, so a lost
    generation is simply retried on another unit.
    """

    code = "hsm_generate_outcome_unknown"
    retryable = False
