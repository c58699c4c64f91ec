"""Errors of the sessions layer, grafted onto ``actors.errors.ActorError``.

::

    SessionError                       code                      closes the socket with
     ├─ DeviceChannelError             device_channel_error      (told to the device as {"type": "error"})
     │   ├─ BadMessageError            bad_message               1008 before authentication, else stays
     │   ├─ MessageTooLargeError       message_too_large         1009
     │   ├─ AuthTimeoutError           auth_timeout              1008
     │   ├─ UnknownDeviceError         unknown_device            1008
     │   ├─ DeviceRevokedError         device_revoked            4003
     │   ├─ AuthFailedError            auth_failed               1008
     │   ├─ ReplacedError              replaced                  4000 (a newer connection of the device)
     │   ├─ IdleTimeoutError           idle_timeout              1001 (no message within the idle timeout)
     │   ├─ SlowConsumerError          slow_consumer             1008 (its outbox overflowed)
     │   ├─ GoingAwayError             going_away                1001 (the worker is stopping: reconnect)
     │   └─ DecisionRejectedError      decision_rejected         stays open (one decision refused)
     │       ├─ ReplayedNonceError     replayed_nonce
     │       ├─ BadNonceError          bad_nonce
     │       ├─ BadMacError            bad_mac                   1008 after ``max_bad_macs`` in a row
     │       ├─ UnknownOperationError  unknown_operation         (also for another user's operation)
     │       └─ ExpiredOperationError  operation_expired
     ├─ DeviceSecretError              device_secret_unreadable  (sealed under another server secret)
     └─ EnrolmentClosedError           enrolment_closed          (the QR code of a device that is no
                                                                  longer pending: REST 410)

Each class has a stable ``code``; ``close_code`` says whether telling the device ends the connection.
Another user's operation is reported to the device as ``unknown_operation`` (its existence is not
revealed) and audited as ``foreign_operation``.
"""

from __future__ import annotations

from typing import ClassVar

from actors.errors import ActorError


class SessionError(ActorError):
    """Base of the sessions layer's errors."""

    code = "session_error"


class DeviceChannelError(SessionError):
    """Something the device is told on its socket (``{"type": "error", "code", "message"}``)."""

    code = "device_channel_error"
    close_code: ClassVar[int | None] = None
    """WebSocket close code sent after the error, or None when the connection stays open."""


class BadMessageError(DeviceChannelError):
    """Not a JSON text message of the protocol, or one out of turn."""

    code = "bad_message"


class MessageTooLargeError(DeviceChannelError):
    """A message above ``limits.max_websocket_message_bytes``."""

    code = "message_too_large"
    close_code = 1009


class AuthTimeoutError(DeviceChannelError):
    """``hello`` and ``auth`` did not arrive within the authentication timeout."""

    code = "auth_timeout"
    close_code = 1008


class UnknownDeviceError(DeviceChannelError):
    """No device has this id."""

    code = "unknown_device"
    close_code = 1008


class DeviceRevokedError(DeviceChannelError):
    """The device was revoked (also sent to a live connection when it is revoked)."""

    code = "device_revoked"
    close_code = 4003


class AuthFailedError(DeviceChannelError):
    """The authentication MAC did not verify."""

    code = "auth_failed"
    close_code = 1008


class ReplacedError(DeviceChannelError):
    """A newer connection of the same device took over (one live connection per device)."""

    code = "replaced"
    close_code = 4000


class IdleTimeoutError(DeviceChannelError):
    """Nothing arrived (not even a pong) within the idle timeout."""

    code = "idle_timeout"
    close_code = 1001


class SlowConsumerError(DeviceChannelError):
    """The device did not read fast enough and its outbox overflowed."""

    code = "slow_consumer"
    close_code = 1008


class GoingAwayError(DeviceChannelError):
    """The worker is shutting down; the device should reconnect (possibly to another worker)."""

    code = "going_away"
    close_code = 1001


class DecisionRejectedError(DeviceChannelError):
    """One decision was refused before reaching its operation; the connection stays open."""

    code = "decision_rejected"


class ReplayedNonceError(DecisionRejectedError):
    """The decision reuses a server nonce that was already spent."""

    code = "replayed_nonce"


class BadNonceError(DecisionRejectedError):
    """The nonce is not the one this device was given for this operation."""

    code = "bad_nonce"


class BadMacError(DecisionRejectedError):
    """The decision MAC did not verify."""

    code = "bad_mac"


class UnknownOperationError(DecisionRejectedError):
    """No operation with this id awaits this device's decision."""

    code = "unknown_operation"


class ExpiredOperationError(DecisionRejectedError):
    """The operation expired before the decision arrived."""

    code = "operation_expired"


class DeviceSecretError(SessionError, ValueError):
    """A stored device secret does not open (another server secret, another device's row, damage)."""

    code = "device_secret_unreadable"


class EnrolmentClosedError(SessionError):
    """The enrolment QR code is shown only while the device is pending (its secret is shown once)."""

    code = "enrolment_closed"
