"""From a decoded ``SignRequest`` to the items of a new operation: checks, digests, previews.

Checks the domain makes whatever the edge already checked (the service is also called directly):
item count, document size, one of content/hash per item, the hash length of the certificate's
digest algorithm, and that a hash can only be signed into a raw or detached signature. Errors name
the offending input (``items.3.hash``) so the edge can answer a precise 422. An item with an
existing CMS to co-sign (``SignItem.signature``) is checked by ``actors.operations.cosign``.
"""

from __future__ import annotations

from dataclasses import dataclass

import trio

from actors.operations.cosign import SignerBudget, accept_cms
from actors.operations.errors import InvalidOperationError
from actors.operations.model import Format, InputKind, SignItem, SignRequest
from actors.operations.options import OperationsOptions
from actors.operations.preview import text_preview
from signing.algorithms import DigestAlgorithm


@dataclass(frozen=True, slots=True)
class PlannedItem:
    """One item of a new operation, ready to store and to sign."""

    idx: int
    """Position (0-based)."""
    name: str
    """Document name."""
    input: InputKind
    """What the client sent."""
    digest: bytes
    """The document digest (computed, or the client's hash)."""
    content: bytes | None
    """The document when the client sent it."""
    preview: str | None
    """Text preview for devices (None when not needed)."""
    base: bytes | None = None
    """A co-signature: the existing CMS the signature is added to (``content`` is then None)."""


def check_request(request: SignRequest, options: OperationsOptions) -> None:
    """Refuse what no certificate could make valid (``InvalidOperationError``)."""
    if not 1 <= len(request.items) <= options.max_items:
        raise InvalidOperationError("items", f"an operation has 1 to {options.max_items} items")
    if request.detached and request.format is not Format.CADES_BES:
        raise InvalidOperationError("detached", "only a cades-bes signature can be detached")
    for index, item in enumerate(request.items):
        _check_item(index, item, request, options)


def _check_item(index: int, item: SignItem, request: SignRequest, options: OperationsOptions) -> None:
    where = f"items.{index}"
    if item.signature is not None:
        _check_cosign_item(where, item, request, options)
    elif (item.content is None) == (item.hash is None):
        raise InvalidOperationError(where, "give exactly one of content and hash")
    if not 1 <= len(item.name) <= 255:
        raise InvalidOperationError(f"{where}.name", "a name has 1 to 255 characters")
    if item.content is not None and len(item.content) > options.max_document_bytes:
        raise InvalidOperationError(
            f"{where}.content", f"a document has at most {options.max_document_bytes} bytes"
        )
    attached = request.format is Format.CADES_BES and not request.detached
    if item.hash is not None and attached and item.signature is None:
        raise InvalidOperationError(
            f"{where}.hash", "an attached signature needs the content; sign a hash as raw or detached"
        )


def _check_cosign_item(where: str, item: SignItem, request: SignRequest, options: OperationsOptions) -> None:
    """What can be said of a co-signature item before its CMS is read (``cosign.accept_cms`` reads it)."""
    if request.format is not Format.CADES_BES:
        raise InvalidOperationError(f"{where}.signature", "only a cades-bes signature can be co-signed")
    if item.content is not None and item.hash is not None:
        raise InvalidOperationError(where, "give at most one of content and hash with a signature")
    if not item.signature:
        raise InvalidOperationError(f"{where}.signature", "the CMS to co-sign is empty")
    if len(item.signature) > options.max_cms_bytes:
        raise InvalidOperationError(
            f"{where}.signature", f"a CMS to co-sign has at most {options.max_cms_bytes} bytes"
        )


def check_hash_lengths(request: SignRequest, digest: DigestAlgorithm) -> None:
    """Every given hash must be a ``digest`` value (known once the certificate is)."""
    for index, item in enumerate(request.items):
        if item.hash is not None and len(item.hash) != digest.size:
            raise InvalidOperationError(
                f"items.{index}.hash",
                f"the certificate signs {digest.name} digests of {digest.size} bytes, got {len(item.hash)}",
            )


async def plan_items(
    request: SignRequest, *, digest: DigestAlgorithm, options: OperationsOptions, previews: bool
) -> list[PlannedItem]:
    """Digest every document (in a thread when they are large) and build the planned items.

    Co-signature items have their CMS checked (``cosign.accept_cms``): ``InvalidOperationError``.
    """
    if any(item.signature is not None for item in request.items):
        return await _plan_with_cosignatures(request, digest=digest, options=options, previews=previews)
    contents = [item.content for item in request.items if item.content is not None]
    if sum(len(content) for content in contents) > options.hash_in_thread_bytes:
        digests = await trio.to_thread.run_sync(_digest_all, request.items, digest)
    else:
        digests = _digest_all(request.items, digest)
    return [
        PlannedItem(
            idx=index,
            name=item.name,
            input=InputKind.CONTENT if item.content is not None else InputKind.HASH,
            digest=value,
            content=item.content,
            preview=(text_preview(item.content) if item.content is not None else "") if previews else None,
        )
        for index, (item, value) in enumerate(zip(request.items, digests, strict=True))
    ]


def _digest_all(items: tuple[SignItem, ...], digest: DigestAlgorithm) -> list[bytes]:
    # hashlib releases the GIL on large inputs: in a thread this runs beside the event loop.
    return [item.hash if item.hash is not None else digest.hash(item.content or b"") for item in items]


async def _plan_with_cosignatures(
    request: SignRequest, *, digest: DigestAlgorithm, options: OperationsOptions, previews: bool
) -> list[PlannedItem]:
    """``plan_items`` of a request with co-signatures: every item planned alone, in a thread when large.

    Checking a co-signature's CMS verifies its signers (about a millisecond each): on the event loop,
    a checkpoint follows every one, so a large batch does not starve the worker's other requests.
    """
    size = sum(len(item.content or b"") + len(item.signature or b"") for item in request.items)
    if size > options.hash_in_thread_bytes:
        return await trio.to_thread.run_sync(_plan_all, request, digest, options, previews)
    planned, budget = [], SignerBudget(options.max_existing_signers_per_operation)
    for index, item in enumerate(request.items):
        planned.append(_plan_one(index, item, request, digest, options, previews, budget))
        if item.signature is not None:
            await trio.lowlevel.checkpoint()
    return planned


def _plan_all(
    request: SignRequest, digest: DigestAlgorithm, options: OperationsOptions, previews: bool
) -> list[PlannedItem]:
    budget = SignerBudget(options.max_existing_signers_per_operation)
    return [
        _plan_one(index, item, request, digest, options, previews, budget)
        for index, item in enumerate(request.items)
    ]


def _plan_one(
    index: int,
    item: SignItem,
    request: SignRequest,
    digest: DigestAlgorithm,
    options: OperationsOptions,
    previews: bool,
    budget: SignerBudget,
) -> PlannedItem:
    if item.signature is None:
        value = item.hash if item.hash is not None else digest.hash(item.content or b"")
        preview = (text_preview(item.content) if item.content is not None else "") if previews else None
        kind = InputKind.CONTENT if item.content is not None else InputKind.HASH
        return PlannedItem(index, item.name, kind, value, item.content, preview)
    existing, content = accept_cms(
        f"items.{index}",
        budget=budget,
        cms=item.signature,
        content=item.content,
        content_hash=item.hash,
        detached=request.detached,
        digest=digest,
        options=options,
    )
    preview = existing.preview(content) if previews else None
    # The content of a co-signature is not kept: the CMS carries it, or (detached) only its digest is signed.
    return PlannedItem(
        index, item.name, InputKind.SIGNATURE, existing.digest, None, preview, base=existing.cms
    )
