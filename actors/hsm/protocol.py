"""Messages of the unit RPC: operation codes, request and reply dataclasses.

Every request is a frozen dataclass registered under one :class:`Op`; every reply is a frozen
dataclass too. How they become frame bodies is :mod:`actors.hsm.codec`.

Operations::

    HEALTH        Health()                               -> HealthReport
    METRICS       Metrics()                              -> MetricsReport
    GENERATE_KEY  GenerateKey(algorithm, paramset)       -> KeyInfo (blob set by soft units)
    SIGN_DIGESTS  SignDigests(key, digests)              -> Signatures (same order)
    SIGN_MANY     SignMany(items: (key, digest)...)      -> ManySignatures (per item: signature or error)
    PUBLIC_KEY    GetPublicKey(key)                      -> KeyInfo (no blob)
    AGREE         Agree(key, peer_public, ukm, size)     -> Secret (VKO / ECDH shared secret)
    UNWRAP        Unwrap(key, peer_public, ukm, iv, wrapped, cipher) -> Secret (KEG + KImp15)
    INJECT_FAULT  InjectFault(kind)                      -> Done (only with --enable-test-faults)

Signatures are GOST ``s‖r`` (each |q| bytes, big-endian) and ECDSA ``r‖s`` (32 + 32 bytes), the
raw forms a PKCS#11 token returns; formats re-encode them (ECDSA as DER). Public keys are GOST
``x_le‖y_le`` and ECDSA X9.62 uncompressed points.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from actors.hsm.errors import HsmError

PROTOCOL_VERSION: Final = 1
MAX_DIGESTS_PER_CALL: Final = 10_000
MAX_OP_ID_LENGTH: Final = 128
KEY_ID_HEX_LENGTH: Final = 32
"""A key id is 16 random bytes written as 32 lowercase hex digits."""


class Op(enum.IntEnum):
    """Operation codes (the ``kind`` byte of a request frame)."""

    HEALTH = 1
    METRICS = 2
    GENERATE_KEY = 3
    SIGN_DIGESTS = 4
    PUBLIC_KEY = 5
    AGREE = 6
    UNWRAP = 7
    SIGN_MANY = 8
    INJECT_FAULT = 0x7F


class KeyAlgorithm(enum.StrEnum):
    """Key types a unit can hold."""

    GOST3410_2012_256 = "gost3410_2012_256"
    GOST3410_2012_512 = "gost3410_2012_512"
    ECDSA_P256 = "ecdsa_p256"


class FaultKind(enum.StrEnum):
    """Faults a test can inject into a unit started with ``--enable-test-faults``."""

    CRASH_SLOT = "crash_slot"
    """The slot that takes the request raises an unexpected exception (and is replaced)."""
    CLOSE_SESSION = "close_session"
    """PKCS#11: the slot's session is closed behind its back (the next call must recover)."""
    EXIT_UNIT = "exit_unit"
    """The unit process exits at once with status 70, as a native crash would end it."""
    CORRUPT_SIGNATURE = "corrupt_signature"
    """The slot's next signature gets one bit flipped before the unit's own check (which must catch it)."""


@dataclass(frozen=True, slots=True)
class KeyRef:
    """Names a key for an operation."""

    key_id: str
    """The key id (32 hex digits) the unit returned from GENERATE_KEY."""
    blob: bytes | None = None
    """Soft units: the wrapped key blob (it also carries the key id, which must match). PKCS#11: None."""


# --- requests ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Health:
    """Ask for liveness and the unit's identity; answered without going through a slot."""

    op: ClassVar[Op] = Op.HEALTH


@dataclass(frozen=True, slots=True)
class Metrics:
    """Ask for the unit's counters and latency percentiles."""

    op: ClassVar[Op] = Op.METRICS


@dataclass(frozen=True, slots=True)
class GenerateKey:
    """Generate a key pair in the unit."""

    op: ClassVar[Op] = Op.GENERATE_KEY
    algorithm: str
    """A :class:`KeyAlgorithm` value."""
    paramset: str | None = None
    """GOST: a ``signing.gost.ParamSet`` member name (``TC26_256_A`` ...); None for ECDSA."""


@dataclass(frozen=True, slots=True)
class SignDigests:
    """Sign one or more digests with one key; the reply keeps their order."""

    op: ClassVar[Op] = Op.SIGN_DIGESTS
    key: KeyRef
    """The signing key."""
    digests: tuple[bytes, ...]
    """Digests to sign (GOST: |q| bytes; ECDSA: 32, 48 or 64 bytes)."""


@dataclass(frozen=True, slots=True)
class SignItem:
    """One digest to sign with one key, inside :class:`SignMany`."""

    key: KeyRef
    """The signing key."""
    digest: bytes
    """The digest."""
    op_id: str | None = None
    """Correlation id of the operation this item serves (for the unit's logs)."""


@dataclass(frozen=True, slots=True)
class SignMany:
    """Sign one digest each with many keys in one frame; items succeed or fail on their own.

    A client coalesces concurrent single signatures into this while its socket is busy, so the
    per-frame costs (syscalls, wake-ups, slot hand-offs) are paid once per batch, not per call.
    """

    op: ClassVar[Op] = Op.SIGN_MANY
    items: tuple[SignItem, ...]
    """The items, answered in this order."""


@dataclass(frozen=True, slots=True)
class GetPublicKey:
    """Return a key's public half."""

    op: ClassVar[Op] = Op.PUBLIC_KEY
    key: KeyRef
    """The key."""


@dataclass(frozen=True, slots=True)
class Agree:
    """Key agreement: GOST VKO_GOSTR3410_2012_256/512, or ECDH (the x coordinate) for P-256."""

    op: ClassVar[Op] = Op.AGREE
    key: KeyRef
    """Our private key."""
    peer_public: bytes
    """The peer's public key in this key's encoding."""
    ukm: bytes = b""
    """GOST: the user keying material (1..|q|/2 bytes, little-endian, non-zero). ECDH: empty."""
    output_size: int = 32
    """GOST: 32 (VKO_256) or 64 (VKO_512, 512-bit keys). ECDH: 32."""


@dataclass(frozen=True, slots=True)
class Unwrap:
    """Unwrap a content-encryption key sent to us: KEG(d, Q_peer, ukm) then KImp15 (GOST keys only)."""

    op: ClassVar[Op] = Op.UNWRAP
    key: KeyRef
    """Our private key."""
    peer_public: bytes
    """The sender's (ephemeral) public key, ``x_le‖y_le``."""
    ukm: bytes
    """32 bytes of UKM for KEG (R 1323565.1.020-2018)."""
    iv: bytes
    """KImp15 IV: 8 bytes (Kuznyechik) or 4 (Magma), as the format in use prescribes."""
    wrapped: bytes
    """The KExp15 output."""
    cipher: str = "kuznyechik"
    """``kuznyechik`` or ``magma``."""


@dataclass(frozen=True, slots=True)
class InjectFault:
    """Test-only: make the unit fail in a chosen way (refused unless the unit allows it)."""

    op: ClassVar[Op] = Op.INJECT_FAULT
    kind: str
    """A :class:`FaultKind` value."""


Request = (
    Health | Metrics | GenerateKey | SignDigests | SignMany | GetPublicKey | Agree | Unwrap | InjectFault
)

# --- replies -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HealthReport:
    """What a unit says about itself."""

    status: str
    """``ok`` (every slot alive), ``degraded`` (some slots down) or ``failing`` (none)."""
    unit_id: str
    """The id given at start (``--unit-id``)."""
    backend: str
    """``soft`` or ``pkcs11``."""
    pid: int
    """The unit's process id."""
    slots: int
    """Configured slot workers."""
    slots_alive: int
    """Slot workers running now."""
    slot_restarts: int
    """Slot workers replaced since start."""
    in_flight: int
    """Requests accepted and not yet answered, all connections together."""
    uptime_s: float
    """Seconds since the unit became ready."""
    kek_id: str | None = None
    """Soft units: fingerprint of the KEK (equal on a hot-standby pair)."""
    token_label: str | None = None
    """PKCS#11 units: the token's label."""


@dataclass(frozen=True, slots=True)
class MetricsReport:
    """Counters since start: per operation ``{count, errors, items, mean_us, p50_us, p99_us}``."""

    ops: dict[str, Any]
    """Per operation name: counts and service-time percentiles (inside the unit, in µs)."""
    errors: dict[str, int]
    """Per error code: how many replies carried it."""
    in_flight: int
    """Requests in progress now."""
    slot_restarts: int
    """Slot workers replaced since start."""
    key_cache: dict[str, int]
    """Soft units: ``{hits, misses}`` of the live slots' lookups in the unit's cache of opened keys."""


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A key as the unit describes it."""

    key_id: str
    """32 hex digits; PKCS#11: also the object's CKA_ID (bytes) and CKA_LABEL (hex)."""
    algorithm: str
    """A :class:`KeyAlgorithm` value."""
    paramset: str | None
    """GOST parameter set name; None for ECDSA."""
    public_key: bytes
    """GOST ``x_le‖y_le``; ECDSA uncompressed X9.62 point."""
    blob: bytes | None = None
    """Soft units, GENERATE_KEY only: the key wrapped under the unit's KEK."""

    def ref(self, blob: bytes | None = None) -> KeyRef:
        """A :class:`KeyRef` for this key (with this info's blob unless another is given)."""
        return KeyRef(key_id=self.key_id, blob=blob if blob is not None else self.blob)


@dataclass(frozen=True, slots=True)
class Signatures:
    """One signature per digest, in request order."""

    signatures: tuple[bytes, ...]
    """Raw signatures (GOST s‖r, ECDSA r‖s)."""


@dataclass(frozen=True, slots=True)
class ManySignatures:
    """Per :class:`SignItem`, in order: its signature, or the error that item met."""

    outcomes: tuple[bytes | HsmError, ...]
    """Signature bytes or an :class:`HsmError` (e.g. a bad blob fails only its own item)."""


@dataclass(frozen=True, slots=True)
class Secret:
    """A derived or unwrapped secret that leaves the unit by design (per-message keys, never KEKs)."""

    secret: bytes
    """The secret bytes."""


@dataclass(frozen=True, slots=True)
class Done:
    """An empty successful reply."""


Reply = HealthReport | MetricsReport | KeyInfo | Signatures | ManySignatures | Secret | Done

REPLY_TYPES: Final[dict[Op, type[Any]]] = {
    Op.HEALTH: HealthReport,
    Op.METRICS: MetricsReport,
    Op.GENERATE_KEY: KeyInfo,
    Op.SIGN_DIGESTS: Signatures,
    Op.SIGN_MANY: ManySignatures,
    Op.PUBLIC_KEY: KeyInfo,
    Op.AGREE: Secret,
    Op.UNWRAP: Secret,
    Op.INJECT_FAULT: Done,
}
"""Which reply type each operation answers with."""

REQUEST_TYPES: Final[dict[Op, type[Any]]] = {
    cls.op: cls
    for cls in (Health, Metrics, GenerateKey, SignDigests, SignMany, GetPublicKey, Agree, Unwrap, InjectFault)
}
"""Which request type each operation code carries."""
