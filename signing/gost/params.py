"""GOST R 34.10-2012 parameter sets (elliptic curves) with their OIDs and gost-engine names.

Several OIDs name the same curve: XchA is the CryptoPro A curve, XchB the CryptoPro C curve, and
TC26 256 B/C/D are the CryptoPro A/B/C curves under the TC26 arc. They stay distinct members
because the OID travels in keys and certificates; :attr:`ParamSet.curve` groups them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from signing.errors import UnsupportedAlgorithmError

#: GOST R 34.10-2012 public key algorithm OIDs (id-tc26-gost3410-12-256 / -512).
GOST3410_2012_256_OID = "1.2.643.7.1.1.1.1"
GOST3410_2012_512_OID = "1.2.643.7.1.1.1.2"
#: GOST R 34.11-2012 digest OIDs (id-tc26-gost3411-12-256 / -512).
STREEBOG256_OID = "1.2.643.7.1.1.2.2"
STREEBOG512_OID = "1.2.643.7.1.1.2.3"

# OpenSSL NIDs of the two key types (obj_mac.h); stable across OpenSSL 1.1 and 3.x.
_NID_GOST2012_256 = 979
_NID_GOST2012_512 = 980


@dataclass(frozen=True, slots=True)
class ParamSetSpec:
    """What one parameter set is."""

    oid: str
    """Dotted OID of the parameter set (the curve as named in keys and certificates)."""
    key_size: int
    """Key size in bits: 256 or 512."""
    engine_name: str
    """Value of the gost engine's ``paramset`` control for this set."""
    curve: str
    """Name of the underlying curve; equal for sets that are one curve under several OIDs."""
    digest_param_in_spki: bool
    """Whether OpenSSL's gost engine writes the digest OID into the key parameters (SPKI/PKCS#8)."""
    cofactor: int = 1
    """#E / q: 4 for the twisted-Edwards-form curves TC26 256 A and 512 C, 1 otherwise."""
    test_only: bool = False
    """The test curves of GOST R 34.10-2012 appendix A (RFC 7091 examples): never for real keys."""


class ParamSet(enum.Enum):
    """A GOST R 34.10-2012 parameter set. ``value`` is its :class:`ParamSetSpec`."""

    CRYPTOPRO_A = ParamSetSpec("1.2.643.2.2.35.1", 256, "A", "cryptopro-a", True)
    CRYPTOPRO_B = ParamSetSpec("1.2.643.2.2.35.2", 256, "B", "cryptopro-b", True)
    CRYPTOPRO_C = ParamSetSpec("1.2.643.2.2.35.3", 256, "C", "cryptopro-c", True)
    CRYPTOPRO_XCHA = ParamSetSpec("1.2.643.2.2.36.0", 256, "XA", "cryptopro-a", True)
    CRYPTOPRO_XCHB = ParamSetSpec("1.2.643.2.2.36.1", 256, "XB", "cryptopro-c", True)
    TC26_256_A = ParamSetSpec("1.2.643.7.1.2.1.1.1", 256, "TCA", "tc26-256-a", False, cofactor=4)
    TC26_256_B = ParamSetSpec("1.2.643.7.1.2.1.1.2", 256, "TCB", "cryptopro-a", False)
    TC26_256_C = ParamSetSpec("1.2.643.7.1.2.1.1.3", 256, "TCC", "cryptopro-b", False)
    TC26_256_D = ParamSetSpec("1.2.643.7.1.2.1.1.4", 256, "TCD", "cryptopro-c", False)
    TC26_512_A = ParamSetSpec("1.2.643.7.1.2.1.2.1", 512, "A", "tc26-512-a", True)
    TC26_512_B = ParamSetSpec("1.2.643.7.1.2.1.2.2", 512, "B", "tc26-512-b", True)
    TC26_512_C = ParamSetSpec("1.2.643.7.1.2.1.2.3", 512, "C", "tc26-512-c", False, cofactor=4)
    TEST_256 = ParamSetSpec("1.2.643.2.2.35.0", 256, "0", "test-256", True, test_only=True)
    TEST_512 = ParamSetSpec(
        "1.2.643.7.1.2.1.2.0", 512, "1.2.643.7.1.2.1.2.0", "test-512", True, test_only=True
    )

    @property
    def oid(self) -> str:
        """Dotted OID of the parameter set."""
        return self.value.oid

    @property
    def key_size(self) -> int:
        """Key size in bits (256 or 512)."""
        return self.value.key_size

    @property
    def size(self) -> int:
        """Byte length of the group order q: 32 or 64 (one coordinate, one signature half, d)."""
        return self.value.key_size // 8

    @property
    def signature_size(self) -> int:
        """Byte length of a signature s‖r."""
        return 2 * self.size

    @property
    def engine_name(self) -> str:
        """Value of the gost engine's ``paramset`` control."""
        return self.value.engine_name

    @property
    def curve(self) -> str:
        """Name of the underlying curve (shared by aliases such as XchA and CryptoPro A)."""
        return self.value.curve

    @property
    def cofactor(self) -> int:
        """Curve cofactor: points from outside need a subgroup check only when it is not 1."""
        return self.value.cofactor

    @property
    def test_only(self) -> bool:
        """True for the standard's test curves, which must not carry real keys."""
        return self.value.test_only

    @property
    def public_key_algorithm_oid(self) -> str:
        """OID of the key algorithm: id-tc26-gost3410-12-256 or -512."""
        return GOST3410_2012_256_OID if self.key_size == 256 else GOST3410_2012_512_OID

    @property
    def digest_oid(self) -> str:
        """OID of the Streebog variant that goes with this key size."""
        return STREEBOG256_OID if self.key_size == 256 else STREEBOG512_OID

    @property
    def digest_name(self) -> str:
        """OpenSSL/hashlib name of that Streebog variant."""
        return "md_gost12_256" if self.key_size == 256 else "md_gost12_512"

    @property
    def digest_param_in_spki(self) -> bool:
        """Whether the gost engine writes the digest OID into the key's algorithm parameters."""
        return self.value.digest_param_in_spki

    @property
    def pkey_nid(self) -> int:
        """OpenSSL NID of the key type (internal to the binding)."""
        return _NID_GOST2012_256 if self.key_size == 256 else _NID_GOST2012_512

    @classmethod
    def from_oid(cls, oid: str, *, allow_test: bool = False) -> ParamSet:
        """Return the parameter set with this dotted OID.

        Raises :class:`UnsupportedAlgorithmError` for an unknown OID, and for the test curves
        unless ``allow_test`` is set.
        """
        for member in cls:
            if member.oid == oid and (allow_test or not member.test_only):
                return member
        raise UnsupportedAlgorithmError(f"unsupported GOST R 34.10-2012 parameter set OID {oid!r}")

    @classmethod
    def production(cls) -> tuple[ParamSet, ...]:
        """All parameter sets fit for real keys (everything but the test curves)."""
        return tuple(member for member in cls if not member.test_only)
