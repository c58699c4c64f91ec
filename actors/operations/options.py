"""``OperationsOptions``: the limits and timings of the operations layer.

``from_settings`` takes the limits ``Settings.limits`` has (TTL, batch size, document size) and the
``Settings.operations`` section (same field names as below); the defaults here are for direct use.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

from config.settings import CallbackSettings, Settings

NoConfirmationFor = Literal["nobody", "clients", "everyone"]
"""Who may sign without a device confirmation (see ``actors.operations.policy``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OperationsOptions:
    """Tunables of the operations layer."""

    ttl_s: float = 600.0
    """How long an operation may await its confirmation (``limits.operation_ttl_s``)."""
    max_items: int = 1000
    """Most items in one operation (``limits.max_batch_items``)."""
    max_document_bytes: int = 32 * 1024 * 1024
    """Largest single document (``limits.max_document_bytes``)."""
    cms_overhead_bytes: int = 1024 * 1024
    """What an existing CMS to co-sign may carry beyond its document (certificates, other signers):
    such a CMS has at most ``max_document_bytes + cms_overhead_bytes`` bytes (``max_cms_bytes``)."""
    max_existing_signers: int = 64
    """Most signers of a CMS that is co-signed or checked by ``POST /verify`` (each is verified)."""
    max_existing_signers_per_operation: int = 256
    """Most existing signers all the CMSes of one operation may have together: each is verified when
    the operation is created (~1 ms), so this bounds the CPU one request can ask for."""
    no_confirmation_for: NoConfirmationFor = "clients"
    """Who may ask for ``confirmation: "none"``: nobody, tokens issued to an OAuth2 client
    (information systems), or everyone."""
    result_ttl_s: float = 24 * 3600.0
    """How long a finished operation and its results are kept unless deleted earlier."""
    lease_s: float = 30.0
    """Length of a worker's claim on a live operation; renewed every ``claim_interval_s``."""
    claim_interval_s: float = 10.0
    """How often a worker renews its leases and claims operations whose lease lapsed."""
    claim_batch: int = 200
    """Most orphaned operations one worker claims per round."""
    sweep_interval_s: float = 60.0
    """How often finished operations past their retention are deleted."""
    sweep_batch: int = 1000
    """Most operations deleted per sweep statement."""
    sync_wait_s: float = 30.0
    """How long ``POST /operations`` waits for an operation without confirmation before answering 202."""
    decision_timeout_s: float = 5.0
    """How long a device decision may wait for its operation's actor."""
    hsm_attempts: int = 3
    """Tries of a batch signature when no HSM unit is available (the pool already retried per unit)."""
    hsm_retry_delay_s: float = 0.5
    """First delay between those tries (doubling)."""
    hash_in_thread_bytes: int = 256 * 1024
    """Documents larger than this (in all) are hashed in a worker thread (hashlib releases the GIL)."""
    verify_results: Literal["first", "every"] = "every"
    """Signatures checked with the certificate's key: every one (``every``), or until a batch under
    the material verified (``first``; only with units that self-check, ``hsm.self_check``)."""
    callbacks: CallbackSettings = field(default_factory=CallbackSettings)
    """The policy ``callback_url`` must pass (``settings.callbacks``)."""

    def __post_init__(self) -> None:
        positive = ("ttl_s", "result_ttl_s", "lease_s", "claim_interval_s", "sweep_interval_s", "sync_wait_s")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        if self.claim_interval_s >= self.lease_s:
            raise ValueError("claim_interval_s must be shorter than lease_s (leases are renewed then)")
        if (
            min(
                self.max_items,
                self.max_document_bytes,
                self.cms_overhead_bytes,
                self.max_existing_signers,
                self.max_existing_signers_per_operation,
                self.claim_batch,
                self.sweep_batch,
                self.hsm_attempts,
            )
            < 1
        ):
            raise ValueError("sizes and counts must be at least 1")
        if self.no_confirmation_for not in ("nobody", "clients", "everyone"):
            raise ValueError("no_confirmation_for must be nobody, clients or everyone")

    @property
    def max_cms_bytes(self) -> int:
        """Largest existing CMS accepted for a co-signature (its document plus the overhead)."""
        return self.max_document_bytes + self.cms_overhead_bytes

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: object) -> OperationsOptions:
        """Options with the limits of ``settings`` (and its ``operations`` section when present)."""
        limits = settings.limits
        values: dict[str, object] = {
            "ttl_s": float(limits.operation_ttl_s),
            "max_items": limits.max_batch_items,
            "max_document_bytes": limits.max_document_bytes,
            "sync_wait_s": max(1.0, limits.request_timeout_s / 2),
            "callbacks": settings.callbacks,
        }
        section = getattr(settings, "operations", None)
        if section is not None:
            names = {field.name for field in dataclasses.fields(cls)}
            values.update({k: v for k, v in section.model_dump().items() if k in names})
        if values.get("verify_results") is None:  # unset: as far as the units' self-check allows
            values["verify_results"] = "first" if settings.hsm.self_check else "every"
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
