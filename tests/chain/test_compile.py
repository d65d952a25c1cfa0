from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chain.artifacts import load_artifact
from chain.compile import build_info, compile_contracts, sources_hash
from chain.errors import CompileError
from chain.settings import CONTRACTS_DIR, ChainSettings

TINY = """// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Context} from "@openzeppelin/contracts/utils/Context.sol";
import {Limits} from "./Limits.sol";

contract Tiny is Context {
    error TinyTooBig(address caller, uint256 value);

    function check(uint256 value) external view {
        if (value > Limits.MAX) revert TinyTooBig(_msgSender(), value);
    }
}
"""
LIMITS = """// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

library Limits {
    uint256 internal constant MAX = 10;
}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "Tiny.sol").write_text(TINY)
    (tmp_path / "src" / "Limits.sol").write_text(LIMITS)
    shutil.copy(CONTRACTS_DIR / "package-lock.json", tmp_path / "package-lock.json")
    (tmp_path / "node_modules").symlink_to(CONTRACTS_DIR / "node_modules")
    return tmp_path


@pytest.mark.node
def test_compile_writes_only_deployable_top_level_contracts(project: Path) -> None:
    settings = ChainSettings(contracts_dir=project, evm_version="paris", optimizer_runs=1000)
    artifacts = compile_contracts(settings)
    assert set(artifacts) == {"Tiny"}
    tiny = load_artifact("Tiny", project / "build")
    assert tiny == artifacts["Tiny"]
    assert tiny.settings["evmVersion"] == "paris"
    assert tiny.settings["optimizer"] == {"enabled": True, "runs": 1000}
    assert tiny.source_hash == sources_hash(project)
    assert [e["name"] for e in tiny.errors] == ["TinyTooBig"]
    assert tiny.bytecode.startswith("0x")
    assert len(tiny.deployed_bytecode) > 2


@pytest.mark.node
def test_build_info_holds_what_slither_reads_as_a_hardhat_build(project: Path) -> None:
    info = build_info(ChainSettings(contracts_dir=project))
    assert info["_format"] == "hh-sol-build-info-1"
    assert info["solcLongVersion"].startswith(info["solcVersion"] + "+commit.")
    assert info["solcVersion"] == "0.8.37"  # the npm compiler of package-lock.json
    sources = info["output"]["sources"]
    assert {"src/Tiny.sol", "src/Limits.sol", "@openzeppelin/contracts/utils/Context.sol"} <= set(
        sources
    )
    assert all(s["ast"]["nodeType"] == "SourceUnit" for s in sources.values())
    tiny = info["output"]["contracts"]["src/Tiny.sol"]["Tiny"]
    assert tiny["evm"]["deployedBytecode"]["sourceMap"] and tiny["abi"]
    assert info["input"]["settings"]["optimizer"]["enabled"] is True
    assert not (project / "build").exists()  # no artifacts written


@pytest.mark.node
def test_compile_reports_solidity_errors(project: Path) -> None:
    (project / "src" / "Broken.sol").write_text("pragma solidity 0.8.37; contract Broken { x }")
    with pytest.raises(CompileError, match=r"Broken\.sol"):
        compile_contracts(ChainSettings(contracts_dir=project))


def test_sources_hash_changes_with_any_source_byte(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    shutil.copy(CONTRACTS_DIR / "package-lock.json", tmp_path / "package-lock.json")
    (tmp_path / "src" / "A.sol").write_text(LIMITS)
    before = sources_hash(tmp_path)
    assert sources_hash(tmp_path) == before
    (tmp_path / "src" / "A.sol").write_text(LIMITS + " ")
    assert sources_hash(tmp_path) != before
