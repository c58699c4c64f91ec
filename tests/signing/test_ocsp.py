"""OCSP structures (``signing.ocsp``): requests made by ``openssl ocsp``, responses it verifies.

The oracle is ``openssl ocsp`` with the gost engine loaded through OPENSSL_CONF: it builds the
requests (SHA-1, SHA-256 and Streebog CertIDs, nonces) and checks our responses (signature by the CA
itself, nonce, statuses, reasons).
"""

from __future__ import annotations

import datetime as dt
import functools
import subprocess
from pathlib import Path

import pytest
from asn1crypto import core
from asn1crypto import ocsp as asn1_ocsp

from signing.errors import InvalidInputError, InvalidSignatureError, MalformedDataError
from signing.gost.params import ParamSet
from signing.keys import PrivateKey
from signing.ocsp import (
    CertStatus,
    IssuerHashes,
    OcspRequest,
    OcspResponse,
    PreparedOcspResponse,
    error_response,
    parse_request,
    prepare_response,
)
from signing.x509 import Certificate, CertificateAuthority, self_signed_ca
from tests.oracle import gost_environment
from tests.signing.conftest import any_key

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
HOUR = dt.timedelta(hours=1)


def openssl_ocsp(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``openssl ocsp <args>`` in ``folder`` with the gost engine loaded (no check)."""
    return subprocess.run(
        ["openssl", "ocsp", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=folder,
        env=gost_environment(folder),
    )


def make_request(folder: Path, *args: str) -> bytes:
    """The DER OCSPRequest ``openssl ocsp <args> -reqout`` writes."""
    done = openssl_ocsp(folder, *args, "-reqout", "req.der")
    assert done.returncode == 0, done.stderr
    return (folder / "req.der").read_bytes()


@functools.cache
def pki(kind: ParamSet | str) -> tuple[PrivateKey, Certificate, Certificate]:
    """A CA key, its self-signed certificate and a leaf it issued (made once per kind)."""
    ca_key = any_key(kind)
    ca = self_signed_ca(
        ca_key, subject={"common_name": f"OCSP CA {kind}"}, not_before=NOW - HOUR, not_after=NOW + 48 * HOUR
    )
    leaf = CertificateAuthority(ca, ca_key).issue(
        subject={"common_name": "Alice"},
        public_key=any_key(ParamSet.CRYPTOPRO_A, 1).public_key(),
        not_before=NOW - HOUR,
        not_after=NOW + 24 * HOUR,
    )
    return ca_key, ca, leaf


def write_pki(folder: Path, kind: ParamSet | str) -> tuple[PrivateKey, Certificate, Certificate]:
    """:func:`pki` with ca.pem and leaf.pem written in ``folder``."""
    ca_key, ca, leaf = pki(kind)
    (folder / "ca.pem").write_bytes(ca.pem())
    (folder / "leaf.pem").write_bytes(leaf.pem())
    return ca_key, ca, leaf


def answer(
    key: PrivateKey, ca: Certificate, request: OcspRequest, statuses: list[CertStatus]
) -> OcspResponse:
    """Prepare, sign with ``key`` and finish the response."""
    prepared = prepare_response(
        issuer=ca,
        signature_algorithm=key.signature_algorithm,
        request=request,
        statuses=statuses,
        produced_at=NOW,
        next_update=NOW + HOUR,
    )
    return prepared.finish(key.sign_digest(prepared.digest))


def openssl_checks(folder: Path, request: bytes, response: bytes) -> str:
    """``openssl ocsp -reqin -respin -CAfile ca.pem -resp_text``: verify OK and nonce OK; its output."""
    (folder / "req.der").write_bytes(request)
    (folder / "resp.der").write_bytes(response)
    done = openssl_ocsp(folder, "-reqin", "req.der", "-respin", "resp.der", "-CAfile", "ca.pem", "-resp_text")
    assert done.returncode == 0, done.stderr
    assert "Response verify OK" in done.stderr, done.stderr
    assert "Nonce Verify error" not in done.stdout + done.stderr
    return done.stdout


@pytest.mark.parametrize("digest", ["-sha1", "-sha256", "-md_gost12_256"])
def test_openssl_request_good_answer_verifies(tmp_path: Path, digest: str) -> None:
    ca_key, ca, leaf = write_pki(tmp_path, ParamSet.CRYPTOPRO_A)
    der = make_request(tmp_path, "-issuer", "ca.pem", digest, "-cert", "leaf.pem")
    request = parse_request(der, max_cert_ids=20)
    [identity] = request.cert_ids
    assert identity.serial_number == leaf.serial_number
    assert IssuerHashes(ca).names(identity)
    assert request.nonce is not None  # openssl adds one unless told -no_nonce
    response = answer(ca_key, ca, request, [CertStatus.good()])
    assert response.status == "successful"
    assert response.nonce == request.nonce
    assert response.answers == ((leaf.serial_number, CertStatus.good()),)
    assert response.responder_key_hash == IssuerHashes(ca).key_hash
    assert response.certificates == (ca.der,)
    response.verify_signature(ca.public_key())
    text = openssl_checks(tmp_path, der, response.der)
    assert "Cert Status: good" in text
    assert f"Responder Id: {IssuerHashes(ca).key_hash.hex().upper()}" in text  # byKey


@pytest.mark.parametrize("kind", [ParamSet.TC26_512_A, "P-256"])
def test_revoked_and_unknown_answers_for_other_ca_keys(tmp_path: Path, kind: ParamSet | str) -> None:
    ca_key, ca, leaf = write_pki(tmp_path, kind)
    der = make_request(tmp_path, "-issuer", "ca.pem", "-cert", "leaf.pem", "-serial", "12345", "-no_nonce")
    request = parse_request(der, max_cert_ids=20)
    assert request.nonce is None
    assert [identity.serial_number for identity in request.cert_ids] == [leaf.serial_number, 12345]
    revoked_at = NOW - dt.timedelta(minutes=3)
    statuses = [CertStatus.revoked(revoked_at, "key_compromise"), CertStatus.unknown()]
    response = answer(ca_key, ca, request, statuses)
    assert response.nonce is None
    assert response.answers == ((leaf.serial_number, statuses[0]), (12345, statuses[1]))
    assert response.next_update == NOW + HOUR
    text = openssl_checks(tmp_path, der, response.der)
    assert "Cert Status: revoked" in text
    assert "Revocation Reason: keyCompromise (0x1)" in text
    assert "Cert Status: unknown" in text


def test_a_certid_of_another_issuer_is_not_ours(tmp_path: Path) -> None:
    _, ca, _ = write_pki(tmp_path, ParamSet.CRYPTOPRO_A)
    _, other, _ = pki("P-256")
    (tmp_path / "other.pem").write_bytes(other.pem())
    der = make_request(tmp_path, "-issuer", "other.pem", "-serial", "7", "-issuer", "ca.pem", "-serial", "7")
    first, second = parse_request(der, max_cert_ids=20).cert_ids
    hashes = IssuerHashes(ca)
    assert not hashes.names(first)
    assert hashes.names(second)
    # An unknown hash algorithm can match nothing.
    assert hashes.pair("1.2.3.4") is None


def _request(*, count: int = 1, nonce: bytes | None = None, critical: str | None = None) -> bytes:
    _, ca, _ = pki(ParamSet.CRYPTOPRO_A)
    hashes = IssuerHashes(ca)
    name_hash, key_hash = hashes.pair("1.3.14.3.2.26") or (b"", b"")
    cert_id = {
        "hash_algorithm": {"algorithm": "sha1"},
        "issuer_name_hash": name_hash,
        "issuer_key_hash": key_hash,
        "serial_number": 1,
    }
    tbs: dict[str, object] = {"request_list": [{"req_cert": cert_id}] * count}
    extensions = []
    if nonce is not None:
        extensions.append({"extn_id": "nonce", "extn_value": core.OctetString(nonce)})
    if critical is not None:
        extensions.append({"extn_id": critical, "critical": True, "extn_value": b"\x05\x00"})
    if extensions:
        tbs["request_extensions"] = extensions
    return bytes(asn1_ocsp.OCSPRequest({"tbs_request": tbs}).dump())


def test_refusals_are_malformed_data() -> None:
    assert len(parse_request(_request(count=3), max_cert_ids=3).cert_ids) == 3
    assert parse_request(_request(nonce=b"n" * 32), max_cert_ids=1).nonce == bytes(
        core.OctetString(b"n" * 32).dump()
    )
    refused = [
        b"",
        b"garbage, not DER",
        _request() + b"\x00",  # trailing bytes
        _request()[:-3],  # truncated
        _request(count=0),
        _request(count=21),
        _request(nonce=b""),
        _request(nonce=b"n" * 33),
        _request(critical="1.2.3.4.5"),  # a critical extension this responder does not know
    ]
    for der in refused:
        with pytest.raises(MalformedDataError):
            parse_request(der, max_cert_ids=20)


def test_error_responses_are_unsigned_statuses(tmp_path: Path) -> None:
    for status in ("malformed_request", "internal_error", "try_later", "unauthorized"):
        response = OcspResponse.load(error_response(status))
        assert response.status == status
        with pytest.raises(InvalidInputError):
            _ = response.answers
    with pytest.raises(InvalidInputError):
        error_response("successful")
    (tmp_path / "resp.der").write_bytes(error_response("malformed_request"))
    done = openssl_ocsp(tmp_path, "-respin", "resp.der", "-resp_text", "-noverify")
    assert "malformedrequest (1)" in done.stdout + done.stderr


def test_a_wrong_signature_never_leaves(tmp_path: Path) -> None:
    ca_key, ca, _ = write_pki(tmp_path, ParamSet.CRYPTOPRO_A)
    request = parse_request(make_request(tmp_path, "-issuer", "ca.pem", "-cert", "leaf.pem"), max_cert_ids=20)
    prepared: PreparedOcspResponse = prepare_response(
        issuer=ca,
        signature_algorithm=ca_key.signature_algorithm,
        request=request,
        statuses=[CertStatus.good()],
        produced_at=NOW,
        next_update=NOW + HOUR,
    )
    other = any_key(ParamSet.CRYPTOPRO_A, 2)
    with pytest.raises(InvalidSignatureError):
        prepared.finish(other.sign_digest(prepared.digest))
    with pytest.raises(InvalidInputError):
        prepare_response(
            issuer=ca,
            signature_algorithm=ca_key.signature_algorithm,
            request=request,
            statuses=[],
            produced_at=NOW,
            next_update=NOW + HOUR,
        )
