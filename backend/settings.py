"""Backend settings, read from the environment with the `SCF_` prefix (and `.env`)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
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
    login_lockout_seconds: int = Field(default=900, ge=1, description="How long a lock-out lasts.")
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
    settlement_currency: str = Field(
        default="CNY",
        pattern=r"^[A-Z]{3}$",
        description="The one currency the ledger's cash stands for (ISO 4217, minor units): "
        "an invoice in any other is refused.",
    )
    max_page_size: int = Field(default=500, ge=1)
    default_page_size: int = Field(default=100, ge=1)

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
    def eager(self) -> bool:
        return self.embedded if self.task_always_eager is None else self.task_always_eager
