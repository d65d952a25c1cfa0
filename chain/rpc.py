"""JSON-RPC batches: many calls in one HTTP request, each answer in the order asked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from web3.types import RPCEndpoint

from chain.errors import ChainError


class BatchRefused(ChainError):
    """The node answered the batch as a whole with an error (or with something else)."""


def supports_batches(provider: Any) -> bool:
    return callable(getattr(provider, "make_batch_request", None))


def batch(provider: Any, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[dict[str, Any]]:
    """Send `calls` (method, params) as one batch; each answer (`result` or `error`) in order.
    Transport errors propagate as the provider raises them."""
    if not calls:
        return []
    answer: Any = provider.make_batch_request([(RPCEndpoint(m), list(p)) for m, p in calls])
    if not isinstance(answer, list) or len(answer) != len(calls):
        reason = answer.get("error") if isinstance(answer, dict) else answer
        raise BatchRefused(f"batch of {len(calls)} {calls[0][0]} refused: {reason}")
    return [dict(a) for a in answer]
