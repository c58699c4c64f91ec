"""Errors of the HSM unit layer (the unit process, its wire protocol and its client).

::

    HsmError                              code                      retryable elsewhere
     ├─ HsmRequestError                   hsm_bad_request           no   (the caller's fault)
     │   ├─ UnknownOperationError         hsm_unknown_operation
     │   ├─ UnsupportedAlgorithmError     hsm_unsupported_algorithm
     │   ├─ KeyNotFoundError              hsm_key_not_found         (no key with this id on the token)
     │   ├─ BlobInvalidError              hsm_blob_invalid          (malformed, tampered or another KEK)
     │   └─ FrameTooLargeError            hsm_frame_too_large       (the unit closes the connection)
     ├─ HsmUnavailableError               hsm_unavailable           yes  (the unit's fault; try another)
     │   ├─ SlotCrashedError              hsm_slot_crashed          (the slot died with the request)
     │   ├─ NoSlotError                   hsm_no_slot               (every slot is down or restarting)
     │   ├─ BackendError                  hsm_backend_error         (engine / PKCS#11 call failed)
     │   ├─ SignatureFaultError           hsm_signature_fault       (a signature failed the unit's own
     │   │                                                           check: a computation fault)
     │   ├─ UnitStoppingError             hsm_unit_stopping         (SIGTERM: draining)
     │   ├─ UnitFailingError              hsm_unit_failing          (unrecoverable backend failure: the unit
     │   │                                                           exits to be restarted)
     │   ├─ UnitLostError                 hsm_unit_lost             (client: the connection died)
     │   └─ UnitTimeoutError              hsm_unit_timeout          (client: no answer in time)
     ├─ HsmAuthError                      hsm_auth_failed           no   (handshake refused)
     ├─ HsmProtocolError                  hsm_protocol_error        no   (malformed frame or message)
     ├─ UnitStartError                    hsm_unit_start_failed     (launcher: died or not ready in time)
     │   └─ UnitConfigError               hsm_unit_config           (the unit reported FAILED: do not
     │                                                               restart-loop, fix the configuration)
     └─ KekError                          hsm_kek_error
         ├─ KekFormatError                hsm_kek_format            (the sealed file is malformed)
         └─ KekUnsealError                hsm_kek_unseal_failed     (wrong passphrase or tampered file:
                                                                     indistinguishable by design)

Each class has a stable ``code``; errors cross the wire as ``{"code", "message"}`` and the client
rebuilds the same class with :func:`error_for_code`. ``retryable`` tells a balancer whether the
same request may go to another unit (signing a digest is idempotent).
"""

from __future__ import annotations

from typing import ClassVar


class HsmError(Exception):
    """Base of every error of the HSM unit layer."""

    code: ClassVar[str] = "hsm_error"
    retryable: ClassVar[bool] = False
    """True when another unit (or a later retry) may succeed with the same request."""


class HsmRequestError(HsmError):
    """The request itself is wrong; no unit will accept it."""

    code = "hsm_bad_request"


class UnknownOperationError(HsmRequestError):
    """The operation code is unknown (or disabled, like fault injection outside tests)."""

    code = "hsm_unknown_operation"


class UnsupportedAlgorithmError(HsmRequestError):
    """This unit's backend does not do this algorithm, parameter set or mechanism."""

    code = "hsm_unsupported_algorithm"


class KeyNotFoundError(HsmRequestError):
    """No key with this id exists on the token (PKCS#11)."""

    code = "hsm_key_not_found"


class BlobInvalidError(HsmRequestError):
    """A wrapped key blob is malformed, was tampered with, or was wrapped under another KEK."""

    code = "hsm_blob_invalid"


class FrameTooLargeError(HsmRequestError):
    """A frame announced more bytes than the limit; the connection is closed after it."""

    code = "hsm_frame_too_large"


class HsmUnavailableError(HsmError):
    """The unit could not do the request now; another unit (or a retry) may."""

    code = "hsm_unavailable"
    retryable = True


class SlotCrashedError(HsmUnavailableError):
    """The slot worker handling the request crashed; it is being replaced."""

    code = "hsm_slot_crashed"


class NoSlotError(HsmUnavailableError):
    """No slot worker is alive (all crashed or restarting)."""

    code = "hsm_no_slot"


class BackendError(HsmUnavailableError):
    """The engine or PKCS#11 module failed on a request that should have worked."""

    code = "hsm_backend_error"


class SignatureFaultError(HsmUnavailableError):
    """A signature failed the unit's own verification (``actors.hsm.selfcheck``): never returned."""

    code = "hsm_signature_fault"


class UnitStoppingError(HsmUnavailableError):
    """The unit is shutting down and takes no new requests."""

    code = "hsm_unit_stopping"


class UnitFailingError(HsmUnavailableError):
    """The backend failed beyond repair inside this process (e.g. PKCS#11 ``GeneralError``).

    The unit answers in-flight requests with this error and exits with status 75 so that its
    supervisor starts a fresh process (a fresh ``C_Initialize``).
    """

    code = "hsm_unit_failing"


class UnitLostError(HsmUnavailableError):
    """The connection to the unit broke (the process died or closed it); pending calls fail with this."""

    code = "hsm_unit_lost"


class UnitTimeoutError(HsmUnavailableError, TimeoutError):
    """The unit did not answer within the call timeout; the request may or may not have been done."""

    code = "hsm_unit_timeout"


class HsmAuthError(HsmError):
    """The connection handshake failed: wrong shared secret on one side."""

    code = "hsm_auth_failed"


class HsmProtocolError(HsmError):
    """A frame or message does not follow the protocol."""

    code = "hsm_protocol_error"


class UnitStartError(HsmError):
    """A unit process could not be started, died during start-up or did not become ready in time."""

    code = "hsm_unit_start_failed"


class UnitConfigError(UnitStartError):
    """The unit reported a configuration failure (bad passphrase, token not found, bad PIN).

    Restarting it will fail the same way; a supervisor reports the unit offline instead.
    """

    code = "hsm_unit_config"


class KekError(HsmError):
    """Base of the errors about the sealed key-encryption key."""

    code = "hsm_kek_error"


class KekFormatError(KekError):
    """The sealed KEK file is missing fields, has bad encodings or an unknown version."""

    code = "hsm_kek_format"


class KekUnsealError(KekError):
    """The sealed KEK did not authenticate: a wrong passphrase or a tampered file."""

    code = "hsm_kek_unseal_failed"


def _all_subclasses(cls: type[HsmError]) -> list[type[HsmError]]:
    found: list[type[HsmError]] = [cls]
    for sub in cls.__subclasses__():
        found.extend(_all_subclasses(sub))
    return found


_BY_CODE: dict[str, type[HsmError]] = {cls.code: cls for cls in _all_subclasses(HsmError)}


def error_for_code(code: str, message: str) -> HsmError:
    """Rebuild the error a unit sent as ``{"code", "message"}``.

    An unknown code (a newer unit) gives a plain :class:`HsmError`.
    """
    cls = _BY_CODE.get(code, HsmError)
    return cls(message)
