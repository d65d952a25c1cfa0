"""How the pipeline fails: a transient node failure (retry later), a lost claim (stop), and
the stored error of a request that will never succeed."""

from __future__ import annotations

from typing import Any

from backend.errors import DomainError, from_revert
from chain.errors import ChainError, ContractRevert


class Transient(Exception):
    """The node could not be reached; nothing was sent, or what was sent is stored."""


class LostClaim(Exception):
    """Another attempt took over this request (its lease expired); stop without sending."""


def failure(exc: Exception) -> tuple[str, str, dict[str, Any]]:
    """(error code, message, details) stored on a request that failed with `exc`: the
    contract's error name for a refusal, the chain error's class name for another failure on
    chain, the domain error's code for a request that cannot be built, else `InvalidRequest`."""
    if isinstance(exc, ContractRevert):
        refused = from_revert(exc)
        return refused.code, refused.message, refused.details
    if isinstance(exc, ChainError):
        return type(exc).__name__, str(exc), {}
    if isinstance(exc, DomainError):
        return exc.code, exc.message, exc.details
    return "InvalidRequest", str(exc), {}
