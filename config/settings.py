"""The ``Settings`` model: nested, frozen sections whose defaults run the embedded mode with no file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Port = Annotated[int, Field(ge=0, le=65535)]
PositiveSeconds = Annotated[float, Field(gt=0)]


def default_home() -> Path:
    """Where Klyuch keeps its state when ``KLYUCH_HOME`` is not set.

    Root gets ``/var/lib/klyuch``: the embedded PostgreSQL then runs as an unprivileged account that
    must be able to reach its data folder, which ``/root`` (mode 0700) would forbid.
    """
    if os.geteuid() == 0:
        return Path("/var/lib/klyuch")
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "klyuch"


class Section(BaseModel):
    """Base of every settings section: frozen, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ServerSettings(Section):
    """The HTTP edge (hypercorn + Quart-Trio)."""

    host: str = "127.0.0.1"
    """Address to bind."""
    port: Port = 8080
    """TCP port to bind (0 picks a free port)."""
    workers: Annotated[int, Field(ge=1, le=64)] = 1
    """Hypercorn worker processes."""
    public_url: str | None = None
    """External base URL (for QR codes, callbacks); derived from host and port when unset."""
    graceful_timeout_s: PositiveSeconds = 5.0
    """How long a stopping server waits for requests in flight."""
    keep_alive_timeout_s: PositiveSeconds = 5.0
    """Idle keep-alive connection timeout."""
    metrics_token: Annotated[SecretStr, Field(min_length=32)] | None = None
    """Bearer token a metrics scraper presents for ``/metrics`` (at least 32 characters). Operators'
    access tokens are accepted there too; unset, only they are."""
    gc_thresholds: tuple[
        Annotated[int, Field(ge=1, le=10_000_000)],
        Annotated[int, Field(ge=1, le=100_000)],
        Annotated[int, Field(ge=1, le=100_000)],
    ] = (50_000, 20, 100)
    """Each worker's garbage-collector thresholds (``gc.set_threshold``: young allocations, then
    young and middle collections before the next older one). See README "garbage collection"."""


class StorageSettings(Section):
    """PostgreSQL: embedded (default) or an external server."""

    dsn: SecretStr | None = None
    """External PostgreSQL DSN; when unset an embedded server is run under ``home``."""
    embedded_data_dir: Path | None = None
    """Data folder of the embedded server; defaults to ``<home>/pgdata``."""
    embedded_user: str = "klyuch-pg"
    """System account that runs the embedded server when Klyuch runs as root (PostgreSQL refuses root)."""
    embedded_fsync: bool = True
    """fsync in the embedded server (tests turn it off for speed)."""
    database: str = "klyuch"
    """Database name in the embedded server."""
    pool_min_size: Annotated[int, Field(ge=0, le=1000)] = 1
    """Minimum connections per worker process."""
    pool_max_size: Annotated[int, Field(ge=1, le=1000)] = 10
    """Maximum connections per worker process."""
    connect_timeout_s: PositiveSeconds = 10.0
    """Timeout for establishing a connection."""
    command_timeout_s: PositiveSeconds = 30.0
    """Timeout of one repository operation."""
    start_timeout_s: PositiveSeconds = 60.0
    """Timeout for the embedded server to start."""
    group_commit_max_units: Annotated[int, Field(ge=1, le=10_000)] = 64
    """Most units of work that share one transaction in a group commit (``storage.group``)."""
    group_commit_flows: Annotated[int, Field(ge=1, le=1000)] = 2
    """Group commits in flight at once per worker process (each holds one pooled connection)."""
    writer_process: bool = True
    """Apply hot-path batched writes (finished operations) in a writer process per worker
    (``storage.writer``): off the worker's GIL, with the same outcome; without it they run in the worker."""
    writer_max_frame_bytes: Annotated[int, Field(ge=64 * 1024, le=1 << 30)] = 64 << 20
    """Largest group sent to the writer process; a larger one is applied in the worker."""
    writer_start_timeout_s: PositiveSeconds = 30.0
    """How long the writer process may take to connect and report ready (it is restarted after)."""
    writer_reply_timeout_s: PositiveSeconds = 35.0
    """How long a group waits for the writer's reply before the writer counts as hung: it is killed and
    restarted, and the group is applied in the worker (keep it above ``command_timeout_s``)."""

    @model_validator(mode="after")
    def _pool_bounds(self) -> StorageSettings:
        if self.pool_min_size > self.pool_max_size:
            raise ValueError("pool_min_size must not exceed pool_max_size")
        if self.group_commit_flows > self.pool_max_size:
            raise ValueError("group_commit_flows must not exceed pool_max_size")
        if self.writer_reply_timeout_s <= self.command_timeout_s:
            # Else a slow but healthy statement would get the writer killed as hung.
            raise ValueError("writer_reply_timeout_s must exceed command_timeout_s")
        return self


class HsmSettings(Section):
    """HSM units (soft-HSM processes and PKCS#11 modules).

    Each hypercorn worker process owns one pool of units (``actors.hsmpool``): the counts below are
    per pool, so ``server.workers`` = W runs W times as many unit processes.
    """

    soft_units: Annotated[int, Field(ge=0, le=16)] = 2
    """Soft-HSM unit processes per pool (primary + hot standby by default); 0 for none."""
    kek_passphrase: SecretStr | None = None
    """Operator passphrase sealing the soft-HSM key-encryption key; generated under ``home`` when unset."""
    kek_file: Path | None = None
    """Sealed KEK file the soft units share; default ``<home>/hsm/kek.sealed.json`` (made at first start)."""
    kek_kdf_iterations: Annotated[int, Field(ge=1_000, le=10_000_000)] = 100_000
    """PBKDF2 iterations when the KEK file is created (each unit start pays them once to unseal it)."""
    pkcs11_module: Path | None = None
    """Path of a PKCS#11 module; PKCS#11 units are used when set."""
    pkcs11_token_labels: tuple[str, ...] = ()
    """Token labels served by PKCS#11 units (each token is its own key domain)."""
    pkcs11_units_per_token: Annotated[int, Field(ge=1, le=8)] = 1
    """PKCS#11 unit processes per token (2 make a hot-standby pair on one token)."""
    pkcs11_pin: SecretStr | None = None
    """User PIN of the PKCS#11 tokens."""
    slots_per_unit: Annotated[int, Field(ge=1, le=64)] | None = None
    """Slot workers per unit process; unset uses the backend's default (2 soft, 1 PKCS#11)."""
    call_timeout_s: PositiveSeconds = 5.0
    """Timeout of one call to a unit before it is considered hung (probed, then killed and restarted)."""
    self_check: bool = True
    """Units verify every signature under the key's public half before returning it (on the units'
    CPU, off the worker's event loop; ``actors.hsm.selfcheck``). Lets ``operations.verify_results``
    be ``first``, its default then."""
    health_interval_s: PositiveSeconds = 1.0
    """Seconds between health pings to each unit."""
    health_timeout_s: PositiveSeconds = 2.0
    """Timeout of one health ping."""
    health_misses: Annotated[int, Field(ge=1, le=100)] = 3
    """Consecutive missed pings after which a unit counts as hung (one is enough after a call timed out)."""
    start_timeout_s: PositiveSeconds = 30.0
    """How long a unit process may take to report READY."""
    stop_grace_s: PositiveSeconds = 5.0
    """How long a stopping unit may drain before it is killed."""
    restart_backoff_initial_s: Annotated[float, Field(ge=0)] = 0.1
    """Delay before the first restart of a unit in a row (doubling per restart in a row)."""
    restart_backoff_cap_s: Annotated[float, Field(ge=0)] = 10.0
    """Longest delay between restarts of a unit."""
    restart_intensity: Annotated[int, Field(ge=0, le=1000)] = 5
    """Restarts of one unit allowed within ``restart_period_s``; more take it offline."""
    restart_period_s: PositiveSeconds = 60.0
    """Window of ``restart_intensity``; a unit that stayed up this long restarts with no delay again."""
    offline_retry_s: PositiveSeconds = 60.0
    """How long a misconfigured or crash-looping unit stays offline before the pool tries it again."""
    max_attempts: Annotated[int, Field(ge=1, le=16)] = 3
    """Units one request may try before it fails (each unit at most once)."""
    max_digests_per_call: Annotated[int, Field(ge=1, le=10_000)] = 1000
    """Largest batch sent to one unit; bigger batches are split and spread over the healthy units."""
    max_in_flight_items: Annotated[int, Field(ge=1, le=1_000_000)] = 4096
    """Digests (1 per other call) in flight per unit; when every unit is that full, requests fail fast."""

    @model_validator(mode="after")
    def _pkcs11_complete(self) -> HsmSettings:
        if self.pkcs11_module is not None and not self.pkcs11_token_labels:
            raise ValueError("pkcs11_module needs at least one entry in pkcs11_token_labels")
        if self.pkcs11_module is not None and self.pkcs11_pin is None:
            raise ValueError("pkcs11_module needs pkcs11_pin")
        if self.pkcs11_token_labels and self.pkcs11_module is None:
            raise ValueError("pkcs11_token_labels needs pkcs11_module")
        if self.restart_backoff_initial_s > self.restart_backoff_cap_s:
            raise ValueError("restart_backoff_initial_s must not exceed restart_backoff_cap_s")
        return self


class SecuritySettings(Section):
    """Authentication and token settings (``actors.identity`` and ``edge.auth``)."""

    token_secret: SecretStr | None = None
    """Secret that signs access tokens (HS256, at least 32 characters); when unset, generated once under
    ``home`` (``secrets/token.key``, mode 0600, shared by every worker process). Nodes must share it."""
    access_token_ttl_s: Annotated[int, Field(ge=1, le=86_400)] = 900
    """Lifetime of an access token."""
    refresh_token_ttl_s: Annotated[int, Field(ge=1, le=90 * 86_400)] = 14 * 86_400
    """Lifetime of a refresh token; each rotation issues a new one with this lifetime."""
    token_issuer: str = "klyuch"
    """``iss`` claim of access tokens (checked on every request)."""
    token_audience: str = "klyuch-api"
    """``aud`` claim of access tokens (checked on every request)."""
    token_leeway_s: Annotated[int, Field(ge=0, le=300)] = 5
    """Clock skew tolerated when checking ``exp`` and ``iat``."""
    token_state_cache_s: Annotated[float, Field(ge=0, le=3600)] = 30.0
    """Seconds a worker may reuse a token's revocation/account check; changes clear every worker's
    cache at once through NOTIFY, and the cache is bypassed while that is not listening. 0: no cache."""
    password_min_length: Annotated[int, Field(ge=1, le=1024)] = 12
    """Shortest password accepted (characters)."""
    password_max_length: Annotated[int, Field(ge=8, le=4096)] = 1024
    """Longest password accepted (characters); bounds the work one login can cost."""
    argon2_time_cost: Annotated[int, Field(ge=1, le=100)] = 2
    """argon2id passes (OWASP minimum profile: 2 passes over 19 MiB); changed values rehash at next login."""
    argon2_memory_kib: Annotated[int, Field(ge=8, le=4 * 1024 * 1024)] = 19_456
    """argon2id memory per hash in KiB."""
    argon2_parallelism: Annotated[int, Field(ge=1, le=64)] = 1
    """argon2id lanes."""
    hash_concurrency: Annotated[int, Field(ge=1, le=64)] = 2
    """Password hashes computed at once per worker process (threads; each holds ``argon2_memory_kib``)."""
    login_max_failures_per_username: Annotated[int, Field(ge=1, le=1_000_000)] = 10
    """Failed logins of one username within ``login_failure_window_s`` before further attempts get 429."""
    login_max_failures_per_address: Annotated[int, Field(ge=1, le=1_000_000)] = 100
    """Failed logins (and client authentications) from one client address within the window before 429."""
    login_failure_window_s: PositiveSeconds = 300.0
    """Sliding window of the failed-login counters (in PostgreSQL, shared by every worker and node)."""

    @model_validator(mode="after")
    def _coherent(self) -> SecuritySettings:
        if self.token_secret is not None and len(self.token_secret.get_secret_value()) < 32:
            raise ValueError("token_secret must be at least 32 characters")
        if self.password_min_length > self.password_max_length:
            raise ValueError("password_min_length must not exceed password_max_length")
        if self.argon2_memory_kib < 8 * self.argon2_parallelism:
            raise ValueError("argon2_memory_kib must be at least 8 × argon2_parallelism")
        if self.refresh_token_ttl_s < self.access_token_ttl_s:
            raise ValueError("refresh_token_ttl_s must not be shorter than access_token_ttl_s")
        return self


class LimitsSettings(Section):
    """Every size, count and timeout the edge enforces."""

    max_body_bytes: Annotated[int, Field(ge=1024)] = 64 * 1024 * 1024
    """Largest request body accepted."""
    max_document_bytes: Annotated[int, Field(ge=1)] = 32 * 1024 * 1024
    """Largest single document."""
    max_batch_items: Annotated[int, Field(ge=1, le=100_000)] = 1000
    """Most documents in one operation."""
    max_websocket_message_bytes: Annotated[int, Field(ge=256)] = 64 * 1024
    """Largest websocket message."""
    request_timeout_s: PositiveSeconds = 60.0
    """Longest time a request may take."""
    operation_ttl_s: Annotated[int, Field(ge=1)] = 600
    """Lifetime of an operation awaiting confirmation."""


class CallbackSettings(Section):
    """HTTP callbacks of asynchronous operations (``actors.callbacks``): delivery, retries, URL policy."""

    request_timeout_s: PositiveSeconds = 10.0
    """Timeout of one delivery attempt (name resolution, connection, request and response headers)."""
    backoff_base_s: PositiveSeconds = 2.0
    """Delay before the second attempt; each further retry doubles it (with jitter), up to the cap."""
    backoff_cap_s: PositiveSeconds = 3600.0
    """Longest delay between two attempts."""
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 15
    """Attempts before a delivery is given up (``dead``)."""
    max_concurrent: Annotated[int, Field(ge=1, le=1000)] = 16
    """Deliveries in flight at once per worker process."""
    max_payload_bytes: Annotated[int, Field(ge=1024, le=64 * 1024 * 1024)] = 1024 * 1024
    """Largest request body sent; a bigger one is given up at once (``payload_too_large``)."""
    max_url_length: Annotated[int, Field(ge=16, le=2048)] = 2048
    """Longest callback URL accepted (characters; 2048 is also the limit of ``operations.callback_url``)."""
    allowed_hosts: tuple[str, ...] = ()
    """Host names (exact, or ``.example.com`` for a domain and its subdomains) callbacks may target;
    empty allows any host that passes the address policy."""
    allow_private_targets: bool = False
    """Allow loopback, private, link-local and other non-public addresses (tests, closed networks);
    off, a URL or a resolved address in those ranges is refused (SSRF)."""
    lease_s: PositiveSeconds = 60.0
    """How long a claimed delivery stays reserved to its worker; a row still ``delivering`` after it
    (the worker died) is claimed again. Must exceed ``request_timeout_s``."""
    poll_interval_s: PositiveSeconds = 5.0
    """Longest sleep of an idle dispatcher (NOTIFY wakes it sooner; this catches lost notifications)."""
    retention_s: PositiveSeconds = 7 * 86_400.0
    """How long delivered and dead rows are kept before they are purged."""

    @model_validator(mode="after")
    def _coherent(self) -> CallbackSettings:
        if self.backoff_base_s > self.backoff_cap_s:
            raise ValueError("backoff_base_s must not exceed backoff_cap_s")
        if self.lease_s <= self.request_timeout_s:
            raise ValueError("lease_s must exceed request_timeout_s")
        return self


class LoggingSettings(Section):
    """Structured logging."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    """Lowest level written."""
    format: Literal["console", "json"] = "console"
    """Human console lines or one JSON object per line."""


CaAlgorithm = Literal["gost3410_2012_256", "gost3410_2012_512", "ecdsa_p256"]


class CaSettings(Section):
    """The built-in certification authority (``actors.keys.ca``) and trust anchors for uploads."""

    auto_issue: bool = True
    """Let the built-in CA issue a certificate at once on ``POST /keys/{id}/certificate``; off, users
    download the request (CSR) and upload a certificate from an external CA."""
    algorithm: CaAlgorithm = "gost3410_2012_256"
    """Key algorithm of the CA key, generated in an HSM unit at first use (changing it later does not
    replace an existing CA)."""
    paramset: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")] | None = None
    """GOST parameter set of the CA key (member name or OID); unset: CryptoPro A (256) / TC26 512 A."""
    hsm_domain: str | None = None
    """Key store of the CA key; unset: the pool's default domain (soft units first)."""
    subject: tuple[tuple[str, str], ...] = (
        ("common_name", "Klyuch built-in CA"),
        ("organization_name", "Klyuch"),
        ("country_name", "RU"),
    )
    """Distinguished name of the CA (asn1crypto attribute names or dotted OIDs, in order)."""
    ca_validity_days: Annotated[int, Field(ge=1, le=36_500)] = 3650
    """Validity of the CA's self-signed certificate."""
    certificate_validity_days: Annotated[int, Field(ge=1, le=3650)] = 365
    """Longest validity of an issued certificate (and the default); capped by the CA's own."""
    crl_url: Annotated[str, Field(pattern=r"^https?://", max_length=2048)] | None = None
    """CRL distribution point written into issued certificates; unset: ``server.public_url`` +
    ``/api/v1/ca/crl`` when ``server.public_url`` is set, else none (a loopback default would only
    mislead relying parties)."""
    crl_validity_s: Annotated[float, Field(ge=60, le=366 * 86_400)] = 86_400.0
    """Validity of the built-in CA's CRL (nextUpdate − thisUpdate); it is signed again after three
    quarters of it, or at once when something is revoked."""
    ocsp_url: Annotated[str, Field(pattern=r"^https?://", max_length=2048)] | None = None
    """OCSP responder named in issued certificates (authority information access); unset:
    ``server.public_url`` + ``/api/v1/ca/ocsp`` when ``server.public_url`` is set, else none."""
    ocsp_cache_s: Annotated[float, Field(ge=0, le=86_400)] = 60.0
    """How long a signed answer to a request without a nonce is reused (only while the statuses it
    states are unchanged); 0 signs every answer."""
    ocsp_validity_s: Annotated[float, Field(ge=60, le=7 * 86_400)] = 3600.0
    """nextUpdate − thisUpdate of OCSP answers (longer than ``ocsp_cache_s``)."""
    ocsp_nonce_signatures_per_s: Annotated[float, Field(ge=0, le=100_000)] = 50.0
    """Answers to requests with a nonce one worker signs per second (each costs an HSM signature; the
    cache cannot serve them); beyond it they get ``tryLater``. 0: no limit."""
    ocsp_max_cert_ids: Annotated[int, Field(ge=1, le=1000)] = 20
    """Most certificates one OCSP request may ask about (each costs a lookup; more is malformedRequest)."""
    ocsp_max_request_bytes: Annotated[int, Field(ge=256, le=1 << 20)] = 16_384
    """Largest OCSP request (POST body, or decoded GET path) accepted; a larger body is a 413."""
    trust_anchor_files: tuple[Path, ...] = ()
    """PEM or DER files of external CA certificates that uploaded certificates must chain to; each is
    added to the database's trust anchors at start. None: uploads are accepted with a warning."""

    @model_validator(mode="after")
    def _coherent(self) -> CaSettings:
        if self.algorithm == "ecdsa_p256" and self.paramset is not None:
            raise ValueError("paramset must be unset for an ecdsa_p256 CA")
        if self.certificate_validity_days > self.ca_validity_days:
            raise ValueError("certificate_validity_days must not exceed ca_validity_days")
        if not self.subject:
            raise ValueError("the CA subject needs at least one attribute")
        if self.ocsp_validity_s <= self.ocsp_cache_s:
            raise ValueError("ocsp_validity_s must exceed ocsp_cache_s (a reused answer must still be valid)")
        return self


class OperationsSettings(Section):
    """Signing operations (``actors.operations``); TTL, batch and document sizes come from ``limits``."""

    no_confirmation_for: Literal["nobody", "clients", "everyone"] = "clients"
    """Who may ask for an operation without device confirmation (``clients``: OAuth2 client tokens)."""
    result_ttl_s: PositiveSeconds = 86_400.0
    """How long finished operations and their results are kept unless deleted by their owner."""
    lease_s: PositiveSeconds = 30.0
    """How long a worker owns a live operation without renewing its lease."""
    claim_interval_s: PositiveSeconds = 10.0
    """How often a worker renews its leases and claims orphaned operations (below ``lease_s``)."""
    claim_batch: Annotated[int, Field(ge=1, le=100_000)] = 200
    """Most orphaned operations claimed per round."""
    sweep_interval_s: PositiveSeconds = 60.0
    """How often expired results are deleted."""
    sweep_batch: Annotated[int, Field(ge=1, le=1_000_000)] = 1000
    """Most operations deleted per sweep."""
    sync_wait_s: PositiveSeconds = 30.0
    """How long ``POST /operations`` waits for an unconfirmed operation to finish before answering 202."""
    decision_timeout_s: PositiveSeconds = 5.0
    """How long a device decision waits for the worker that drives its operation."""
    hsm_attempts: Annotated[int, Field(ge=1, le=10)] = 3
    """Tries of a batch signature when no HSM unit is available."""
    hsm_retry_delay_s: PositiveSeconds = 0.5
    """Pause between those tries."""
    hash_in_thread_bytes: Annotated[int, Field(ge=0)] = 262_144
    """Documents larger than this are hashed in a worker thread, off the event loop."""
    cms_overhead_bytes: Annotated[int, Field(ge=1, le=1 << 30)] = 1 << 20
    """What an existing CMS to co-sign may carry beyond its document (certificates, other signers):
    it has at most ``limits.max_document_bytes`` + this many bytes."""
    max_existing_signers: Annotated[int, Field(ge=1, le=10_000)] = 64
    """Most signers of a CMS that is co-signed or checked by ``POST /verify`` (each is verified)."""
    max_existing_signers_per_operation: Annotated[int, Field(ge=1, le=1_000_000)] = 256
    """Most existing signers the CMSes of one operation may have together (each is verified when the
    operation is created, ~1 ms: this bounds the CPU one request can ask for)."""
    verify_results: Literal["first", "every"] | None = None
    """Which signatures a worker checks with the certificate's key: ``every`` one (the worker catches a
    faulty unit or a wrong key), or ``first`` — those made under a certificate and key until one
    batch of them has verified (proving the unit's key is the certified one), which needs
    ``hsm.self_check`` (the units then check every signature, on their own CPU). Unset: ``first``
    when ``hsm.self_check`` is on (the default), else ``every``."""
    material_cache_s: Annotated[float, Field(ge=0, le=86_400)] = 300.0
    """Seconds a worker may reuse a checked certificate and key for signing; every key or certificate
    change clears every worker's cache at once through NOTIFY, and the cache is bypassed while that is
    not listening. 0: read them for every operation."""
    material_cache_entries: Annotated[int, Field(ge=1, le=1_000_000)] = 4096
    """Checked certificates a worker keeps (the oldest goes first when full). A user's default
    certificate takes one entry and is reused by id as well; size it above the users who sign
    within ``material_cache_s``, or they read their rows again and again."""

    @model_validator(mode="after")
    def _claims_within_lease(self) -> OperationsSettings:
        if self.claim_interval_s >= self.lease_s:
            raise ValueError("claim_interval_s must be shorter than lease_s")
        return self


class Settings(BaseSettings):
    """Everything Klyuch reads at start; built once, frozen, passed down section by section."""

    model_config = SettingsConfigDict(
        env_prefix="KLYUCH_",
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
    )

    home: Path = Field(default_factory=default_home)
    """Folder for state: embedded database, sealed keys, generated secrets."""
    server: ServerSettings = ServerSettings()
    storage: StorageSettings = StorageSettings()
    hsm: HsmSettings = HsmSettings()
    security: SecuritySettings = SecuritySettings()
    limits: LimitsSettings = LimitsSettings()
    logging: LoggingSettings = LoggingSettings()
    ca: CaSettings = CaSettings()
    operations: OperationsSettings = OperationsSettings()
    callbacks: CallbackSettings = CallbackSettings()
    """HTTP callbacks of asynchronous operations."""

    @model_validator(mode="after")
    def _every_signature_checked(self) -> Settings:
        if self.operations.verify_results == "first" and not self.hsm.self_check:
            raise ValueError(
                'operations.verify_results = "first" needs hsm.self_check = true: '
                "otherwise a faulty signature after the first batch would go unchecked"
            )
        return self

    @property
    def pg_data_dir(self) -> Path:
        """Data folder of the embedded PostgreSQL server."""
        return self.storage.embedded_data_dir or self.home / "pgdata"

    @property
    def public_url(self) -> str:
        """Base URL clients use to reach this server."""
        return self.server.public_url or f"http://{self.server.host}:{self.server.port}"
