"""The PKCS#11 backend (python-pkcs11): keys generated and kept on a token, one session per slot.

**Why every call holds one process-wide lock.** python-pkcs11 calls ``C_Initialize(NULL)``. By the
PKCS#11 standard that promises the module no concurrent calls, and SoftHSM2 then runs without
locks: two threads in one process calling it at once (even on different tokens) crash it
(FACTS.md). So this backend serializes every module call behind :attr:`Pkcs11Backend.lock`, and
a PKCS#11 unit runs one slot by default; parallelism comes from more unit processes (one per
token, or several per token), each with its own ``C_Initialize`` and login. More slots per unit
still work (separate sessions, safe) but sign no faster.

**Login.** Login state belongs to the application and token, not the session: a second
``C_Login`` fails with ``UserAlreadyLoggedIn`` and closing the last session logs out. The backend
therefore keeps one *login session* open for the unit's life; slot sessions are opened without a
PIN and share it. ``UserNotLoggedIn`` triggers one re-login.

**Recovery.** ``SessionHandleInvalid`` / ``SessionClosed`` / a stale object handle: the slot
re-opens its session (dropping its key-handle cache) and retries the call once. Library- or
device-level failures (``GeneralError``, ``DeviceError``, ``DeviceRemoved``, ``TokenNotPresent``
…) are not repaired in place: re-initialising the library would invalidate every slot's session
under it. The session raises :class:`UnitFailingError`, the unit answers what is in flight and
exits with status 75, and its supervisor starts a fresh process (a fresh ``C_Initialize``).

**Mechanisms.** ECDSA keys on ``secp256r1`` with raw ``CKM_ECDSA`` (SoftHSM2 has no
``CKM_ECDSA_SHA256``): the token returns r‖s. GOST R 34.10-2012-256 keys use
``CKK_GOSTR3410`` / ``CKM_GOSTR3410_KEY_PAIR_GEN`` / ``CKM_GOSTR3410`` with the TC26 parameter
OIDs; this path cannot be tested here (SoftHSM2 has no GOST) and assumes the token takes the
Streebog digest as produced and returns s‖r. GOST 2012-512 needs the TC26 vendor mechanisms,
which python-pkcs11's enums cannot express: it is refused with :class:`UnsupportedAlgorithmError`.
Keys are generated on the token, private ones sensitive and non-extractable, with CKA_ID = the
16 key-id bytes and CKA_LABEL = its hex.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar

import pkcs11
from asn1crypto import core
from cryptography.hazmat.primitives.asymmetric import ec
from pkcs11 import KDF, Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11 import exceptions as p11
from pkcs11.util.ec import encode_named_curve_parameters

from actors.hsm.errors import (
    BackendError,
    HsmError,
    HsmRequestError,
    KeyNotFoundError,
    UnitConfigError,
    UnitFailingError,
    UnsupportedAlgorithmError,
)
from actors.hsm.protocol import (
    Agree,
    FaultKind,
    GenerateKey,
    KeyAlgorithm,
    KeyInfo,
    KeyRef,
    Unwrap,
)
from actors.hsm.selfcheck import Check, Corrupter, checked, ecdsa_check, gost_check, p256_prehash
from signing.errors import SigningError
from signing.gost.keys import GostPublicKey
from signing.gost.params import ParamSet

_T = TypeVar("_T")

KEY_ID_SIZE: Final = 16
_SESSION_ERRORS: Final = (
    p11.SessionHandleInvalid,
    p11.SessionClosed,
    p11.ObjectHandleInvalid,
    p11.KeyHandleInvalid,
)
_FATAL_ERRORS: Final = (
    p11.GeneralError,
    p11.DeviceError,
    p11.DeviceMemory,
    p11.DeviceRemoved,
    p11.TokenNotPresent,
    p11.TokenNotRecognised,
    p11.HostMemory,
    p11.FunctionFailed,
)
_REQUEST_ERRORS: Final = (
    p11.DataInvalid,
    p11.DataLenRange,
    p11.ArgumentsBad,
    p11.AttributeValueInvalid,
    p11.DomainParamsInvalid,
)
_UNSUPPORTED_ERRORS: Final = (p11.MechanismInvalid, p11.KeyTypeInconsistent, p11.FunctionNotSupported)
_CONFIG_ERRORS: Final = (p11.PinIncorrect, p11.PinLocked, p11.PinExpired, p11.PinInvalid, p11.PinLenRange)
_SIGN_MECHANISMS: Final = {
    KeyAlgorithm.ECDSA_P256: Mechanism.ECDSA,
    KeyAlgorithm.GOST3410_2012_256: Mechanism.GOSTR3410,
}


def translate(exc: p11.PKCS11Error) -> HsmError:
    """Map a python-pkcs11 error (other than the session errors a slot repairs) to this layer."""
    name = type(exc).__name__
    if isinstance(exc, _FATAL_ERRORS):
        return UnitFailingError(f"PKCS#11 module failed ({name}); the unit restarts")
    if isinstance(exc, p11.NoSuchKey):
        return KeyNotFoundError("no key with this id on the token")
    if isinstance(exc, _UNSUPPORTED_ERRORS):
        return UnsupportedAlgorithmError(f"the token refused the mechanism or key type ({name})")
    if isinstance(exc, _REQUEST_ERRORS):
        return HsmRequestError(f"the token refused the input ({name})")
    return BackendError(f"PKCS#11 call failed ({name})")


class Pkcs11Backend:
    """One loaded module, one token, one login session; the lock every module call holds."""

    name = "pkcs11"
    default_slots = 1

    def __init__(self, *, module: str, token_label: str, pin: str, self_check: bool = False) -> None:
        """Load ``module``, find the token labelled ``token_label`` and log in with ``pin``.

        Raises :class:`UnitConfigError` when the module, the token or the PIN is wrong.
        """
        self.lock = threading.Lock()
        """Held around every call into the module (see the module docstring)."""
        self.self_check = self_check
        """Verify every signature in software before returning it (``actors.hsm.selfcheck``)."""
        self.token_label = token_label
        self._pin = pin
        with self.lock:
            try:
                self._lib = pkcs11.lib(module)
                self._token = self._lib.get_token(token_label=token_label)
                self._login = self._token.open(rw=True, user_pin=pin)
            except p11.NoSuchToken as exc:
                raise UnitConfigError(f"no PKCS#11 token labelled {token_label!r}") from exc
            except _CONFIG_ERRORS as exc:
                raise UnitConfigError(f"PKCS#11 login refused ({type(exc).__name__})") from exc
            except (p11.PKCS11Error, OSError, RuntimeError) as exc:
                raise UnitConfigError(f"cannot load PKCS#11 module {module}: {exc}") from exc

    def open_session(self) -> Pkcs11Session:
        """A new slot session (read/write, sharing the login)."""
        return Pkcs11Session(self)

    def new_raw_session(self) -> Any:
        """Open a module session (caller holds no lock)."""
        with self.lock:
            try:
                return self._token.open(rw=True)
            except p11.PKCS11Error as exc:
                raise translate(exc) from exc

    def relogin(self) -> None:
        """Replace the login session after the token forgot the login."""
        with self.lock:
            with contextlib.suppress(p11.PKCS11Error):  # it is being replaced because it no longer works
                self._login.close()
            try:
                self._login = self._token.open(rw=True, user_pin=self._pin)
            except p11.PKCS11Error as exc:
                raise translate(exc) from exc

    def describe(self) -> dict[str, Any]:
        """The token label."""
        return {"token_label": self.token_label}

    def close(self) -> None:
        """Log out by closing the login session."""
        # Shutting down: a failure to log out does not matter, the process ends anyway.
        with self.lock, contextlib.suppress(p11.PKCS11Error):
            self._login.close()


class _TokenKey:
    __slots__ = ("check", "info", "private")

    def __init__(self, private: Any, info: KeyInfo) -> None:
        self.private = private
        self.info = info
        self.check = _self_check(info)


def _self_check(info: KeyInfo) -> Check:
    """The software check of this key's signatures, from the public half read from the token."""
    if info.algorithm == KeyAlgorithm.ECDSA_P256.value:
        point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), info.public_key)
        return ecdsa_check(point, p256_prehash)
    assert info.paramset is not None  # _describe names the set of every GOST key
    return gost_check(GostPublicKey.from_point_bytes(ParamSet[info.paramset], info.public_key))


def _gost_params(paramset: ParamSet) -> dict[Attribute, Any]:
    return {
        Attribute.GOSTR3410_PARAMS: core.ObjectIdentifier(paramset.oid).dump(),
        Attribute.GOSTR3411_PARAMS: core.ObjectIdentifier(paramset.digest_oid).dump(),
    }


def _ec_point(public: Any) -> bytes:
    """CKA_EC_POINT is a DER OCTET STRING around the X9.62 point (some modules give it bare)."""
    raw = bytes(public[Attribute.EC_POINT])
    if raw[:1] == b"\x04" and len(raw) == 65:
        return raw
    return bytes(core.OctetString.load(raw).native)


class Pkcs11Session:
    """One slot's PKCS#11 session with a key-handle cache; repairs itself after session errors."""

    def __init__(self, backend: Pkcs11Backend) -> None:
        """Open a session on ``backend``'s token."""
        self._backend = backend
        self._session = backend.new_raw_session()
        self._corrupt = Corrupter()
        self._keys: dict[str, _TokenKey] = {}
        self.hits = 0
        self.misses = 0

    def _call(self, action: Callable[[], _T]) -> _T:
        """Run ``action`` under the module lock; repair the session or the login once, then retry."""
        for attempt in (1, 2):
            try:
                with self._backend.lock:
                    return action()
            except _SESSION_ERRORS as exc:
                if attempt == 2:
                    raise translate(exc) from exc
                self._reopen()
            except p11.UserNotLoggedIn as exc:
                if attempt == 2:
                    raise translate(exc) from exc
                self._backend.relogin()
            except p11.PKCS11Error as exc:
                raise translate(exc) from exc
        raise AssertionError("unreachable")

    def _reopen(self) -> None:
        # The old handle is invalid (that is why we are here): closing it may fail.
        with self._backend.lock, contextlib.suppress(p11.PKCS11Error):
            self._session.close()
        self._keys.clear()
        self._session = self._backend.new_raw_session()

    def _with_key(self, ref: KeyRef, use: Callable[[_TokenKey], _T]) -> _T:
        """Run ``use`` on the key (cached handle, or looked up in the *current* session) under the lock.

        The lookup is inside the retried action, so after a session repair the key is found again
        in the new session instead of reusing a handle of the dead one.
        """

        def action() -> _T:
            key = self._keys.get(ref.key_id)
            if key is None:
                self.misses += 1
                key = self._keys[ref.key_id] = self._find(ref.key_id)
            else:
                self.hits += 1
            return use(key)

        return self._call(action)

    def _find(self, key_id: str) -> _TokenKey:
        raw_id = bytes.fromhex(key_id)
        private = self._session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=raw_id)
        public = self._session.get_key(object_class=ObjectClass.PUBLIC_KEY, id=raw_id)
        return _TokenKey(private, self._describe(key_id, private.key_type, public))

    @staticmethod
    def _describe(key_id: str, key_type: KeyType, public: Any) -> KeyInfo:
        if key_type == KeyType.EC:
            return KeyInfo(key_id, KeyAlgorithm.ECDSA_P256.value, None, _ec_point(public))
        if key_type == KeyType.GOSTR3410:
            oid = core.ObjectIdentifier.load(bytes(public[Attribute.GOSTR3410_PARAMS])).dotted
            try:
                paramset = ParamSet.from_oid(oid)
            except SigningError as exc:
                raise UnsupportedAlgorithmError(f"GOST key on unknown parameter set {oid}") from exc
            return KeyInfo(
                key_id, KeyAlgorithm.GOST3410_2012_256.value, paramset.name, bytes(public[Attribute.VALUE])
            )
        raise UnsupportedAlgorithmError(f"key type {key_type!r} is not served by this unit")

    def generate_key(self, request: GenerateKey) -> KeyInfo:
        """Generate a key pair on the token (private half sensitive and non-extractable)."""
        key_id = os.urandom(KEY_ID_SIZE).hex()
        try:
            algorithm = KeyAlgorithm(request.algorithm)
        except ValueError:
            raise UnsupportedAlgorithmError(f"unknown key algorithm {request.algorithm!r}") from None
        generate: Callable[[str], tuple[Any, Any]]
        if algorithm is KeyAlgorithm.ECDSA_P256:
            if request.paramset is not None:
                raise HsmRequestError("ECDSA P-256 takes no parameter set")
            generate = self._generate_ec
        elif algorithm is KeyAlgorithm.GOST3410_2012_256:
            generate = self._generate_gost(request.paramset)
        else:
            raise UnsupportedAlgorithmError(f"{algorithm} keys are not available through python-pkcs11")
        public, private = self._call(lambda: generate(key_id))
        key = _TokenKey(private, self._describe(key_id, private.key_type, public))
        self._keys[key_id] = key
        return key.info

    def _templates(self) -> dict[str, Any]:
        return {
            "store": True,
            "private_template": {
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.PRIVATE: True,
            },
        }

    def _generate_ec(self, key_id: str) -> tuple[Any, Any]:
        params = self._session.create_domain_parameters(
            KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}, local=True
        )
        return params.generate_keypair(  # type: ignore[no-any-return]
            id=bytes.fromhex(key_id),
            label=key_id,
            capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY | MechanismFlag.DERIVE,
            **self._templates(),
        )

    def _generate_gost(self, paramset_name: str | None) -> Callable[[str], tuple[Any, Any]]:
        try:
            paramset = ParamSet[paramset_name] if paramset_name else None
        except KeyError:
            paramset = None
        if paramset is None or paramset.test_only or paramset.key_size != 256:
            raise UnsupportedAlgorithmError(
                f"unknown or unsupported GOST-256 parameter set {paramset_name!r}"
            )
        templates = self._templates()

        def generate(key_id: str) -> tuple[Any, Any]:
            return self._session.generate_keypair(  # type: ignore[no-any-return]
                KeyType.GOSTR3410,
                id=bytes.fromhex(key_id),
                label=key_id,
                mechanism=Mechanism.GOSTR3410_KEY_PAIR_GEN,
                capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY | MechanismFlag.DERIVE,
                public_template=_gost_params(paramset),
                **templates,
            )

        return generate

    def sign_digests(self, key: KeyRef, digests: Sequence[bytes]) -> list[bytes]:
        """Sign each digest on the token with the raw mechanism of the key's type."""

        def sign(token_key: _TokenKey) -> tuple[_TokenKey, list[bytes]]:
            mechanism = _SIGN_MECHANISMS[KeyAlgorithm(token_key.info.algorithm)]
            if mechanism is Mechanism.GOSTR3410 and any(len(digest) != 32 for digest in digests):
                raise HsmRequestError("a GOST-256 digest is 32 bytes")
            sign = token_key.private.sign
            return token_key, [self._corrupt(bytes(sign(digest, mechanism=mechanism))) for digest in digests]

        token_key, signatures = self._with_key(key, sign)
        if not self._backend.self_check:
            return signatures
        # The check is software only: it runs after the module lock is released, so the other
        # slots of the unit use the token meanwhile.
        return checked(token_key.check, digests, signatures, token_key.info.key_id)

    def public_key(self, key: KeyRef) -> KeyInfo:
        """The key's public half, read from its public object on the token."""
        return self._with_key(key, lambda token_key: token_key.info)

    def agree(self, request: Agree) -> bytes:
        """ECDH (``CKM_ECDH1_DERIVE``, null KDF): the shared x coordinate, extracted from the token."""
        if request.ukm or request.output_size != 32:
            raise HsmRequestError("ECDH takes no UKM and gives 32 bytes")

        def derive(token_key: _TokenKey) -> bytes:
            if token_key.info.algorithm != KeyAlgorithm.ECDSA_P256.value:
                raise UnsupportedAlgorithmError("key agreement on PKCS#11 units is ECDH on P-256 only")
            secret = token_key.private.derive_key(
                KeyType.GENERIC_SECRET,
                256,
                mechanism_param=(KDF.NULL, None, request.peer_public),
                template={Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True, Attribute.TOKEN: False},
            )
            return bytes(secret[Attribute.VALUE])

        return self._with_key(request.key, derive)

    def unwrap(self, request: Unwrap) -> bytes:
        """Not available on PKCS#11 units (KEG needs the GOST derive mechanisms)."""
        raise UnsupportedAlgorithmError("UNWRAP is served by soft units only")

    def inject_fault(self, kind: FaultKind) -> None:
        """``close_session``: close this slot's session behind its back (tests the repair path);
        ``corrupt_signature``: the next signature is faulty (the unit's own check must catch it)."""
        if kind is FaultKind.CORRUPT_SIGNATURE:
            self._corrupt.armed = True
            return
        if kind is not FaultKind.CLOSE_SESSION:
            raise UnsupportedAlgorithmError(f"the PKCS#11 backend has no {kind} fault")
        with self._backend.lock:
            self._session.close()

    def cache_stats(self) -> tuple[int, int]:
        """``(hits, misses)`` of the key-handle cache."""
        return self.hits, self.misses

    def close(self) -> None:
        """Close the session."""
        self._keys.clear()
        with self._backend.lock, contextlib.suppress(p11.PKCS11Error):  # already closed or invalid
            self._session.close()
