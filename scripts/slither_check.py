"""Slither on contracts/src, through the pinned npm compiler: every finding above informational
must be triaged in slither.config.json (detector, the functions it is accepted in, and why it is
a false positive); any other finding fails `make lint`.

Run by `make lint` with the Slither environment (`.venv-slither`, from requirements-slither.lock:
slither-analyzer pins web3 below the project's, so it lives apart):

    .venv/bin/scf compile --build-info var/slither/artifacts/build-info/scf.json
    .venv-slither/bin/python scripts/slither_check.py var/slither/artifacts

crytic-compile reads the build-info as a Hardhat project's (it never runs solc itself), so
Slither analyses exactly the standard-JSON compilation of `scf compile`.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path
from typing import Any

from crytic_compile import CryticCompile
from slither import Slither
from slither.detectors import all_detectors
from slither.detectors.abstract_detector import AbstractDetector, DetectorClassification

ROOT = Path(__file__).resolve().parent.parent
SKIPPED = (DetectorClassification.INFORMATIONAL, DetectorClassification.OPTIMIZATION)


def where(result: dict[str, Any]) -> str:
    """`Contract.function` of a finding's first element (a local variable: its function's)."""
    if not result["elements"]:
        return "?"
    element = result["elements"][0]
    names = [element["name"]] if element["type"] in ("function", "contract") else []
    parent = element.get("type_specific_fields", {}).get("parent")
    while parent is not None:
        if parent["type"] in ("function", "contract"):
            names.insert(0, parent["name"])
        parent = parent.get("type_specific_fields", {}).get("parent")
    return ".".join(names)


def findings(artifacts: Path) -> list[dict[str, Any]]:
    compiled = CryticCompile(
        str(ROOT / "contracts"),
        compile_force_framework="hardhat",
        hardhat_ignore_compile=True,
        npx_disable=True,  # the paths are the defaults; never ask npm for hardhat
        hardhat_artifacts_directory=str(artifacts.resolve()),
    )
    slither = Slither(compiled, exclude_dependencies=True)
    for _, detector in inspect.getmembers(all_detectors, inspect.isclass):
        if issubclass(detector, AbstractDetector) and detector.IMPACT not in SKIPPED:
            slither.register_detector(detector)
    return [r for results in slither.run_detectors() for r in results]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("artifacts", type=Path, help="directory holding build-info/*.json")
    parser.add_argument("--config", type=Path, default=ROOT / "slither.config.json")
    args = parser.parse_args()
    triage: dict[str, dict[str, Any]] = json.loads(args.config.read_text())["triage"]
    new: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    results = findings(args.artifacts)
    for result in results:
        check, at = result["check"], where(result)
        if at in triage.get(check, {}).get("where", []):
            seen.add((check, at))
        else:
            new.append(result)
    stale = [
        f"{check} in {at}"
        for check, entry in sorted(triage.items())
        for at in entry["where"]
        if (check, at) not in seen
    ]
    for result in new:
        print(f"{result['impact']} {result['check']} in {where(result)}:")
        print("  " + result["description"].strip().replace("\n", "\n  "))
    if stale:
        print("triaged but no longer found (remove from slither.config.json):")
        print("  " + "\n  ".join(stale))
    print(
        f"slither: {len(results)} findings, {len(results) - len(new)} triaged as false positives"
        f" in slither.config.json, {len(new)} new"
    )
    return 1 if new or stale else 0


if __name__ == "__main__":
    sys.exit(main())
