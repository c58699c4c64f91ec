"""CMS / CAdES-BES and raw signatures: prepare → raw sign → finish, and verification into one report.

Module map::

    signing.cms
     ├─ report ........ the validation report (EN 319 102-1 indications), frozen pydantic models
     ├─ validation .... shared checks: signature value, claimed signing time, chain; ValidationPolicy
     ├─ der ........... minimal DER writing (TLV, SET OF) for assembling from encoded parts
     ├─ identifiers ... AlgorithmIdentifiers as CMS carries them (OpenSSL's GOST choices)
     ├─ attributes .... CAdES-BES signed attributes: build, read, signing-certificate-v2 binding
     ├─ container ..... SignedData: parsing into received encodings, assembly from encoded parts
     ├─ cades ......... prepare_cades / prepare_cosignature → finish; sign_cades / cosign_cades
     ├─ batch ......... CadesBatch: prepare/finish of many signatures from per-batch templates
     ├─ verify ........ verify_cades
     └─ raw ........... raw signature of a document or a hash: raw_digest, sign_raw, verify_raw

Formats never touch keys: the only key operation is ``Signer.sign_digest`` over
``PreparedSignature.digest_to_sign`` (or over :func:`raw_digest`), which an HSM unit can do.
"""

from signing.cms.batch import CadesBatch
from signing.cms.cades import (
    PreparedSignature,
    cosign_cades,
    finish,
    prepare_cades,
    prepare_cosignature,
    sign_cades,
)
from signing.cms.container import ParsedSignedData, load_signed_data
from signing.cms.raw import default_algorithm, document_digest, raw_digest, sign_raw, verify_raw
from signing.cms.report import (
    CertificateSummary,
    Check,
    CheckName,
    CheckStatus,
    Indication,
    SignatureFormat,
    SignatureLevel,
    SignerReport,
    SubIndication,
    ValidationReport,
)
from signing.cms.validation import DEFAULT_POLICY, ValidationPolicy
from signing.cms.verify import ContentDigest, verify_cades

__all__ = [
    "DEFAULT_POLICY",
    "CadesBatch",
    "CertificateSummary",
    "Check",
    "CheckName",
    "CheckStatus",
    "ContentDigest",
    "Indication",
    "ParsedSignedData",
    "PreparedSignature",
    "SignatureFormat",
    "SignatureLevel",
    "SignerReport",
    "SubIndication",
    "ValidationPolicy",
    "ValidationReport",
    "cosign_cades",
    "default_algorithm",
    "document_digest",
    "finish",
    "load_signed_data",
    "prepare_cades",
    "prepare_cosignature",
    "raw_digest",
    "sign_cades",
    "sign_raw",
    "verify_cades",
    "verify_raw",
]
