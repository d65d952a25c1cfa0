"""Load compiled contract artifacts from `contracts/build/<Name>.json`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from chain.abi import signature
from chain.errors import ArtifactError
from chain.settings import CONTRACTS_DIR

CONTRACT_NAMES: tuple[str, ...] = ("MemberRegistry", "SettlementToken", "Receivables")
DEFAULT_BUILD_DIR = CONTRACTS_DIR / "build"


@dataclass(frozen=True)
class Artifact:
    """One compiled contract as written by `chain.compile`."""

    name: str
    source: str
    abi: tuple[dict[str, Any], ...]
    bytecode: str
    deployed_bytecode: str
    compiler_version: str
    settings: dict[str, Any]
    source_hash: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Artifact:
        try:
            return cls(
                name=data["contractName"],
                source=data["sourceName"],
                abi=tuple(data["abi"]),
                bytecode=data["bytecode"],
                deployed_bytecode=data["deployedBytecode"],
                compiler_version=data["compiler"]["version"],
                settings=data["compiler"]["settings"],
                source_hash=data["sourceHash"],
            )
        except (KeyError, TypeError) as exc:
            raise ArtifactError(f"malformed artifact: missing {exc}") from exc

    def to_json(self) -> dict[str, Any]:
        return {
            "contractName": self.name,
            "sourceName": self.source,
            "abi": list(self.abi),
            "bytecode": self.bytecode,
            "deployedBytecode": self.deployed_bytecode,
            "compiler": {"version": self.compiler_version, "settings": self.settings},
            "sourceHash": self.source_hash,
        }

    @property
    def errors(self) -> tuple[dict[str, Any], ...]:
        return tuple(e for e in self.abi if e.get("type") == "error")


def artifact_path(name: str, build_dir: Path | None = None) -> Path:
    return (build_dir or DEFAULT_BUILD_DIR) / f"{name}.json"


def load_artifact(name: str, build_dir: Path | None = None) -> Artifact:
    """Read one artifact; raises ArtifactError if it has not been compiled yet."""
    path = artifact_path(name, build_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ArtifactError(f"{path} not found; run `scf compile`") from exc
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{path} is not valid JSON: {exc}") from exc
    return Artifact.from_json(data)


@cache
def _load_cached(name: str, build_dir: Path) -> Artifact:
    return load_artifact(name, build_dir)


def get_artifact(name: str, build_dir: Path | None = None) -> Artifact:
    """Cached `load_artifact`; call `clear_cache()` after recompiling."""
    return _load_cached(name, build_dir or DEFAULT_BUILD_DIR)


def clear_cache() -> None:
    _load_cached.cache_clear()


def combined_error_abi(
    build_dir: Path | None = None, names: tuple[str, ...] = CONTRACT_NAMES
) -> list[dict[str, Any]]:
    """Union of the custom errors of the given contracts, deduplicated by signature."""
    seen: dict[str, dict[str, Any]] = {}
    for name in names:
        for err in get_artifact(name, build_dir).errors:
            seen.setdefault(signature(err), err)
    return list(seen.values())
