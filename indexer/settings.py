"""Indexer settings, read from the environment with the `SCF_INDEXER_` prefix (and `.env`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from chain.settings import REPO_ROOT

DEFAULT_DATABASE_URL = f"sqlite:///{REPO_ROOT / 'var' / 'indexer.sqlite3'}"


class IndexerSettings(BaseSettings):
    """Where the mirror lives and how hard to pull logs from the node."""

    model_config = SettingsConfigDict(
        env_prefix="SCF_INDEXER_", env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = DEFAULT_DATABASE_URL
    confirmation_depth: int = Field(
        default=0, ge=0, description="Blocks behind the head to stay (0 on QBFT: instant finality)."
    )
    reorg_window: int = Field(
        default=128,
        ge=1,
        description="Recent blocks kept with hashes and undo records; a deeper fork stops us.",
    )
    initial_block_range: int = Field(
        default=16, ge=1, description="Small: a first range of dense blocks could be huge."
    )
    max_block_range: int = Field(default=100_000, ge=1)
    min_block_range: int = Field(default=1, ge=1)
    tester_max_block_range: int = Field(
        default=64, ge=1, description="eth-tester's get_logs cost grows with the range."
    )
    target_batch_events: int = Field(
        default=5_000, ge=1, description="Aim for this many logs per batch (bounds memory)."
    )
    max_retries: int = Field(default=8, ge=0)
    backoff_seconds: float = Field(default=0.2, gt=0)
    backoff_max_seconds: float = Field(default=10.0, gt=0)
    poll_seconds: float = Field(default=0.5, gt=0)
    prefetch: bool = Field(default=True, description="Fetch the next range while storing one.")
    gc_threshold: int = Field(
        default=50_000, ge=0, description="Young-generation GC threshold while syncing (0: off)."
    )
    pipeline: bool = Field(
        default=True,
        description="PostgreSQL: write one batch while preparing the next (one in flight).",
    )
