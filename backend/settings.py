"""Backend settings, read from the environment with the `SCF_` prefix (and `.env`)."""

from __future__ import annotations

import base64
import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from chain.connection import is_dev_key
from chain.settings import REPO_ROOT

BackendProfile = Literal["embedded", "local", "production"]
PLACEHOLDER = "change-me"
DEFAULT_DATABASE_URL = f"sqlite:///{REPO_ROOT / 'var' / 'backend.sqlite3'}"


def decode_master_key(value: str) -> bytes | None:
    """The 32 bytes a master key stands for (urlsafe or standard base64), None if it is not
    exactly that: a short or guessable value is never stretched into a key."""
    try:
        raw = base64.b64decode(
            value.replace("-", "+").replace("_", "/") + "=" * (-len(value) % 4), validate=True
        )
    except ValueError:
        return None
    return raw if len(raw) == 32 else None


class SettingsError(ValueError):
    """The settings cannot be used for the chosen profile (e.g. a placeholder secret)."""


class BackendSettings(BaseSettings):
    """Everything the API, the workers and the keeper need besides the chain and the mirror."""

    model_config = SettingsConfigDict(
        env_prefix="SCF_", env_file=".env", extra="ignore", frozen=True
    )

    profile: BackendProfile = "embedded"
    database_url: str = Field(
        default=DEFAULT_DATABASE_URL, description="The backend's own tables (off-chain state)."
    )
    mirror_database_url: str | None = Field(
        default=None, description="The indexer's mirror; default SCF_INDEXER_DATABASE_URL."
    )
    master_key: SecretStr = Field(
        default=SecretStr(PLACEHOLDER),
        description="Encrypts custodial keys and signs tokens; urlsafe base64 of 32 bytes.",
    )
    operator_key: SecretStr | None = Field(
        default=None,
        description="Hex key of the bootstrap operator, taken into custody at start "
        "(embedded: the deterministic dev operator).",
    )
    keeper_key: SecretStr | None = Field(
        default=None, description="Hex key the keeper signs distribute/markOverdue with."
    )
    deploy: bool | None = Field(
        default=None,
        description="Deploy fresh contracts at start (default: only in the embedded profile); "
        "otherwise attach to the deployment record.",
    )
    deployment_path: Path | None = Field(
        default=None,
        description="The deployment record the API writes when it deploys and reads when it "
        "attaches (default SCF_CHAIN_DEPLOYMENT_PATH, which `scf deploy` and `scf index` use).",
    )
    run_indexer: bool | None = Field(
        default=None, description="Follow the chain in-process (default: embedded profile)."
    )

    broker_url: str = "redis://127.0.0.1:6379/0"
    task_always_eager: bool | None = Field(
        default=None, description="Run tasks in the caller (default: embedded profile)."
    )
    broker_visibility_timeout_seconds: int = 60
    dispatch_flag_seconds: float = Field(
        default=3.0,
        gt=0,
        le=60,
        description="New custodial requests share one pending dispatcher message for this "
        "long at most; past it, a request sends its own (a worker that took the message may "
        "have died before starting it). A few block times at most.",
    )

    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Where members reach the API: its scheme, host and port are the domain and "
        "URI of the Sign-In with Ethereum login message.",
    )
    rate_limit_auth_per_client: str = Field(
        default="30/minute",
        description="Challenges and logins per client IP address (a `limits` rate string).",
    )
    rate_limit_auth_per_address: str = Field(
        default="10/minute", description="Challenges per member address asked for."
    )
    rate_limit_writes_per_member: str = Field(
        default="600/minute", description="Writes (POST, PUT, DELETE) per authenticated member."
    )
    rate_limit_writes_per_client: str = Field(
        default="1200/minute", description="Writes per client IP address."
    )
    max_waiting_requests: int = Field(
        default=8,
        ge=1,
        description="Requests each API process lets wait (?wait=true) at once; fewer than "
        "request_threads, so waiting never takes every thread.",
    )
    login_lockout_failures: int = Field(
        default=10, ge=1, description="Failed logins from one client address before lock-out."
    )
    login_lockout_failures_per_member: int = Field(
        default=20,
        ge=1,
        description="Failed logins for one member address, from any client, before that "
        "address is locked out for login_lockout_seconds (more than per client: one client "
        "guessing is stopped first, many clients guessing one member's login next).",
    )
    login_lockout_seconds: int = Field(default=900, ge=1, description="How long a lock-out lasts.")
    staff_lockout_failures: int = Field(
        default=5,
        ge=1,
        description="Failed logins in a row (a wrong password or code) that lock a staff user "
        "out for login_lockout_seconds.",
    )
    approval_hours: int = Field(
        default=72,
        ge=1,
        description="How long an action waits for its approvers before it expires unsent.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description='Addresses or networks (JSON list, e.g. ["10.0.0.0/8"]) of the reverse '
        "proxies whose X-Forwarded-For names the client: its rightmost address that is not one "
        "of them is the client address the limits count. Default none: X-Forwarded-For is "
        "ignored and the connection's peer is the client.",
    )
    activation_hours: int = Field(
        default=48,
        ge=1,
        le=30 * 24,
        description="How long the one-time activation code a custodial member is onboarded with "
        "(or re-issued) can be exchanged for its API key.",
    )
    token_lifetime_seconds: int = Field(default=3600, ge=60, le=7 * 86_400)
    challenge_lifetime_seconds: int = Field(default=120, ge=10, le=3600)
    wait_timeout_seconds: float = Field(default=30.0, gt=0)
    signature_timeout_seconds: float = Field(
        default=900.0,
        gt=0,
        description="A non-custodial member's request left unsigned this long expires.",
    )
    dispatch_batch_size: int = Field(
        default=500, ge=1, le=5000, description="Queued requests signed and sent per batch."
    )
    stuck_after_seconds: float = Field(
        default=60.0, gt=0, description="Recover tx requests left unfinished this long."
    )

    keeper_batch_size: int = Field(default=20, ge=1, le=500)
    keeper_max_batches: int = Field(default=20, ge=1)
    keeper_interval_seconds: float = Field(default=30.0, gt=0)
    reconcile_interval_seconds: float = Field(default=300.0, gt=0)
    action_log_anchor_interval_seconds: float = Field(
        default=600.0,
        gt=0,
        description="How often the keeper anchors the action log's head on the ledger.",
    )
    auth_purge_interval_seconds: float = Field(
        default=600.0,
        gt=0,
        description="How often the keeper deletes expired login challenges and denylist entries.",
    )

    # -- notifications (backend.services.notifications, backend.services.delivery)
    notify_interval_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often the keeper turns new ledger events into notifications.",
    )
    notify_confirmations: int = Field(
        default=0,
        ge=0,
        description="Notify only of events this many blocks below the mirror's cursor (0 on "
        "QBFT: instant finality). Above a reorg's depth, no notification is ever made of an "
        "event that a fork removes.",
    )
    notify_batch_events: int = Field(default=2_000, ge=1, description="Events read per pass.")
    deliver_interval_seconds: float = Field(
        default=5.0, gt=0, description="How often the keeper sends the deliveries now due."
    )
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    webhook_max_attempts: int = Field(
        default=8, ge=1, description="Attempts of one delivery before it is given up."
    )
    webhook_backoff_seconds: float = Field(
        default=30.0, gt=0, description="The first retry's delay; each next one doubles it."
    )
    webhook_backoff_max_seconds: float = Field(default=6 * 3600.0, gt=0)
    webhook_disable_after: int = Field(
        default=10,
        ge=1,
        description="Failed attempts in a row after which an endpoint is disabled (and its "
        "member told).",
    )
    webhook_allow_private: bool | None = Field(
        default=None,
        description="Let webhook URLs reach loopback, private and link-local addresses "
        "(default: only in the embedded and local profiles; refused in production, where "
        "they would let a member probe the platform's own network).",
    )
    smtp_host: str | None = Field(
        default=None,
        description="The SMTP server notifications are mailed through (none: no e-mail).",
    )
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_starttls: bool = Field(default=True, description="Upgrade the connection with STARTTLS.")
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = Field(default="scf-ledger <notifications@scf-ledger.invalid>")
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    request_threads: int = Field(
        default=16,
        ge=1,
        le=200,
        description="Threads serving requests in each API process: past a few dozen, more only "
        "wait for the interpreter lock, and each holds a database connection.",
    )
    db_pool_size: int = Field(
        default=40,
        ge=1,
        description="Database connections each process keeps open: more than request_threads "
        "(a request holds one, two when the mirror is a database of its own) plus the "
        "dispatcher's and the indexer's. Connections past it are opened and closed on demand, "
        "which costs PostgreSQL a process each.",
    )
    db_pool_overflow: int = Field(default=10, ge=0)

    max_request_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=64 * 1024,
        description="Largest request body; a larger one is refused (413) before it is read.",
    )
    max_document_bytes: int = Field(default=64 * 1024, ge=1024)

    document_store: Literal["fs", "s3"] = Field(
        default="fs",
        description="Where attachments' bytes live, by their sha-256: the filesystem "
        "(SCF_DOCUMENT_DIR) or an S3-compatible store (SCF_S3_*).",
    )
    document_dir: Path | None = Field(
        default=None,
        description="The filesystem store's folder (default: documents/ beside the SQLite "
        "databases, else var/documents).",
    )
    s3_bucket: str | None = Field(default=None, description="The S3 store's bucket.")
    s3_prefix: str = Field(default="documents/", description="Key prefix inside the bucket.")
    s3_endpoint_url: str | None = Field(
        default=None, description="The S3 API's URL (MinIO: http://host:9000); none: AWS."
    )
    s3_region: str = "us-east-1"
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None
    max_attachment_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        description="Largest attachment (an invoice PDF or scan, a contract); larger is "
        "refused with 413 AttachmentTooLarge.",
    )
    upload_retention_hours: float = Field(
        default=24.0,
        gt=0,
        description="An upload that no invoice names within this long is deleted (the keeper's "
        "purge_uploads job), and its bytes with it unless an invoice holds them.",
    )
    upload_purge_interval_seconds: float = Field(default=3600.0, gt=0)
    settlement_currency: str = Field(
        default="CNY",
        pattern=r"^[A-Z]{3}$",
        description="The one currency the ledger's cash stands for (ISO 4217, minor units): "
        "an invoice in any other is refused.",
    )
    max_page_size: int = Field(default=500, ge=1)
    default_page_size: int = Field(default=100, ge=1)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError as exc:
                raise ValueError(f"{entry!r} is not an IP address or network") from exc
        return value

    @model_validator(mode="after")
    def _real_secrets_outside_embedded(self) -> BackendSettings:
        if self.profile == "embedded":
            return self
        if decode_master_key(self.master_key.get_secret_value()) is None:
            raise SettingsError(
                f"SCF_MASTER_KEY must be 32 random bytes in base64 in the {self.profile} profile "
                "(make one: python -c 'import base64,os; print(base64.urlsafe_b64encode("
                "os.urandom(32)).decode())')"
            )
        for name, key in (
            ("SCF_OPERATOR_KEY", self.operator_key),
            ("SCF_KEEPER_KEY", self.keeper_key),
        ):
            if key is None:
                raise SettingsError(f"{name} is required in the {self.profile} profile")
            try:
                dev = is_dev_key(key.get_secret_value())
            except ValueError as exc:
                raise SettingsError(f"{name} is not a hex private key") from exc
            if dev:
                raise SettingsError(
                    f"{name} is a development key whose seed is public; use a key of your own"
                )
        return self

    @property
    def embedded(self) -> bool:
        return self.profile == "embedded"

    @property
    def should_deploy(self) -> bool:
        return self.embedded if self.deploy is None else self.deploy

    @property
    def should_run_indexer(self) -> bool:
        return self.embedded if self.run_indexer is None else self.run_indexer

    @property
    def webhooks_reach_private(self) -> bool:
        if self.webhook_allow_private is not None:
            return self.webhook_allow_private
        return self.profile in ("embedded", "local")

    @property
    def eager(self) -> bool:
        return self.embedded if self.task_always_eager is None else self.task_always_eager
