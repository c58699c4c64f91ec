"""The raw format: a bare signature over a document or its hash, checked both ways with
``openssl dgst`` (gost engine for GOST), and verify_raw's report."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from signing.algorithms import signature_algorithm
from signing.cms import (
    CheckName,
    CheckStatus,
    Indication,
    SignatureFormat,
    SignatureLevel,
    SubIndication,
    raw_digest,
    sign_raw,
    verify_raw,
)
from signing.errors import InvalidInputError
from signing.gost.params import ParamSet
from signing.keys import private_key_pem, public_key_pem
from tests.signing.cms.conftest import (
    FAST_IDS,
    FAST_KINDS,
    NOW,
    YEAR,
    Kind,
    Oracle,
    RecordingSigner,
    is_gost,
    pki,
)

DOCUMENT = "Акт сверки, 3 страницы\n".encode() * 30
_OPENSSL_DIGEST = {"streebog256": "-md_gost12_256", "streebog512": "-md_gost12_512", "sha256": "-sha256"}


def _dgst_digest(kind: Kind) -> str:
    return _OPENSSL_DIGEST[pki(kind).key.signature_algorithm.digest.name]


@pytest.mark.parametrize("kind", FAST_KINDS, ids=FAST_IDS)
@pytest.mark.parametrize("from_hash", [False, True], ids=["document", "hash"])
def test_openssl_verifies_our_raw_signature(oracle: Oracle, kind: Kind, from_hash: bool) -> None:
    p = pki(kind)
    digest = p.key.signature_algorithm.digest.hash(DOCUMENT)
    value = sign_raw(p.key, content_digest=digest) if from_hash else sign_raw(p.key, content=DOCUMENT)
    public = oracle.file(public_key_pem(p.key.public_key()), ".pem")
    done = oracle.run(
        "dgst",
        _dgst_digest(kind),
        "-verify",
        public,
        "-signature",
        oracle.file(value),
        oracle.file(DOCUMENT),
        gost=is_gost(kind),
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert b"Verified OK" in done.stdout


@pytest.mark.parametrize("kind", FAST_KINDS, ids=FAST_IDS)
def test_we_verify_openssl_raw_signature(oracle: Oracle, kind: Kind) -> None:
    p = pki(kind)
    out = oracle.file(b"", ".sig")
    key = oracle.file(private_key_pem(p.key), ".key")
    done = oracle.run(
        "dgst", _dgst_digest(kind), "-sign", key, "-out", out, oracle.file(DOCUMENT), gost=is_gost(kind)
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    value = Path(out).read_bytes()
    report = verify_raw(p.certificate, value, content=DOCUMENT, trust_anchors=[p.root])
    assert report.passed, report.model_dump_json(indent=1)
    assert report.format is SignatureFormat.RAW
    assert report.detached is None
    (signer,) = report.signers
    assert signer.level is SignatureLevel.RAW
    assert signer.signature_algorithm == p.key.signature_algorithm.name
    assert signer.signing_certificate is not None
    assert len(signer.chain) == 2
    assert verify_raw(p.key.public_key(), value, content=DOCUMENT).passed


@pytest.mark.parametrize("kind", FAST_KINDS, ids=FAST_IDS)
def test_bad_raw_signatures(kind: Kind) -> None:
    p = pki(kind)
    value = sign_raw(p.key, content=DOCUMENT)
    for content, signature in ((DOCUMENT + b"!", value), (DOCUMENT, value[:-1] + bytes([value[-1] ^ 1]))):
        report = verify_raw(p.key.public_key(), signature, content=content)
        assert (report.indication, report.sub_indication) == (
            Indication.TOTAL_FAILED,
            SubIndication.SIG_CRYPTO_FAILURE,
        )
    report = verify_raw(p.key.public_key(), b"", content=DOCUMENT)
    assert report.sub_indication is SubIndication.SIG_CRYPTO_FAILURE


def test_bare_key_and_certificate_checks() -> None:
    p = pki(ParamSet.TC26_512_C)
    value = sign_raw(p.key, content=DOCUMENT)
    report = verify_raw(p.key.public_key(), value, content=DOCUMENT)
    checks = {c.name: c.status for c in report.signers[0].checks}
    assert checks[CheckName.SIGNING_CERTIFICATE] is CheckStatus.NOT_APPLICABLE
    assert checks[CheckName.CERTIFICATE_CHAIN] is CheckStatus.NOT_APPLICABLE
    assert checks[CheckName.SIGNATURE_VALUE] is CheckStatus.PASSED
    untrusted = verify_raw(
        p.certificate, value, content=DOCUMENT, trust_anchors=[pki(ParamSet.TC26_512_C, 1).root]
    )
    assert untrusted.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND
    later = verify_raw(p.certificate, value, content=DOCUMENT, trust_anchors=[p.root], at=NOW + 2 * YEAR)
    assert (later.indication, later.sub_indication) == (
        Indication.INDETERMINATE,
        SubIndication.OUT_OF_BOUNDS_NO_POE,
    )
    assert verify_raw(
        p.certificate, value, content=DOCUMENT, trust_anchors=[p.root], at=NOW + dt.timedelta(days=1)
    ).passed


def test_explicit_algorithm() -> None:
    p = pki("P-256")
    sha512 = signature_algorithm("sha512_ecdsa")
    key = p.key.with_algorithm(sha512)  # type: ignore[attr-defined]
    value = sign_raw(key, content=DOCUMENT)
    assert verify_raw(
        p.certificate, value, content=DOCUMENT, signature_algorithm=sha512, trust_anchors=[p.root]
    ).passed
    report = verify_raw(p.certificate, value, content=DOCUMENT, trust_anchors=[p.root])
    assert report.sub_indication is SubIndication.SIG_CRYPTO_FAILURE
    # An algorithm of another key family cannot verify: a crypto failure, not a crash.
    gost = signature_algorithm("streebog256_gost3410_2012_256")
    report = verify_raw(p.certificate, value, content=DOCUMENT, signature_algorithm=gost)
    assert report.sub_indication is SubIndication.SIG_CRYPTO_FAILURE


def test_only_sign_digest_crosses_to_the_key() -> None:
    p = pki(ParamSet.TC26_256_A)
    signer = RecordingSigner(p.key)
    sign_raw(signer, content=DOCUMENT)
    assert signer.digests == [raw_digest(p.key.signature_algorithm, content=DOCUMENT)]


def test_bad_arguments() -> None:
    p = pki(ParamSet.TC26_256_A)
    algorithm = p.key.signature_algorithm
    with pytest.raises(InvalidInputError):
        raw_digest(algorithm)
    with pytest.raises(InvalidInputError):
        raw_digest(algorithm, content=DOCUMENT, content_digest=bytes(32))
    with pytest.raises(InvalidInputError, match="32 bytes"):
        sign_raw(p.key, content_digest=bytes(64))
    with pytest.raises(InvalidInputError):
        verify_raw(p.key.public_key(), bytes(64), content_digest=bytes(31))
