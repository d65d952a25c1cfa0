"""The backend's domain errors: a stable code, a message a person reads, details. Services
raise them; the API maps each class to an HTTP status once (`backend.api.errors`)."""

from __future__ import annotations

from typing import Any

from chain.errors import ContractRevert
from chain.refusals import explain


class DomainError(Exception):
    """Base class: a stable `code`, a message and details."""

    code = "BadRequest"

    def __init__(
        self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details or {}


class InvalidInput(DomainError):
    code = "ValidationError"


class Unauthenticated(DomainError):
    code = "Unauthenticated"


class Forbidden(DomainError):
    code = "Forbidden"


class NotFound(DomainError):
    code = "NotFound"


class Conflict(DomainError):
    """A refusal the ledger gives (or would give): `code` is the contract's error name."""

    code = "Conflict"


class RequestTooLarge(DomainError):
    code = "RequestTooLarge"

    def __init__(self, max_bytes: int) -> None:
        super().__init__("the request body is too large", details={"max_bytes": max_bytes})


class TooManyRequests(DomainError):
    """A rate limit or lock-out: `retry_after` seconds until it lets the request through."""

    code = "TooManyRequests"

    def __init__(self, message: str, *, code: str, retry_after: int) -> None:
        super().__init__(message, code=code, details={"retry_after": retry_after})
        self.retry_after = retry_after


def refusal(name: str, **args: Any) -> Conflict:
    """A refusal the mirror predicts, named and worded as the contract's own (`args`: the
    contract error's arguments)."""
    message, details = explain(name, args)
    return Conflict(message, code=name, details=jsonable(details))


def from_revert(exc: ContractRevert) -> Conflict:
    """The chain's refusal, worded for a person."""
    message, details = explain(exc.name, exc.args_)
    return Conflict(message, code=exc.name, details=jsonable(details))


def jsonable(value: Any) -> Any:
    """Revert arguments as JSON: bytes to hex, big ints to strings."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and abs(value) >= 2**53:
        return str(value)
    return value
