"""One exception hierarchy for everything under `indexer/`."""

from __future__ import annotations


class IndexerError(Exception):
    """Base class for every error raised by the indexer package."""


class AttachError(IndexerError):
    """The mirror was built from another chain or deployment than the node it is pointed at."""


class WriterLockError(IndexerError):
    """Another indexer process already writes this chain's mirror."""


class ReorgTooDeep(IndexerError):
    """The chain forked below the blocks the mirror can still roll back."""


class FetchError(IndexerError):
    """The node kept failing to serve logs or headers after retries."""


class InconsistentData(IndexerError):
    """Logs and headers fetched for one batch disagree (the chain moved under us); retry."""


class DecodeError(IndexerError):
    """A log does not match the ABI of the contract that emitted it."""
