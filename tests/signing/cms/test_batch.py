"""``CadesBatch``: the per-batch templates give byte-for-byte what ``prepare_cades`` → ``finish`` give,
what asn1crypto's own classes build, and what ``openssl cms -verify`` accepts."""

from __future__ import annotations

import datetime as dt

import pytest
from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signing.cms import CadesBatch, PreparedSignature, finish, prepare_cades, prepare_cosignature, sign_cades
from signing.errors import InvalidInputError, InvalidSignatureError, UnsupportedAlgorithmError
from signing.gost.params import ParamSet
from tests.signing.cms.conftest import FAST_IDS, FAST_KINDS, NOW, Kind, Oracle, Pki, is_gost, pki

DOCUMENTS = [f"Документ № {n}\n".encode() * (n + 1) for n in range(5)]
SIGNING_TIME = NOW - dt.timedelta(hours=1)
FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _batch(p: Pki, *, detached: bool, **kwargs: object) -> CadesBatch:
    return CadesBatch(
        certificate=p.certificate,
        signature_algorithm=p.key.signature_algorithm,
        detached=detached,
        signing_time=kwargs.pop("signing_time", SIGNING_TIME),  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )


def _reference(p: Pki, document: bytes, *, detached: bool, **kwargs: object) -> PreparedSignature:
    return prepare_cades(
        document,
        certificate=p.certificate,
        signature_algorithm=p.key.signature_algorithm,
        detached=detached,
        signing_time=kwargs.pop("signing_time", SIGNING_TIME),  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("kind", FAST_KINDS, ids=FAST_IDS)
@pytest.mark.parametrize("detached", [False, True], ids=["attached", "detached"])
def test_equals_prepare_and_finish(kind: Kind, detached: bool) -> None:
    p = pki(kind)
    batch = _batch(p, detached=detached)
    for document in DOCUMENTS:
        prepared = batch.prepare(document)
        reference = _reference(p, document, detached=detached)
        assert prepared == reference
        raw = p.key.sign_digest(prepared.digest_to_sign)
        signature = batch.finish(prepared, raw)
        assert signature == finish(reference, raw)
        # A full re-encode by asn1crypto yields the same bytes: the output is DER.
        assert cms.ContentInfo.load(signature).dump(force=True) == signature


@pytest.mark.parametrize("kind", FAST_KINDS, ids=FAST_IDS)
def test_from_digest_and_with_intermediates(kind: Kind) -> None:
    p = pki(kind)
    extra = (pki(kind, 1).root, pki("P-256", 2).root)
    batch = _batch(p, detached=True, certificates=extra)
    digest = p.key.signature_algorithm.digest
    for document in DOCUMENTS:
        prepared = batch.prepare(content_digest=digest.hash(document))
        reference = _reference(p, document, detached=True, certificates=extra)
        assert prepared == reference
        raw = p.key.sign_digest(prepared.digest_to_sign)
        assert batch.finish(prepared, raw, verify=False) == finish(reference, raw)


def _asn1crypto_signed_data(p: Pki, document: bytes, raw: bytes, *, detached: bool) -> bytes:
    """The same CAdES-BES built from scratch with asn1crypto's classes (an independent encoder)."""
    algorithm = p.key.signature_algorithm
    digest = algorithm.digest
    null = {"parameters": core.Null()} if is_gost(p.kind) else {}
    digest_algorithm = algos.DigestAlgorithm({"algorithm": digest.oid, **null})
    cert_id = tsp.ESSCertIDv2(
        {
            "hash_algorithm": digest_algorithm,
            "cert_hash": digest.hash(p.certificate.der),
            "issuer_serial": {
                "issuer": [asn1_x509.GeneralName(name="directory_name", value=p.certificate.issuer)],
                "serial_number": p.certificate.serial_number,
            },
        }
    )
    attributes = cms.CMSAttributes(
        [
            {"type": "content_type", "values": ["data"]},
            {"type": "signing_time", "values": [cms.Time(name="utc_time", value=SIGNING_TIME)]},
            {"type": "message_digest", "values": [digest.hash(document)]},
            {"type": "signing_certificate_v2", "values": [{"certs": [cert_id]}]},
        ]
    )
    if is_gost(p.kind):
        signature_algorithm = algos.SignedDigestAlgorithm(
            {"algorithm": algorithm.key_algorithm.oid, "parameters": core.Null()}
        )
    else:
        signature_algorithm = algorithm.algorithm_identifier()
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value={"issuer": p.certificate.issuer, "serial_number": p.certificate.serial_number},
            ),
            "digest_algorithm": digest_algorithm,
            "signed_attrs": attributes,
            "signature_algorithm": signature_algorithm,
            "signature": raw,
        }
    )
    encapsulated = {"content_type": "data", **({} if detached else {"content": document})}
    signed_data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [digest_algorithm],
            "encap_content_info": encapsulated,
            "certificates": [asn1_x509.Certificate.load(p.certificate.der)],
            "signer_infos": [signer_info],
        }
    )
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump(force=True))


@pytest.mark.parametrize("kind", FAST_KINDS, ids=FAST_IDS)
@pytest.mark.parametrize("detached", [False, True], ids=["attached", "detached"])
def test_equals_the_asn1crypto_construction(kind: Kind, detached: bool) -> None:
    p = pki(kind)
    batch = _batch(p, detached=detached)
    document = DOCUMENTS[3]
    prepared = batch.prepare(document)
    raw = p.key.sign_digest(prepared.digest_to_sign)
    assert batch.finish(prepared, raw) == _asn1crypto_signed_data(p, document, raw, detached=detached)


@FAST
@given(document=st.binary(max_size=2000), detached=st.booleans(), gost512=st.booleans())
def test_any_document(document: bytes, detached: bool, gost512: bool) -> None:
    p = pki(ParamSet.TC26_512_C if gost512 else ParamSet.TC26_256_A)
    prepared = _batch(p, detached=detached).prepare(document)
    assert prepared == _reference(p, document, detached=detached)


@FAST
@given(moment=st.datetimes(min_value=dt.datetime(1950, 1, 1), max_value=dt.datetime(2200, 1, 1)))
def test_any_signing_time(moment: dt.datetime) -> None:
    """UTCTime and GeneralizedTime (another attribute length, so maybe another order) alike."""
    p = pki(ParamSet.TC26_256_A)
    moment = moment.replace(tzinfo=dt.UTC)
    prepared = _batch(p, detached=True, signing_time=moment).prepare(DOCUMENTS[0])
    assert prepared == _reference(p, DOCUMENTS[0], detached=True, signing_time=moment)


@pytest.mark.parametrize("kind", FAST_KINDS, ids=FAST_IDS)
@pytest.mark.parametrize("detached", [False, True], ids=["attached", "detached"])
def test_openssl_verifies_every_item(oracle: Oracle, kind: Kind, detached: bool) -> None:
    p = pki(kind)
    batch = CadesBatch(
        certificate=p.certificate, signature_algorithm=p.key.signature_algorithm, detached=detached
    )
    for document in DOCUMENTS[:3]:
        prepared = batch.prepare(document)
        signature = batch.finish(prepared, p.key.sign_digest(prepared.digest_to_sign))
        oracle.assert_cms_verifies(
            signature, [p.root], gost=is_gost(kind), content=document if detached else None
        )


def test_finish_checks_the_signature() -> None:
    p, other = pki(ParamSet.TC26_256_A), pki(ParamSet.TC26_256_A, 1)
    batch = _batch(p, detached=True)
    prepared = batch.prepare(DOCUMENTS[0])
    wrong = other.key.sign_digest(prepared.digest_to_sign)
    with pytest.raises(InvalidSignatureError):
        batch.finish(prepared, wrong)
    assert batch.finish(prepared, wrong, verify=False) == finish(prepared, wrong, verify=False)


def test_finish_of_a_signature_prepared_elsewhere() -> None:
    """A co-signature (or anything another template made) goes through ``finish`` itself."""
    p = pki(ParamSet.TC26_256_A)
    base = sign_cades(DOCUMENTS[0], signer=p.key, certificate=p.certificate, signing_time=SIGNING_TIME)
    cosigner = pki(ParamSet.TC26_512_C)
    prepared = prepare_cosignature(
        base, certificate=cosigner.certificate, signature_algorithm=cosigner.key.signature_algorithm
    )
    raw = cosigner.key.sign_digest(prepared.digest_to_sign)
    assert _batch(p, detached=False).finish(prepared, raw) == finish(prepared, raw)
    other = _batch(p, detached=True).prepare(DOCUMENTS[1])
    raw = p.key.sign_digest(other.digest_to_sign)
    assert _batch(p, detached=True).finish(other, raw) == finish(other, raw)


def test_bad_arguments() -> None:
    p = pki(ParamSet.TC26_256_A)
    digest = p.key.signature_algorithm.digest.hash(DOCUMENTS[0])
    with pytest.raises(InvalidInputError, match="only be detached"):
        _batch(p, detached=False).prepare(content_digest=digest)
    with pytest.raises(InvalidInputError, match="32 bytes"):
        _batch(p, detached=True).prepare(content_digest=digest[:-1])
    with pytest.raises(InvalidInputError):
        _batch(p, detached=True).prepare()
    with pytest.raises(InvalidInputError, match="timezone"):
        _batch(p, detached=True, signing_time=dt.datetime(2026, 1, 1))
    with pytest.raises(UnsupportedAlgorithmError):
        CadesBatch(
            certificate=p.certificate, signature_algorithm=pki("P-256").key.signature_algorithm, detached=True
        )


def test_long_lengths() -> None:
    """Contents past 64 KiB: three-octet DER lengths in every enclosing element."""
    p = pki(ParamSet.TC26_256_A)
    document = bytes(range(256)) * 300
    prepared = _batch(p, detached=False).prepare(document)
    reference = _reference(p, document, detached=False)
    raw = p.key.sign_digest(prepared.digest_to_sign)
    signature = _batch(p, detached=False).finish(prepared, raw)
    assert signature == finish(reference, raw)
    assert cms.ContentInfo.load(signature).dump(force=True) == signature
