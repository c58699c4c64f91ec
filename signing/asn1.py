"""GOST object identifiers and structures registered in asn1crypto.

asn1crypto knows no GOST algorithm, so a GOST key, certificate or CMS structure would parse with
bare dotted OIDs and an unparseable public key. :func:`register` teaches it, in one place:

* public-key algorithms ``gost3410_2012_256`` / ``gost3410_2012_512`` (and legacy ``gost3410_2001``
  for parsing), with their parameters ``SEQUENCE {paramSet OID [, digest OID [, cipher OID]]}``
  (:class:`GostPublicKeyParameters`) and the public key ``OCTET STRING(x_le ‖ y_le)``;
* digests ``streebog256`` / ``streebog512`` (legacy ``gost3411_94``) and their HMACs;
* signature algorithms ``streebog256_gost3410_2012_256`` / ``streebog512_gost3410_2012_512``
  (1.2.643.7.1.1.3.2/.3), plus the key OIDs as "digest given elsewhere" signature algorithms
  ``gost3410_2012_256`` / ``gost3410_2012_512`` that OpenSSL writes into CMS;
* the Russian name attributes OGRN, OGRNIP, SNILS, INN, INNLE and the qualified-certificate
  extensions subjectSignTool, issuerSignTool and identificationKind.

pyhanko-certvalidator replaces ``PublicKeyInfo._spec_callbacks`` on import with a wrapper that calls
the *method* ``PublicKeyInfo._public_key_spec``; so this module patches methods (which both the
original table and pyhanko's wrapper reach), and installs a late-binding entry in a callback table
only while it still holds asn1crypto's own function. RSA, EC and EdDSA parsing is untouched.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from asn1crypto import algos, core, keys, x509

__all__ = [
    "DIGEST_PARAM_OIDS",
    "GOST_KEY_ALGORITHMS",
    "OID",
    "PARAMSET_OIDS",
    "GostDigestParamSetId",
    "GostParamSetId",
    "GostPublicKeyParameters",
    "IssuerSignTool",
    "RussianNumericString",
    "is_registered",
    "register",
]


class OID:
    """Dotted GOST and Russian PKI object identifiers used across ``signing``."""

    GOST3410_2012_256 = "1.2.643.7.1.1.1.1"
    GOST3410_2012_512 = "1.2.643.7.1.1.1.2"
    GOST3410_2001 = "1.2.643.2.2.19"
    STREEBOG256 = "1.2.643.7.1.1.2.2"
    STREEBOG512 = "1.2.643.7.1.1.2.3"
    GOST3411_94 = "1.2.643.2.2.9"
    GOST3411_94_CRYPTOPRO_PARAMS = "1.2.643.2.2.30.1"
    SIGN_STREEBOG256_GOST3410_2012_256 = "1.2.643.7.1.1.3.2"
    SIGN_STREEBOG512_GOST3410_2012_512 = "1.2.643.7.1.1.3.3"
    SIGN_GOST3411_94_GOST3410_2001 = "1.2.643.2.2.3"
    HMAC_STREEBOG256 = "1.2.643.7.1.1.4.1"
    HMAC_STREEBOG512 = "1.2.643.7.1.1.4.2"
    OGRN = "1.2.643.100.1"
    SNILS = "1.2.643.100.3"
    INNLE = "1.2.643.100.4"
    OGRNIP = "1.2.643.100.5"
    INN = "1.2.643.3.131.1.1"
    SUBJECT_SIGN_TOOL = "1.2.643.100.111"
    ISSUER_SIGN_TOOL = "1.2.643.100.112"
    IDENTIFICATION_KIND = "1.2.643.100.114"


PARAMSET_OIDS: Mapping[str, str] = {
    "1.2.643.2.2.35.0": "cryptopro_test",
    "1.2.643.2.2.35.1": "cryptopro_a",
    "1.2.643.2.2.35.2": "cryptopro_b",
    "1.2.643.2.2.35.3": "cryptopro_c",
    "1.2.643.2.2.36.0": "cryptopro_xch_a",
    "1.2.643.2.2.36.1": "cryptopro_xch_b",
    "1.2.643.7.1.2.1.1.1": "tc26_256_a",
    "1.2.643.7.1.2.1.1.2": "tc26_256_b",
    "1.2.643.7.1.2.1.1.3": "tc26_256_c",
    "1.2.643.7.1.2.1.1.4": "tc26_256_d",
    "1.2.643.7.1.2.1.2.0": "tc26_512_test",
    "1.2.643.7.1.2.1.2.1": "tc26_512_a",
    "1.2.643.7.1.2.1.2.2": "tc26_512_b",
    "1.2.643.7.1.2.1.2.3": "tc26_512_c",
}
"""GOST R 34.10 elliptic-curve parameter sets: dotted OID → asn1crypto native name."""

DIGEST_PARAM_OIDS: Mapping[str, str] = {
    OID.STREEBOG256: "streebog256",
    OID.STREEBOG512: "streebog512",
    OID.GOST3411_94_CRYPTOPRO_PARAMS: "gost3411_94_cryptopro",
}
"""Values of the ``digestParamSet`` field of GOST public-key parameters."""

GOST_KEY_ALGORITHMS: Mapping[str, str] = {
    OID.GOST3410_2012_256: "gost3410_2012_256",
    OID.GOST3410_2012_512: "gost3410_2012_512",
    OID.GOST3410_2001: "gost3410_2001",
}
"""GOST public-key algorithm OIDs → asn1crypto native names."""

_DIGESTS = {
    OID.STREEBOG256: "streebog256",
    OID.STREEBOG512: "streebog512",
    OID.GOST3411_94: "gost3411_94",
}
_HMACS = {OID.HMAC_STREEBOG256: "hmac_streebog256", OID.HMAC_STREEBOG512: "hmac_streebog512"}
# The key OIDs double as "signature, digest given elsewhere" (OpenSSL's CMS signatureAlgorithm),
# like rsaEncryption → 'rsassa_pkcs1v15' and id-ecPublicKey's sibling 'ecdsa' in asn1crypto.
_SIGNATURES = {
    OID.SIGN_STREEBOG256_GOST3410_2012_256: "streebog256_gost3410_2012_256",
    OID.SIGN_STREEBOG512_GOST3410_2012_512: "streebog512_gost3410_2012_512",
    OID.SIGN_GOST3411_94_GOST3410_2001: "gost3411_94_gost3410_2001",
    OID.GOST3410_2012_256: "gost3410_2012_256",
    OID.GOST3410_2012_512: "gost3410_2012_512",
    OID.GOST3410_2001: "gost3410_2001",
}
# native signature name → (signature_algo, hash_algo), mirroring asn1crypto's own two properties.
_SIGNATURE_PARTS = {
    "streebog256_gost3410_2012_256": ("gost3410_2012_256", "streebog256"),
    "streebog512_gost3410_2012_512": ("gost3410_2012_512", "streebog512"),
    "gost3411_94_gost3410_2001": ("gost3410_2001", "gost3411_94"),
    # GOST fixes the digest by the key size, so even the bare key OID implies it.
    "gost3410_2012_256": ("gost3410_2012_256", "streebog256"),
    "gost3410_2012_512": ("gost3410_2012_512", "streebog512"),
    "gost3410_2001": ("gost3410_2001", "gost3411_94"),
}
_NAME_ATTRIBUTES = {
    OID.OGRN: "ogrn",
    OID.OGRNIP: "ogrnip",
    OID.SNILS: "snils",
    OID.INN: "inn",
    OID.INNLE: "innle",
}
_EXTENSIONS = {
    OID.SUBJECT_SIGN_TOOL: "subject_sign_tool",
    OID.ISSUER_SIGN_TOOL: "issuer_sign_tool",
    OID.IDENTIFICATION_KIND: "identification_kind",
}


class GostParamSetId(core.ObjectIdentifier):  # type: ignore[misc]
    """OID of a GOST R 34.10 curve parameter set (``publicKeyParamSet``)."""

    _map = dict(PARAMSET_OIDS)  # noqa: RUF012 - asn1crypto reads this class attribute


class GostDigestParamSetId(core.ObjectIdentifier):  # type: ignore[misc]
    """OID of the digest bound to a GOST key (``digestParamSet``)."""

    _map = dict(DIGEST_PARAM_OIDS)  # noqa: RUF012


class GostPublicKeyParameters(core.Sequence):  # type: ignore[misc]
    """``GostR3410-2012-PublicKeyParameters`` (RFC 9215), a superset of the 2001 form (RFC 4491)."""

    _fields = [  # noqa: RUF012 - asn1crypto reads these class attributes
        ("public_key_param_set", GostParamSetId),
        ("digest_param_set", GostDigestParamSetId, {"optional": True}),
        ("encryption_param_set", core.ObjectIdentifier, {"optional": True}),
    ]


class RussianNumericString(core.Choice):  # type: ignore[misc]
    """Value of OGRN/SNILS/INN name attributes: NumericString by the rules, other strings seen in the wild."""

    _alternatives = [  # noqa: RUF012
        ("numeric_string", core.NumericString),
        ("printable_string", core.PrintableString),
        ("utf8_string", core.UTF8String),
    ]


class IssuerSignTool(core.Sequence):  # type: ignore[misc]
    """The issuerSignTool extension of Russian qualified certificates (1.2.643.100.112)."""

    _fields = [  # noqa: RUF012
        ("sign_tool", core.UTF8String),
        ("ca_tool", core.UTF8String),
        ("sign_tool_cert", core.UTF8String),
        ("ca_tool_cert", core.UTF8String),
    ]


_lock = threading.Lock()
_MARK = "__klyuch_gost__"


def is_registered() -> bool:
    """Tell whether :func:`register` has run in this process."""
    return getattr(keys.PublicKeyInfo._public_key_spec, _MARK, False) is True


def register() -> None:
    """Register every GOST OID and structure in asn1crypto; safe to call any number of times.

    Call it before anything GOST is parsed (importing :mod:`signing` does): asn1crypto caches
    parsed children, so a value parsed earlier keeps its unregistered view.
    """
    with _lock:
        if is_registered():
            return
        _register_oids()
        _patch_public_key_info()
        _patch_private_key_info()
        _patch_signed_digest_algorithm()


def _register_oids() -> None:
    for id_class in (keys.PublicKeyAlgorithmId, keys.PrivateKeyAlgorithmId):
        _add_to_map(id_class, GOST_KEY_ALGORITHMS)
    for algorithm_class in (keys.PublicKeyAlgorithm, keys.PrivateKeyAlgorithm):
        for name in GOST_KEY_ALGORITHMS.values():
            algorithm_class._oid_specs[name] = GostPublicKeyParameters
    _add_to_map(algos.DigestAlgorithmId, _DIGESTS)
    _add_to_map(algos.HmacAlgorithmId, _HMACS)
    _add_to_map(algos.SignedDigestAlgorithmId, _SIGNATURES)
    _add_to_map(x509.NameType, _NAME_ATTRIBUTES)
    for name in _NAME_ATTRIBUTES.values():
        x509.NameTypeAndValue._oid_specs[name] = RussianNumericString
    _add_to_map(x509.ExtensionId, _EXTENSIONS)
    x509.Extension._oid_specs.update(
        subject_sign_tool=core.UTF8String,
        issuer_sign_tool=IssuerSignTool,
        identification_kind=core.Integer,
    )


def _add_to_map(id_class: type[core.ObjectIdentifier], entries: Mapping[str, str]) -> None:
    """Add OIDs to a class map and to every reverse map already built from it.

    asn1crypto builds ``_reverse_map`` lazily per class; the first OID of a name is canonical.
    """
    id_class._map.update(entries)
    reverse: dict[str, str] = {}
    for dotted, name in entries.items():
        reverse.setdefault(name, dotted)
    pending: list[type[Any]] = [id_class]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        existing = vars(cls).get("_reverse_map")
        if existing is not None:
            for name, dotted in reverse.items():
                existing.setdefault(name, dotted)


def _marked(func: Callable[..., Any]) -> Callable[..., Any]:
    setattr(func, _MARK, True)
    return func


def _late_bound(method_name: str) -> Callable[[Any], Any]:
    """A callback-table entry that resolves the method on each call, as pyhanko's wrapper does."""

    def callback(value: Any) -> Any:
        return getattr(value, method_name)()

    return callback


def _patch_spec_callback(cls: type[core.Sequence], field: str, method_name: str, gost_spec: Any) -> None:
    original = getattr(cls, method_name)

    @_marked
    def spec(self: Any) -> Any:
        algorithm_field = "algorithm" if cls is keys.PublicKeyInfo else "private_key_algorithm"
        if self[algorithm_field]["algorithm"].native in _GOST_KEY_NAMES:
            return gost_spec
        return original(self)

    setattr(cls, method_name, spec)
    # Only replace asn1crypto's own entry: if pyhanko (or anyone) already wrapped it, that wrapper
    # calls the method by name and so reaches the patched method anyway.
    if cls._spec_callbacks.get(field) is original:
        cls._spec_callbacks[field] = _late_bound(method_name)


_GOST_KEY_NAMES = frozenset(GOST_KEY_ALGORITHMS.values())


def _patch_public_key_info() -> None:
    # The BIT STRING holds a DER OCTET STRING(x_le ‖ y_le): ``['public_key'].parsed`` gives it.
    _patch_spec_callback(keys.PublicKeyInfo, "public_key", "_public_key_spec", core.OctetString)
    original = keys.PublicKeyInfo.bit_size

    @_marked
    def bit_size(self: Any) -> Any:
        if self.algorithm in _GOST_KEY_NAMES:
            # x and y each take half of the point: the size of the curve's prime.
            return len(self["public_key"].parsed.native) * 4
        return original.fget(self)

    keys.PublicKeyInfo.bit_size = property(bit_size)


def _patch_private_key_info() -> None:
    # OpenSSL writes privateKey = OCTET STRING(d_le) with no inner DER: keep it as plain octets.
    _patch_spec_callback(keys.PrivateKeyInfo, "private_key", "_private_key_spec", None)


def _patch_signed_digest_algorithm() -> None:
    cls = algos.SignedDigestAlgorithm
    original_signature_algo = cls.signature_algo
    original_hash_algo = cls.hash_algo

    @_marked
    def signature_algo(self: Any) -> Any:
        parts = _SIGNATURE_PARTS.get(self["algorithm"].native)
        return parts[0] if parts else original_signature_algo.fget(self)

    @_marked
    def hash_algo(self: Any) -> Any:
        parts = _SIGNATURE_PARTS.get(self["algorithm"].native)
        return parts[1] if parts else original_hash_algo.fget(self)

    cls.signature_algo = property(signature_algo, doc=original_signature_algo.__doc__)
    cls.hash_algo = property(hash_algo, doc=original_hash_algo.__doc__)
