"""Executing a batch: per item ``prepare`` → one ``Balancer.sign_digests`` → per item ``finish``.

Items succeed or fail on their own: a document a format refuses fails alone in ``prepare``, a
signature that does not verify fails alone in ``finish``. The batch signature itself is one pool call
(split by the pool over its units when large); when no unit can serve it, it is tried again a few
times with a growing delay, and if it still fails every item gets ``hsm_unavailable``. A refusal of
the request itself (an unknown key, a bad blob) fails every item with the unit's code.

A CAdES batch shares its certificate, algorithm and signing time, so its items are prepared and
finished from one ``signing.cms.CadesBatch``: what they share is encoded once, per item only the
message digest and the signature are joined in (a few µs instead of ~200 µs of asn1crypto work).
A co-signature item (``ExecItem.base``: an existing CMS) is prepared on its own with
``signing.cms.prepare_cosignature`` (same certificate, algorithm and signing time) and finished
into that CMS with one more SignerInfo.

The CPU work of preparing and finishing runs on the event loop, with a checkpoint every few items
so a large batch does not starve the other requests of the worker. Signatures are checked with the
*certificate's* key (a faulty unit or a wrong key): with ``verify_results = "every"`` each one;
with ``"first"`` (the default) — allowed only when the units check every signature under their
key's public half themselves (``hsm.self_check``, ``actors.hsm.selfcheck``) — until a whole batch under
a material verified (``Material.proof``: the unit's key is the certified one; a new material, after
any key or certificate change, is proven again). The check is native and, for a batch, runs in one
worker thread beside the loop.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import structlog
import trio

from actors.hsmpool import Balancer, HsmUnavailableError
from actors.hsmpool.errors import HsmError
from actors.operations.errors import ITEM_CODES
from actors.operations.intake import PlannedItem
from actors.operations.material import Material
from actors.operations.model import Format, InputKind, State
from actors.operations.options import OperationsOptions
from signing.cms import CadesBatch, finish, prepare_cosignature
from signing.errors import SigningError
from storage.repos.operations import ItemResult, ItemRow

log = structlog.get_logger("actors.operations")

CHECKPOINT_EVERY = 32
"""Items prepared or finished between two checkpoints of the event loop."""
VERIFY_IN_THREAD_FROM = 8
"""Batches of at least this many signatures are verified in a worker thread (see ``_verify_all``)."""


@dataclass(frozen=True, slots=True)
class ExecItem:
    """What executing one item needs."""

    idx: int
    """Position."""
    digest: bytes
    """The document digest."""
    content: bytes | None
    """The document (an attached CAdES needs it; None otherwise or when lost)."""
    base: bytes | None = None
    """A co-signature: the existing CMS to add the signature to (None otherwise or when lost)."""
    cosign: bool = False
    """Whether the item is a co-signature (its ``base`` may have been lost)."""


def exec_item(item: PlannedItem) -> ExecItem:
    """What executing the planned ``item`` needs (its document or CMS as held in memory)."""
    if item.base is None:
        return ExecItem(item.idx, item.digest, item.content)
    return ExecItem(item.idx, item.digest, None, item.base, cosign=True)


def stored_exec_item(item: ItemRow, document: bytes | None) -> ExecItem:
    """What executing the stored ``item`` needs, with its stored ``document`` (content, or a
    co-signature's CMS; None when not kept or lost)."""
    if item.input == InputKind.SIGNATURE:
        return ExecItem(item.idx, item.digest, None, document, cosign=True)
    return ExecItem(item.idx, item.digest, document)


@dataclass(frozen=True, slots=True)
class Batch:
    """One operation's signing job."""

    op_id: str
    """Correlation id for the HSM units' logs."""
    format: Format
    """Output format."""
    detached: bool
    """CAdES: detached."""
    material: Material
    """Certificate, key, algorithm and public key."""
    items: Sequence[ExecItem]
    """The items, in order."""


Finisher = Callable[[bytes], bytes]


async def execute_batch(batch: Batch, *, hsm: Balancer, options: OperationsOptions) -> list[ItemResult]:
    """Sign every item of ``batch``; one ``ItemResult`` per item, in order."""
    outcomes: dict[int, ItemResult] = {}
    pending: list[tuple[int, bytes, Finisher]] = []
    attached = batch.format is Format.CADES_BES and not batch.detached
    try:
        prepare = _preparer(batch)
    except SigningError as exc:
        # The certificate, algorithm or time refused by the format: no item can be prepared.
        return [ItemResult(item.idx, None, exc.code, str(exc)[:1000]) for item in batch.items]
    for count, item in enumerate(batch.items, start=1):
        if (item.base is None) if item.cosign else (attached and item.content is None):
            outcomes[item.idx] = ItemResult(
                item.idx, None, "document_missing", ITEM_CODES["document_missing"]
            )
            continue
        try:
            digest, finisher = prepare(item)
        except SigningError as exc:
            outcomes[item.idx] = ItemResult(item.idx, None, exc.code, str(exc)[:1000])
        else:
            pending.append((item.idx, digest, finisher))
        if count % CHECKPOINT_EVERY == 0:
            await trio.lowlevel.checkpoint()
    if pending:
        try:
            signatures = await _sign_all(batch, [digest for _, digest, _ in pending], hsm, options)
        except HsmError as exc:
            detail = str(exc)[:1000] or "no HSM unit could sign"
            for idx, _, _ in pending:
                outcomes[idx] = ItemResult(idx, None, exc.code, detail)
        else:
            encoded = [batch.material.signing.encode_signature(raw) for raw in signatures]
            digests = [digest for _, digest, _ in pending]
            # Asked first: a proven material needs no coroutine made and awaited for nothing (~0.3 µs).
            refused = (
                {}
                if _proven(batch.material, options)
                else await _check_with_certificate(batch, digests, encoded, options)
            )
            for count, ((idx, _, finisher), signature) in enumerate(
                zip(pending, encoded, strict=True), start=1
            ):
                error = refused.get(count - 1)
                if error is not None:
                    outcomes[idx] = _failed(idx, error)
                else:
                    outcomes[idx] = _finish_one(idx, finisher, signature)
                if count % CHECKPOINT_EVERY == 0:
                    await trio.lowlevel.checkpoint()
    return [outcomes[item.idx] for item in batch.items]


def outcome(results: Sequence[ItemResult]) -> tuple[State, str | None, str | None]:
    """(state, error, detail) of an executed batch: completed if any item was signed, else failed."""
    if any(result.result is not None for result in results):
        return State.COMPLETED, None, None
    codes = {result.error_code for result in results}
    code = codes.pop() if len(codes) == 1 else "items_failed"
    return State.FAILED, code, "no item could be signed; see the items' errors"


Preparer = Callable[[ExecItem], tuple[bytes, Finisher]]
"""One item → (what the key signs, how its signature becomes the result)."""


def _preparer(batch: Batch) -> Preparer:
    """How ``batch``'s items are prepared; CAdES encodes what its items share once (``CadesBatch``),
    its signing time (now) included."""
    if batch.format is Format.RAW:
        return _raw_item
    signing = batch.material.signing
    now = dt.datetime.now(dt.UTC)
    template = CadesBatch(
        certificate=signing.certificate,
        signature_algorithm=signing.signature_algorithm,
        detached=batch.detached,
        signing_time=now,
    )
    return partial(_cades_item, template, batch.material, now)


def _raw_item(item: ExecItem) -> tuple[bytes, Finisher]:
    return item.digest, _as_is


def _cades_item(
    template: CadesBatch, material: Material, now: dt.datetime, item: ExecItem
) -> tuple[bytes, Finisher]:
    if item.base is not None:
        return _cosign_item(material, now, item.base, item.digest if template.detached else None)
    if template.detached:
        prepared = template.prepare(content_digest=item.digest)
    else:
        prepared = template.prepare(item.content)
    # finish()'s own check is made by _verify_all, with the key parsed once per batch.
    return prepared.digest_to_sign, partial(template.finish, prepared, verify=False)


def _cosign_item(
    material: Material, now: dt.datetime, base: bytes, digest: bytes | None
) -> tuple[bytes, Finisher]:
    """One more signer for the existing CMS ``base`` (checked at intake: ``actors.operations.cosign``).

    An attached CMS signs its own content (``digest`` None); a detached one (as the operation is:
    intake checked that they agree) the document of ``digest``. ``prepare_cosignature`` checks again
    that it is what the existing signers signed.
    """
    signing = material.signing
    prepared = prepare_cosignature(
        base,
        certificate=signing.certificate,
        signature_algorithm=signing.signature_algorithm,
        content_digest=digest,
        signing_time=now,
    )
    return prepared.digest_to_sign, partial(finish, prepared, verify=False)


def _as_is(signature: bytes) -> bytes:
    return signature


def _proven(material: Material, options: OperationsOptions) -> bool:
    """Whether signatures under ``material`` go unchecked: it is proven and only the first are checked."""
    return material.proof.done and options.verify_results == "first"


async def _check_with_certificate(
    batch: Batch, digests: Sequence[bytes], signatures: Sequence[bytes], options: OperationsOptions
) -> dict[int, SigningError]:
    """``_verify_all`` (when not ``_proven``); a batch that verified whole proves its material."""
    refused = await _verify_all(batch, digests, signatures, options)
    if not refused and signatures:
        batch.material.proof.done = True
    return refused


async def _verify_all(
    batch: Batch, digests: Sequence[bytes], signatures: Sequence[bytes], options: OperationsOptions
) -> dict[int, SigningError]:
    """Check every signature with the certificate's key (a faulty unit or a wrong key); failures by position.

    The check is native code that releases the GIL: a batch of ``VERIFY_IN_THREAD_FROM`` or more
    is checked in a worker thread, beside the event loop, in one hop; smaller ones inline, where
    the hop would cost about as much as the checks.
    """
    job = partial(_verify_pairs, batch.material, digests, signatures)
    if len(signatures) >= VERIFY_IN_THREAD_FROM:
        return await trio.to_thread.run_sync(job)
    return job()


def _verify_pairs(
    material: Material, digests: Sequence[bytes], signatures: Sequence[bytes]
) -> dict[int, SigningError]:
    algorithm = material.signing.signature_algorithm
    refused: dict[int, SigningError] = {}
    for position, (digest, signature) in enumerate(zip(digests, signatures, strict=True)):
        try:
            material.public_key.verify_digest(digest, signature, algorithm)
        except SigningError as exc:
            refused[position] = exc
    return refused


def _failed(idx: int, exc: SigningError) -> ItemResult:
    # A signature that does not verify with the certificate: a faulty unit or a wrong key.
    log.error("operation_item_finish_failed", item=idx, error_type=exc.code)
    return ItemResult(idx, None, exc.code, str(exc)[:1000])


def _finish_one(idx: int, finisher: Finisher, signature: bytes) -> ItemResult:
    try:
        return ItemResult(idx, finisher(signature))
    except SigningError as exc:
        return _failed(idx, exc)


async def _sign_all(
    batch: Batch, digests: list[bytes], hsm: Balancer, options: OperationsOptions
) -> list[bytes]:
    delay = options.hsm_retry_delay_s
    for attempt in range(1, options.hsm_attempts + 1):
        try:
            key = batch.material.signing.hsm_key
            if len(digests) == 1:  # a lone signature may share a frame with other requests' (coalesced)
                return [await hsm.sign_digest(key, digests[0], op_id=batch.op_id)]
            return await hsm.sign_digests(key, digests, op_id=batch.op_id)
        except HsmUnavailableError as exc:
            if attempt == options.hsm_attempts or not exc.retryable:
                raise
            log.warning("operation_hsm_retry", attempt=attempt, delay_s=delay, error_type=exc.code)
        await trio.sleep(delay)
        delay *= 2
    raise AssertionError("unreachable")
