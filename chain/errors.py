"""One exception hierarchy for everything under `chain/`."""

from __future__ import annotations

from typing import Any


class ChainError(Exception):
    """Base class for every error raised by the chain package."""


class ProfileError(ChainError):
    """A connection profile is misconfigured or its node could not be started."""


class ArtifactError(ChainError):
    """A compiled artifact is missing, unreadable or stale."""


class CompileError(ChainError):
    """The Solidity compiler failed or reported errors."""


class NonceError(ChainError):
    """The node kept refusing our nonce even after resynchronising."""


class TransactionFailed(ChainError):
    """A transaction was mined with status 0 and no revert reason could be recovered."""

    def __init__(self, message: str, *, tx_hash: str | None = None) -> None:
        super().__init__(message)
        self.tx_hash = tx_hash


class ContractRevert(ChainError):
    """A contract refused: a custom error, `Error(string)` or `Panic(uint256)`, decoded."""

    def __init__(
        self,
        name: str,
        args_: dict[str, Any],
        *,
        data: bytes,
        signature: str | None = None,
        tx_hash: str | None = None,
    ) -> None:
        self.name = name
        self.args_ = args_
        self.data = data
        self.signature = signature
        self.tx_hash = tx_hash
        rendered = ", ".join(f"{k}={_render(v)}" for k, v in args_.items())
        super().__init__(f"{name}({rendered})")

    @property
    def values(self) -> tuple[Any, ...]:
        """Decoded arguments in declaration order."""
        return tuple(self.args_.values())


def _render(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return repr(value) if isinstance(value, str) else str(value)
