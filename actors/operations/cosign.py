"""Co-signatures: an existing CMS accepted at intake for one more CAdES-BES signer.

An item with ``signature`` (``SignItem.signature``) asks to add the caller's signature to a CMS
someone else made. The CMS is checked here, once, when the operation is created, so a bad one is a
422 naming the item's field and nothing is stored:

* it must be a well-formed CMS SignedData (DER or PEM) with 1 to ``max_existing_signers`` signers,
  and all the CMSes of one operation at most ``max_existing_signers_per_operation`` together (each
  signer is verified here: the cap bounds the CPU one request can ask for);
* attached or detached as the request's ``detached`` says (the operation's ``detached`` describes
  every result it holds, and a callback must never carry an attached CMS's document);
* an attached CMS carries its document: ``content`` and ``hash`` are left out; a detached one needs
  the document or its hash (the certificate's digest algorithm);
* **the existing signatures must be intact**: each signer's structure, content-type,
  message-digest and signature value are checked with ``signing.cms.verify_cades``, and any of these
  that FAILS refuses the CMS (a detached CMS whose message-digest does not match the document given
  names ``items.N.content`` / ``items.N.hash``). A check that cannot be decided does not refuse it
  (a signer whose certificate the CMS lacks, an algorithm this server does not know), nor does
  trust: the chain, revocation and the claimed signing time are not required — the other signers
  may be certified by a CA this deployment does not know, and judging them is ``POST /verify``'s
  job. Why refuse the broken ones: a co-signer vouches for the document the others signed; adding a
  valid signature to a tampered or corrupt container would produce a CMS that no verifier accepts
  and lend the caller's signature to content nobody else validly signed.

The item's digest is the digest of the signed content with the signing certificate's digest
algorithm: what the devices show and what the new signer's message-digest attribute holds. Devices
are told it is a co-signature (how many signers there are, who they are) in the preview.
"""

from __future__ import annotations

from dataclasses import dataclass

from actors.operations.errors import InvalidOperationError
from actors.operations.options import OperationsOptions
from actors.operations.preview import text_preview
from actors.sessions.protocol import MAX_PREVIEW_CHARS
from signing.algorithms import DigestAlgorithm
from signing.cms import CheckName, CheckStatus, SignerReport, SubIndication, load_signed_data, verify_cades
from signing.errors import SigningError

INTEGRITY_CHECKS = frozenset(
    {CheckName.FORMAT, CheckName.CONTENT_TYPE, CheckName.MESSAGE_DIGEST, CheckName.SIGNATURE_VALUE}
)
"""Checks of an existing signer that must not FAIL for its CMS to be co-signed."""
MAX_NAMED_SIGNERS = 5
"""Signers named in a device preview (the rest are counted)."""


@dataclass(frozen=True, slots=True)
class ExistingCms:
    """An existing CMS accepted for a co-signature."""

    cms: bytes
    """The CMS as received (DER or PEM)."""
    digest: bytes
    """Digest of the signed content with the new signer's digest algorithm."""
    signers: tuple[str, ...]
    """The existing signers' certificate subjects, in order ("" where not identified)."""

    def preview(self, content: bytes | None) -> str:
        """The device preview: a co-signature header, then the document's text preview (if text)."""
        count = len(self.signers)
        named = [name or "unidentified signer" for name in self.signers[:MAX_NAMED_SIGNERS]]
        more = f" and {count - MAX_NAMED_SIGNERS} more" if count > MAX_NAMED_SIGNERS else ""
        plural = "signature" if count == 1 else "signatures"
        header = (
            f"Co-signature: your signature is added to {count} existing {plural} ({'; '.join(named)}{more})"
        )
        text = text_preview(content) if content is not None else ""
        return (f"{header}\n\n{text}" if text else header)[:MAX_PREVIEW_CHARS]


class SignerBudget:
    """How many more existing signers the co-signatures of one operation may bring (each is verified)."""

    __slots__ = ("left", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = self.left = limit

    def take(self, where: str, count: int) -> None:
        """Count ``count`` signers of item ``where``; ``InvalidOperationError`` past the limit."""
        if count > self.left:
            raise InvalidOperationError(
                f"{where}.signature",
                f"the CMSes to co-sign in one operation have at most {self.limit} signers in all",
            )
        self.left -= count


def accept_cms(
    where: str,
    *,
    budget: SignerBudget,
    cms: bytes,
    content: bytes | None,
    content_hash: bytes | None,
    detached: bool,
    digest: DigestAlgorithm,
    options: OperationsOptions,
) -> tuple[ExistingCms, bytes | None]:
    """Check the existing ``cms`` of item ``where`` (``items.3``); it and the signed content, if known.

    ``content`` / ``content_hash`` are the item's document or its hash (a detached CMS only);
    ``budget`` counts the operation's existing signers before any of this item's is verified.
    Raises ``InvalidOperationError`` naming the field at fault (see the module docstring).
    """
    try:
        parsed = load_signed_data(cms)
    except SigningError as exc:
        raise InvalidOperationError(f"{where}.signature", f"not a CMS SignedData: {exc}"[:500]) from exc
    count = len(parsed.signer_infos)
    if count == 0:
        raise InvalidOperationError(f"{where}.signature", "the CMS has no signature to co-sign")
    if count > options.max_existing_signers:
        raise InvalidOperationError(
            f"{where}.signature", f"a CMS to co-sign has at most {options.max_existing_signers} signers"
        )
    budget.take(where, count)
    if parsed.detached != detached:
        kind = "detached" if parsed.detached else "attached"
        raise InvalidOperationError(
            f"{where}.signature",
            f"this CMS is {kind}: co-sign it in an operation with detached: {str(parsed.detached).lower()}",
        )
    if not parsed.detached:
        for field, given in (("content", content), ("hash", content_hash)):
            if given is not None:
                raise InvalidOperationError(
                    f"{where}.{field}", "an attached CMS carries its document: leave content and hash out"
                )
        content = parsed.content
    elif content is None and content_hash is None:
        raise InvalidOperationError(
            f"{where}.content", "a detached CMS needs the document (content) or its hash"
        )
    value = content_hash if content_hash is not None else digest.hash(content or b"")
    if parsed.detached:
        signers = _check_signers(where, cms, content=content, content_hash=content_hash)
    else:  # the verifier reads the encapsulated content itself
        signers = _check_signers(where, cms, content=None, content_hash=None)
    return ExistingCms(cms=cms, digest=value, signers=signers), content


def _check_signers(
    where: str, cms: bytes, *, content: bytes | None, content_hash: bytes | None
) -> tuple[str, ...]:
    """Verify the existing signers (no trust anchors: integrity only); their subjects.

    ``content`` / ``content_hash``: the document of a detached CMS (None for an attached one).
    """
    try:
        report = verify_cades(cms, content=content, content_digest=content_hash)
    except SigningError as exc:
        raise InvalidOperationError(f"{where}.signature", f"not a CMS SignedData: {exc}"[:500]) from exc
    given = (
        None
        if content is None and content_hash is None
        else "hash"
        if content_hash is not None
        else "content"
    )
    for signer in report.signers:
        _refuse_broken(where, signer, given=given)
    return tuple(
        "" if signer.signing_certificate is None else signer.signing_certificate.subject
        for signer in report.signers
    )


def _refuse_broken(where: str, signer: SignerReport, *, given: str | None) -> None:
    """``InvalidOperationError`` when an integrity check of ``signer`` FAILED; a message-digest that
    does not match the document the caller ``given`` ("content" or "hash") names that field."""
    for check in signer.checks:
        if check.name not in INTEGRITY_CHECKS or check.status is not CheckStatus.FAILED:
            continue
        if check.name is CheckName.FORMAT and check.sub_indication is not SubIndication.FORMAT_FAILURE:
            continue  # an algorithm this server does not know: not evidence of damage
        if check.name is CheckName.MESSAGE_DIGEST and given is not None:
            raise InvalidOperationError(
                f"{where}.{given}",
                f"not the document the existing signatures cover (signer {signer.index}: {check.detail})"[
                    :500
                ],
            )
        raise InvalidOperationError(
            f"{where}.signature",
            f"existing signature {signer.index} is broken ({check.name.value}: {check.detail})"[:500],
        )
