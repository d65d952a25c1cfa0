"""`scf` command line: compile, deploy, demo."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from eth_utils import keccak
from rich.console import Console

from chain.connection import connect, dev_account
from chain.errors import ChainError
from chain.settings import ChainSettings, Profile

app = typer.Typer(help="scf-ledger tools.", no_args_is_help=True)
console = Console()


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """scf-ledger command line."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@app.command("compile")
def compile_cmd(
    evm_version: Annotated[str | None, typer.Option(help="solc evmVersion")] = None,
    optimizer_runs: Annotated[int | None, typer.Option(help="optimizer runs")] = None,
) -> None:
    """Compile contracts/src/*.sol into contracts/build/*.json."""
    from chain.compile import compile_contracts

    overrides: dict[str, Any] = {}
    if evm_version:
        overrides["evm_version"] = evm_version
    if optimizer_runs is not None:
        overrides["optimizer_runs"] = optimizer_runs
    try:
        artifacts = compile_contracts(ChainSettings(**overrides))
    except ChainError as exc:
        console.print(f"[red]compile failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    for name, art in sorted(artifacts.items()):
        size = (len(art.deployed_bytecode) - 2) // 2
        console.print(f"[green]{name}[/green] {size} bytes runtime")


@app.command("deploy")
def deploy_cmd(
    profile: Annotated[Profile | None, typer.Option(help="tester|anvil|rpc")] = None,
    out: Annotated[Path | None, typer.Option(help="deployment record path")] = None,
    operator_key: Annotated[
        str | None, typer.Option(envvar="SCF_OPERATOR_KEY", help="hex private key")
    ] = None,
    entity: Annotated[str, typer.Option(help="operator legal entity id")] = "SCF-OPERATOR",
) -> None:
    """Deploy and wire the contracts, then write the deployment record."""
    from eth_account import Account

    from chain.deploy import deploy

    settings = ChainSettings(**({"profile": profile} if profile else {}))
    if operator_key is None and settings.profile == "rpc":
        console.print("[red]--operator-key (or SCF_OPERATOR_KEY) is required for rpc[/red]")
        raise typer.Exit(2)
    operator = Account.from_key(operator_key) if operator_key else dev_account(0)
    with connect(settings) as conn:
        if operator_key is None and conn.fee_mode != "zero":
            conn.fund(operator.address)
        try:
            deployment = deploy(
                conn, operator=operator, operator_entity_id=keccak(text=entity)
            )
        except ChainError as exc:
            console.print(f"[red]deploy failed:[/red] {exc}")
            raise typer.Exit(1) from exc
    path = out or settings.deployment_path
    deployment.save(path)
    console.print_json(data=deployment.to_json())
    console.print(f"written to {path}")
    if settings.profile != "rpc":
        console.print("[yellow]note: the chain is gone when this command exits[/yellow]")


@app.command("demo")
def demo_cmd() -> None:
    """Deploy on the embedded chain and walk one receivable through its life."""
    try:
        demo = importlib.import_module("chain.demo")
    except ModuleNotFoundError as exc:
        if exc.name != "chain.demo":
            raise
        console.print("[yellow]chain.demo is not written yet[/yellow]")
        raise typer.Exit(1) from exc
    demo.run_demo()
