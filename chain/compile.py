"""Compile `contracts/src/*.sol` with solc (standard JSON) and write `contracts/build/*.json`."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from chain.artifacts import Artifact, clear_cache
from chain.errors import CompileError
from chain.settings import ChainSettings

log = logging.getLogger(__name__)

_IMPORT_RE = re.compile(r"""^\s*import\s+(?:[^;"']*?\bfrom\s+)?["']([^"']+)["']""", re.MULTILINE)
_TOOLCHAIN_PACKAGES = ("solc", "@openzeppelin/contracts")


def compile_settings(settings: ChainSettings) -> dict[str, Any]:
    """The solc `settings` block minus outputSelection, recorded in every artifact."""
    return {
        "optimizer": {"enabled": True, "runs": settings.optimizer_runs},
        "evmVersion": settings.evm_version,
        "viaIR": settings.via_ir,
        "metadata": {"bytecodeHash": "none"},
    }


def project_sources(src_dir: Path) -> dict[str, Path]:
    """Top-level project sources keyed by their unit name (`src/Foo.sol`)."""
    return {f"src/{p.name}": p for p in sorted(src_dir.glob("*.sol"))}


def toolchain_pins(contracts_dir: Path) -> dict[str, str]:
    """Pinned versions and integrity hashes of solc and OpenZeppelin from package-lock.json."""
    lock_path = contracts_dir / "package-lock.json"
    try:
        lock = json.loads(lock_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CompileError(f"{lock_path} missing") from exc
    packages = lock.get("packages", {})
    pins: dict[str, str] = {}
    for pkg in _TOOLCHAIN_PACKAGES:
        entry = packages.get(f"node_modules/{pkg}", {})
        pins[pkg] = f"{entry.get('version', '?')} {entry.get('integrity', '')}".strip()
    return pins


def sources_hash(contracts_dir: Path | None = None) -> str:
    """sha256 over the project sources and the pinned toolchain; needs no node_modules."""
    contracts_dir = contracts_dir or ChainSettings().contracts_dir
    h = hashlib.sha256()
    for unit, path in project_sources(contracts_dir / "src").items():
        h.update(unit.encode() + b"\0" + path.read_bytes() + b"\0")
    h.update(json.dumps(toolchain_pins(contracts_dir), sort_keys=True).encode())
    return h.hexdigest()


def _resolve_import(importer: str, target: str, contracts_dir: Path) -> tuple[str, Path]:
    """Map an import to (unit name, file); npm-style paths resolve in node_modules."""
    if target.startswith("."):
        unit = (Path(importer).parent / target).as_posix()
        parts: list[str] = []
        for part in unit.split("/"):
            if part == "..":
                if not parts:
                    raise CompileError(f"import {target} escapes the root in {importer}")
                parts.pop()
            elif part not in (".", ""):
                parts.append(part)
        unit = "/".join(parts)
    else:
        unit = target
    if unit.startswith("src/"):
        path = contracts_dir / unit
    else:
        path = contracts_dir / "node_modules" / unit
    if not path.is_file():
        raise CompileError(f"cannot resolve import {target!r} from {importer} (looked at {path})")
    return unit, path


def collect_sources(contracts_dir: Path) -> dict[str, str]:
    """All sources to feed solc: the project files plus their imports, recursively."""
    pending = list(project_sources(contracts_dir / "src").items())
    contents: dict[str, str] = {}
    while pending:
        unit, path = pending.pop()
        if unit in contents:
            continue
        text = path.read_text(encoding="utf-8")
        contents[unit] = text
        for target in _IMPORT_RE.findall(text):
            dep_unit, dep_path = _resolve_import(unit, target, contracts_dir)
            if dep_unit not in contents:
                pending.append((dep_unit, dep_path))
    return dict(sorted(contents.items()))


def find_solc(contracts_dir: Path) -> Path:
    """Prefer a native solc of the pinned version on PATH; else the npm solcjs."""
    wanted = toolchain_pins(contracts_dir)["solc"].split()[0]
    native = shutil.which("solc")
    if native:
        try:
            out = subprocess.run(
                [native, "--version"], capture_output=True, text=True, timeout=30, check=False
            ).stdout
        except OSError:
            out = ""
        if f"Version: {wanted}+" in out:
            return Path(native)
    solcjs = contracts_dir / "node_modules" / ".bin" / "solcjs"
    if not solcjs.exists():
        raise CompileError(f"no solc {wanted} on PATH and {solcjs} missing; run `make node`")
    return solcjs


def _run_standard_json(solc: Path, payload: dict[str, Any]) -> dict[str, Any]:
    """Run solc in standard-JSON mode: py-solc-x for a native solc, a file-fed solcjs otherwise."""
    if solc.name != "solcjs":
        import solcx
        from solcx.exceptions import SolcError

        try:
            native: dict[str, Any] = solcx.compile_standard(payload, solc_binary=solc)
        except SolcError as exc:
            raise CompileError(str(exc)) from exc
        return native
    # solcjs reads stdin with readFileSync (EAGAIN on a large pipe) and exits before a piped
    # stdout drains, so give it regular files both ways. It also prints a banner line
    # (">>> Cannot retry compilation with SMT ...") before the JSON.
    with tempfile.TemporaryFile("w+b") as stdin, tempfile.TemporaryFile("w+b") as stdout_file:
        stdin.write(json.dumps(payload).encode())
        stdin.seek(0)
        proc = subprocess.run(
            [str(solc), "--standard-json"],
            stdin=stdin,
            stdout=stdout_file,
            stderr=subprocess.PIPE,
            check=False,
        )
        stdout_file.seek(0)
        stdout = stdout_file.read().decode()
    start = stdout.find("{")
    if proc.returncode != 0 or start < 0:
        raise CompileError(f"solcjs failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
    try:
        result: dict[str, Any] = json.loads(stdout[start:])
    except json.JSONDecodeError as exc:
        raise CompileError(f"unparseable solc output: {exc}") from exc
    return result


def compile_contracts(
    settings: ChainSettings | None = None, *, write: bool = True
) -> dict[str, Artifact]:
    """Compile every top-level contract in contracts/src and (optionally) write artifacts."""
    settings = settings or ChainSettings()
    contracts_dir = settings.contracts_dir
    units = project_sources(contracts_dir / "src")
    if not units:
        raise CompileError(f"no .sol files in {contracts_dir / 'src'}")
    solc = find_solc(contracts_dir)
    solc_settings = compile_settings(settings)
    selection = {
        unit: {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]} for unit in units
    }
    log.info("compiling %d project files with %s", len(units), solc)
    _, output = _compile(solc, contracts_dir, solc_settings, selection)

    version = _compiler_version(solc)
    digest = sources_hash(contracts_dir)
    artifacts: dict[str, Artifact] = {}
    for unit, path in units.items():
        for name, out in output.get("contracts", {}).get(unit, {}).items():
            bytecode = out["evm"]["bytecode"]["object"]
            if not _is_deployable_top_level(name, path, bytecode):
                continue
            artifacts[name] = Artifact(
                name=name,
                source=unit,
                abi=tuple(out["abi"]),
                bytecode="0x" + bytecode,
                deployed_bytecode="0x" + out["evm"]["deployedBytecode"]["object"],
                compiler_version=version,
                settings=solc_settings,
                source_hash=digest,
            )
    if write:
        build_dir = contracts_dir / "build"
        build_dir.mkdir(parents=True, exist_ok=True)
        for name, art in artifacts.items():
            text = json.dumps(art.to_json(), indent=2, sort_keys=True) + "\n"
            (build_dir / f"{name}.json").write_text(text, encoding="utf-8")
        clear_cache()
        log.info("wrote %s to %s", ", ".join(sorted(artifacts)), build_dir)
    return artifacts


def _compile(
    solc: Path, contracts_dir: Path, solc_settings: dict[str, Any], selection: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(standard-JSON input, output) for the project's sources; solc's errors raise."""
    payload = {
        "language": "Solidity",
        "sources": {u: {"content": c} for u, c in collect_sources(contracts_dir).items()},
        "settings": {**solc_settings, "outputSelection": selection},
    }
    output = _run_standard_json(solc, payload)
    problems = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if problems:
        raise CompileError("\n".join(e.get("formattedMessage", str(e)) for e in problems))
    for warning in output.get("errors", []):
        log.warning("solc: %s", warning.get("formattedMessage", "").strip())
    return payload, output


#: what a static analyser reads: every file's AST, every contract's code and source maps
_ANALYSIS_OUTPUT = [
    "abi",
    "devdoc",
    "userdoc",
    "evm.bytecode.object",
    "evm.bytecode.sourceMap",
    "evm.deployedBytecode.object",
    "evm.deployedBytecode.sourceMap",
    "evm.methodIdentifiers",
]


def build_info(settings: ChainSettings | None = None) -> dict[str, Any]:
    """The compilation as a Hardhat build-info (standard-JSON input and output, the compiler
    version): what crytic-compile, and so Slither, reads instead of running solc itself, so
    that they analyse exactly what the pinned npm compiler builds."""
    settings = settings or ChainSettings()
    contracts_dir = settings.contracts_dir
    solc = find_solc(contracts_dir)
    selection = {"*": {"*": _ANALYSIS_OUTPUT, "": ["ast"]}}
    payload, output = _compile(solc, contracts_dir, compile_settings(settings), selection)
    long_version = _compiler_version(solc)
    return {
        "_format": "hh-sol-build-info-1",
        "solcVersion": long_version.split("+", 1)[0],
        "solcLongVersion": long_version,
        "input": payload,
        "output": output,
    }


def _is_deployable_top_level(name: str, path: Path, bytecode: str) -> bool:
    """One deployable contract per file, named after it; no interfaces, abstracts, libraries."""
    if name != path.stem or not bytecode:
        return False
    return re.search(rf"^\s*library\s+{re.escape(name)}\b", path.read_text(), re.M) is None


def _compiler_version(solc: Path) -> str:
    from solcx.wrapper import get_version_str_from_solc_binary

    return str(get_version_str_from_solc_binary(solc))
