"""Fixtures for the native GOST binding tests: vector files and a test-only reference curve.

:class:`RefCurve` is textbook affine arithmetic in pure Python. It is an *independent oracle*
for tests (it recomputes RFC 7091 signatures from the fixed k and checks engine signatures), and
it is deliberately not constant-time: it must never be used outside tests or on a real key.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

VECTORS = Path(__file__).parent / "vectors"

Point = tuple[int, int] | None


def load_vectors(name: str) -> Any:
    """Parsed JSON of ``vectors/<name>``."""
    return json.loads((VECTORS / name).read_text())


@dataclass(frozen=True)
class RefCurve:
    """Short Weierstrass curve y² = x³ + ax + b over F_p with base point (px, py) of order q."""

    p: int
    a: int
    b: int
    q: int
    px: int
    py: int

    @classmethod
    def from_vector(cls, vector: dict[str, str]) -> RefCurve:
        return cls(*(int(vector[key], 16) for key in ("p", "a", "b", "q", "px", "py")))

    @property
    def size(self) -> int:
        return (self.q.bit_length() + 7) // 8

    def add(self, u: Point, v: Point) -> Point:
        if u is None:
            return v
        if v is None:
            return u
        p = self.p
        if u[0] == v[0]:
            if (u[1] + v[1]) % p == 0:
                return None
            slope = (3 * u[0] * u[0] + self.a) * pow(2 * u[1], -1, p) % p
        else:
            slope = (v[1] - u[1]) * pow(v[0] - u[0], -1, p) % p
        x = (slope * slope - u[0] - v[0]) % p
        return x, (slope * (u[0] - x) - u[1]) % p

    def mul(self, k: int, point: Point) -> Point:
        result: Point = None
        while k:
            if k & 1:
                result = self.add(result, point)
            point = self.add(point, point)
            k >>= 1
        return result

    def public(self, d: int) -> tuple[int, int]:
        point = self.mul(d, (self.px, self.py))
        assert point is not None
        return point

    def sign(self, d: int, digest: bytes, k: int) -> bytes:
        """GOST R 34.10-2012 §6.1 with a given k; returns s‖r big-endian."""
        e = int.from_bytes(digest, "little") % self.q or 1
        point = self.mul(k, (self.px, self.py))
        assert point is not None
        r = point[0] % self.q
        s = (r * d + k * e) % self.q
        return s.to_bytes(self.size, "big") + r.to_bytes(self.size, "big")

    def verify(self, point_le: bytes, digest: bytes, signature: bytes) -> bool:
        """GOST R 34.10-2012 §6.2 on x_le‖y_le, digest and s‖r."""
        n = self.size
        qx, qy = int.from_bytes(point_le[:n], "little"), int.from_bytes(point_le[n:], "little")
        s, r = int.from_bytes(signature[:n], "big"), int.from_bytes(signature[n:], "big")
        if not (0 < r < self.q and 0 < s < self.q):
            return False
        e = int.from_bytes(digest, "little") % self.q or 1
        v = pow(e, -1, self.q)
        c = self.add(self.mul(s * v % self.q, (self.px, self.py)), self.mul(-r * v % self.q, (qx, qy)))
        return c is not None and c[0] % self.q == r


# Curve constants (big-endian hex) of the production parameter sets used by the oracle checks.
# TC26 256 A is the twisted-Edwards-equivalent curve in its Weierstrass form (R 1323565.1.024-2019).
REF_CURVES: dict[str, dict[str, str]] = {
    "tc26-256-a": {
        "p": "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffd97",
        "a": "c2173f1513981673af4892c23035a27ce25e2013bf95aa33b22c656f277e7335",
        "b": "295f9bae7428ed9ccc20e7c359a9d41a22fccd9108e17bf7ba9337a6f8ae9513",
        "q": "400000000000000000000000000000000fd8cddfc87b6635c115af556c360c67",
        "px": "91e38443a5e82c0d880923425712b2bb658b9196932e02c78b2582fe742daa28",
        "py": "32879423ab1a0375895786c4bb46e9565fde0b5344766740af268adb32322e5c",
    },
    "cryptopro-a": {
        "p": "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffd97",
        "a": "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffd94",
        "b": "a6",
        "q": "ffffffffffffffffffffffffffffffff6c611070995ad10045841b09b761b893",
        "px": "1",
        "py": "8d91e471e0989cda27df505a453f2b7635294f2ddf23e3b122acc99c9e9f1e14",
    },
}


@pytest.fixture(scope="session")
def openssl() -> str:
    """Path of the ``openssl`` CLI: the independent oracle, so its absence fails the tests."""
    path = shutil.which("openssl")
    if path is None:
        pytest.fail("openssl CLI not installed (Debian: openssl + libengine-gost-openssl)")
    return path
