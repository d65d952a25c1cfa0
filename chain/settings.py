"""Chain settings, read from the environment with the `SCF_CHAIN_` prefix (and `.env`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
CONTRACTS_DIR = REPO_ROOT / "contracts"

Profile = Literal["tester", "anvil", "rpc"]
FeeMode = Literal["auto", "zero"]


class ChainSettings(BaseSettings):
    """How to reach the ledger and how to compile and pay for transactions."""

    model_config = SettingsConfigDict(
        env_prefix="SCF_CHAIN_", env_file=".env", extra="ignore", frozen=True
    )

    profile: Profile = "tester"
    rpc_url: str = "http://127.0.0.1:8545"
    rpc_timeout_seconds: float = 30.0
    poa_middleware: bool = False
    fee_mode: FeeMode | None = Field(
        default=None, description="None picks per profile: tester=auto, anvil/rpc=zero if zero gas."
    )
    priority_fee_wei: int = 10**9
    gas_multiplier: float = 1.2

    # compile
    evm_version: str = "cancun"
    optimizer_runs: int = 200
    via_ir: bool = False
    contracts_dir: Path = CONTRACTS_DIR

    # tester
    tester_gas_limit: int = 60_000_000

    # anvil
    anvil_bin: Path | None = None
    anvil_port: int = 0
    anvil_zero_gas: bool = True
    anvil_block_time: float | None = None
    anvil_chain_id: int = 31337
    anvil_gas_limit: int = 60_000_000
    anvil_start_timeout_seconds: float = 20.0

    # receipts
    receipt_timeout_seconds: float = 120.0
    receipt_poll_seconds: float = 0.05
    confirmations: int = 0

    deployment_path: Path = REPO_ROOT / "var" / "deployment.json"

    @property
    def effective_fee_mode(self) -> FeeMode:
        """Fee mode after applying the per-profile default."""
        if self.fee_mode is not None:
            return self.fee_mode
        if self.profile == "anvil" and self.anvil_zero_gas:
            return "zero"
        return "auto"

    @property
    def build_dir(self) -> Path:
        return self.contracts_dir / "build"

    @property
    def src_dir(self) -> Path:
        return self.contracts_dir / "src"


SECRET_WORDS = ("key", "secret", "password", "token")


def describe_validation_error(exc: ValidationError, env_prefix: str) -> str:
    """One line per bad value, naming the environment variable that carries it."""
    lines = []
    for error in exc.errors():
        loc = error.get("loc") or ()
        variable = f"{env_prefix}{str(loc[0]).upper()}" if loc else env_prefix.rstrip("_")
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        given = error.get("input")
        secret = any(word in variable.lower() for word in SECRET_WORDS)
        plain = isinstance(given, str | int | float) and not secret
        shown = f" (got {given!r})" if loc and plain else ""
        lines.append(f"{variable}: {message}{shown}")
    return "; ".join(lines)
