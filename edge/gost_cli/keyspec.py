"""Names on the command line → the library's key types, parameter sets, digests and algorithms.

GOST parameter sets are accepted by the gost engine's short name (``A``, ``XA``, ``TCB``...: the
key size tells 256-bit ``A`` from 512-bit ``A``), by long name (``cryptopro-a``, ``cryptopro-xcha``,
``tc26-256-a``, ``tc26-512-c``; case, ``-`` and ``_`` do not matter) or by dotted OID.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.gost_cli.errors import UsageError
from edge.gost_cli.files import read_file
from signing.algorithms import (
    DigestAlgorithm,
    SignatureAlgorithm,
    SignatureEncoding,
    default_signature_algorithm,
    digest_algorithms,
    signature_algorithms,
)
from signing.asn1 import PARAMSET_OIDS
from signing.gost.params import ParamSet
from signing.international import InternationalPrivateKey, InternationalPublicKey
from signing.keys import PrivateKey, PublicKey, load_private_key, load_public_key

GOST_KEY_TYPES = {"gost2012_256": 256, "gost2012_512": 512}
"""``-a`` names of the GOST key types and their sizes (the gost engine's algorithm names)."""

DEFAULT_PARAMSETS = {256: ParamSet.CRYPTOPRO_A, 512: ParamSet.TC26_512_A}
"""What ``genkey`` uses when no ``-p`` is given (the engine's ``A`` of each size)."""

EC_CURVES = {"ec-p256": "P-256", "ec-p384": "P-384"}
"""``-a`` names of the ECDSA curves."""


@dataclass(frozen=True, slots=True)
class KeySpec:
    """What ``genkey`` is asked to make: exactly one of the three fields is set."""

    paramset: ParamSet | None = None
    """A GOST R 34.10-2012 parameter set."""
    curve: str | None = None
    """An ECDSA curve (``P-256``, ``P-384``)."""
    rsa_bits: int | None = None
    """An RSA modulus size."""


def _squash(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "")


def _paramset_names(paramset: ParamSet) -> set[str]:
    return {_squash(paramset.name), _squash(PARAMSET_OIDS[paramset.oid])}


def paramset_names(key_size: int) -> list[str]:
    """Short and long names of the production parameter sets of one key size, for messages."""
    return [
        f"{p.engine_name} ({PARAMSET_OIDS[p.oid].replace('_', '-')})"
        for p in ParamSet.production()
        if p.key_size == key_size
    ]


def resolve_paramset(name: str, key_size: int | None) -> ParamSet:
    """The production parameter set called ``name``; ``key_size`` disambiguates short names.

    Without a key size an ambiguous short name (``A``, ``B``, ``C``) means the 256-bit set.
    """
    candidates = [p for p in ParamSet.production() if key_size in (None, p.key_size)]
    squashed = _squash(name)
    found = [
        p
        for p in candidates
        if name.upper() == p.engine_name or name == p.oid or squashed in _paramset_names(p)
    ]
    if not found:
        sizes = [key_size] if key_size else [256, 512]
        known = "; ".join(f"{size}: {', '.join(paramset_names(size))}" for size in sizes)
        raise UsageError(f"unknown parameter set {name!r} (known: {known})")
    return min(found, key=lambda p: p.key_size)


def resolve_key_spec(algorithm: str | None, paramset: str | None) -> KeySpec:
    """Turn ``genkey -a … -p …`` into a :class:`KeySpec`."""
    name = (algorithm or "").lower()
    if not name or name in GOST_KEY_TYPES:
        size = GOST_KEY_TYPES.get(name)
        if paramset is None:
            return KeySpec(paramset=DEFAULT_PARAMSETS[size or 256])
        return KeySpec(paramset=resolve_paramset(paramset, size))
    if paramset is not None:
        raise UsageError(f"-p applies to GOST keys only, not to {algorithm}")
    if name in EC_CURVES:
        return KeySpec(curve=EC_CURVES[name])
    if name.startswith("rsa"):
        bits = name.removeprefix("rsa").lstrip("-") or "3072"
        if bits.isdigit():
            return KeySpec(rsa_bits=int(bits))
    known = ", ".join([*GOST_KEY_TYPES, *EC_CURVES, "rsa2048", "rsa3072", "rsa4096"])
    raise UsageError(f"unknown key algorithm {algorithm!r} (known: {known})")


def resolve_digest(name: str) -> DigestAlgorithm:
    """A digest by registry name (``streebog256``), OpenSSL name (``md_gost12_256``) or OID."""
    wanted = name.lower().lstrip("-")
    for digest in digest_algorithms():
        if wanted in (digest.name, digest.hashlib_name, digest.oid):
            return digest
    known = ", ".join(d.name for d in digest_algorithms())
    raise UsageError(f"unknown digest {name!r} (known: {known})")


def signature_algorithm_for(key: PublicKey, digest_name: str | None = None) -> SignatureAlgorithm:
    """The algorithm a key signs with: its default, or the non-PSS one with digest ``digest_name``."""
    if digest_name is None:
        bits = key.key_bits if isinstance(key, InternationalPublicKey) else None
        return default_signature_algorithm(key.key_algorithm, key_bits=bits)
    digest = resolve_digest(digest_name)
    for algorithm in signature_algorithms():
        if (
            algorithm.key_algorithm is key.key_algorithm
            and algorithm.digest is digest
            and algorithm.encoding is not SignatureEncoding.RSA_PSS
        ):
            return algorithm
    raise UsageError(f"a {key.key_algorithm.value} key does not sign with {digest.name}")


def signer_for(key: PrivateKey, digest_name: str | None = None) -> PrivateKey:
    """``key``, switched to the algorithm with ``digest_name`` when one is asked for."""
    if digest_name is None:
        return key
    algorithm = signature_algorithm_for(key.public_key(), digest_name)
    if algorithm is key.signature_algorithm:
        return key
    if isinstance(key, InternationalPrivateKey):
        return key.with_algorithm(algorithm)
    raise UsageError(
        f"{key.signature_algorithm.name} keys sign with {key.signature_algorithm.digest.name} only"
    )


def read_private_key(path: str) -> PrivateKey:
    """Load an unencrypted PKCS#8 private key (PEM or DER) from a file."""
    return load_private_key(read_file(path, "private key"))


def read_public_key(path: str) -> PublicKey:
    """Load a SubjectPublicKeyInfo (PEM or DER) from a file."""
    return load_public_key(read_file(path, "public key"))
