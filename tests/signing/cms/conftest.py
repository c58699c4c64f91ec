"""Fixtures for the CMS tests: a small PKI per algorithm (made with ``signing.x509``) and the
``openssl cms`` / ``openssl dgst`` oracle.

Certificates are valid around the real current time, because ``openssl cms -verify`` checks them
at the time it runs. PKIs are made once per session and cached.
"""

from __future__ import annotations

import datetime as dt
import functools
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from signing.algorithms import SignatureAlgorithm
from signing.gost.params import ParamSet
from signing.keys import PrivateKey, PublicKey, private_key_pem
from signing.x509 import Certificate, CertificateAuthority, self_signed_ca
from tests.signing.conftest import any_key

Kind = ParamSet | str
"""A GOST parameter set, or ``P-256`` / ``P-384`` / ``RSA``."""

FAST_KINDS: tuple[Kind, ...] = (ParamSet.TC26_256_A, ParamSet.TC26_512_C, "P-256", "RSA")
"""One GOST 256, one GOST 512, ECDSA P-256 and RSA: what most tests run on."""
FAST_IDS = [str(getattr(kind, "name", kind)) for kind in FAST_KINDS]

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
"""The session's "now": certificates are valid around it."""
DAY = dt.timedelta(days=1)
YEAR = dt.timedelta(days=365)


def kind_id(kind: Kind) -> str:
    """Readable test id of a kind."""
    return str(getattr(kind, "name", kind))


def is_gost(kind: Kind) -> bool:
    """True for GOST parameter sets."""
    return isinstance(kind, ParamSet)


@dataclass(frozen=True)
class Pki:
    """A root CA and one end entity under it, all of one algorithm."""

    kind: Kind
    root: Certificate
    root_key: PrivateKey
    certificate: Certificate
    key: PrivateKey

    @property
    def authority(self) -> CertificateAuthority:
        """The root as a CA that issues more certificates."""
        return CertificateAuthority(self.root, self.root_key)

    def issue(
        self, name: str, key: PrivateKey, *, not_before: dt.datetime, not_after: dt.datetime
    ) -> Certificate:
        """Another end-entity certificate under this root."""
        return self.authority.issue(
            subject=[("common_name", name)],
            public_key=key.public_key(),
            not_before=not_before,
            not_after=not_after,
        )


@functools.cache
def pki(kind: Kind, slot: int = 0) -> Pki:
    """The PKI of ``kind`` (distinct keys and names per ``slot``), made once."""
    root_key = any_key(kind, 10 + slot)
    root = self_signed_ca(
        root_key,
        subject=[("country_name", "RU"), ("organization_name", "Ключ"), ("common_name", f"CMS Root {slot}")],
        not_before=NOW - 3 * YEAR,
        not_after=NOW + 5 * YEAR,
    )
    key = any_key(kind, 20 + slot)
    authority = CertificateAuthority(root, root_key)
    certificate = authority.issue(
        subject=[("common_name", f"Подписант {kind_id(kind)} {slot}"), ("snils", "12345678901")],
        public_key=key.public_key(),
        not_before=NOW - YEAR,
        not_after=NOW + YEAR,
    )
    return Pki(kind, root, root_key, certificate, key)


class RecordingSigner:
    """A complete :class:`~signing.keys.Signer` exposing only the interface (what an HSM client looks
    like to a format) that records every digest it signs."""

    def __init__(self, key: PrivateKey) -> None:
        self._key = key
        self.digests: list[bytes] = []

    @property
    def signature_algorithm(self) -> SignatureAlgorithm:
        return self._key.signature_algorithm

    def public_key(self) -> PublicKey:
        return self._key.public_key()

    def sign_digest(self, digest: bytes) -> bytes:
        self.digests.append(digest)
        return self._key.sign_digest(digest)


class Oracle:
    """The ``openssl`` CLI (with the gost engine for GOST): the independent checker of these tests."""

    def __init__(self, path: str, workdir: Path) -> None:
        self.path = path
        self.workdir = workdir
        self._count = 0

    def file(self, data: bytes, suffix: str = ".bin") -> str:
        """Write ``data`` to a fresh file in the work folder; return its path."""
        self._count += 1
        path = self.workdir / f"f{self._count}{suffix}"
        path.write_bytes(data)
        return str(path)

    def run(self, *args: str, gost: bool) -> subprocess.CompletedProcess[bytes]:
        """``openssl <command> [-engine gost] <args>`` (the engine only where GOST needs it)."""
        command, *rest = args
        engine = ["-engine", "gost"] if gost else []
        return subprocess.run(
            [self.path, command, *engine, *rest],
            capture_output=True,
            check=False,
            timeout=60,
            cwd=self.workdir,
        )

    def cms_verify(
        self,
        signature: bytes,
        anchors: Iterable[Certificate],
        *,
        gost: bool,
        content: bytes | None = None,
        cades: bool = True,
    ) -> subprocess.CompletedProcess[bytes]:
        """``openssl cms -verify [-cades] -CAfile … [-content … -binary]``; returns the process."""
        ca_file = self.file(b"".join(anchor.pem() for anchor in anchors), ".pem")
        args = ["cms", "-verify", "-inform", "DER", "-in", self.file(signature, ".p7s"), "-CAfile", ca_file]
        args += ["-binary", "-purpose", "any", "-out", self.file(b"", ".out")]
        if cades:
            args.append("-cades")
        if content is not None:
            args += ["-content", self.file(content)]
        return self.run(*args, gost=gost)

    def assert_cms_verifies(self, signature: bytes, anchors: Sequence[Certificate], **kwargs: object) -> None:
        """Fail the test with openssl's message unless it verifies ``signature``."""
        done = self.cms_verify(signature, anchors, **kwargs)  # type: ignore[arg-type]
        assert done.returncode == 0, done.stderr.decode(errors="replace")
        assert b"Verification successful" in done.stderr

    def cms_sign(
        self,
        certificate: Certificate,
        key: PrivateKey,
        content: bytes,
        *,
        gost: bool,
        detached: bool,
        cades: bool = False,
        extra: Sequence[str] = (),
    ) -> bytes:
        """``openssl cms -sign -signer … -inkey … -binary [-nodetach] [-cades] [extra…]`` → DER."""
        out = self.file(b"", ".p7s")
        args = ["cms", "-sign", "-signer", self.file(certificate.pem(), ".pem")]
        args += ["-inkey", self.file(private_key_pem(key), ".key"), "-binary", "-in", self.file(content)]
        args += ["-outform", "DER", "-out", out]
        if not detached:
            args.append("-nodetach")
        if cades:
            args.append("-cades")
        args += extra
        done = self.run(*args, gost=gost)
        assert done.returncode == 0, done.stderr.decode(errors="replace")
        return Path(out).read_bytes()


@pytest.fixture
def oracle(tmp_path: Path) -> Oracle:
    """The ``openssl`` oracle in this test's folder. Its absence fails the suite, it never skips."""
    path = shutil.which("openssl")
    assert path is not None, "the openssl CLI (with libengine-gost-openssl) is required by these tests"
    return Oracle(path, tmp_path)
