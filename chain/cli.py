"""Chain commands of `scf` (compile, deploy, walkthrough); composed into the full CLI by
`backend.tools.cli`. This module imports nothing above `chain`."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from eth_utils.crypto import keccak
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from web3.types import TxReceipt

from chain.connection import ChainConnection, connect, dev_account
from chain.errors import ChainError, ProfileError
from chain.exitcodes import ExitCode
from chain.settings import ChainSettings, Profile, describe_validation_error
from chain.tx import TxSender

app = typer.Typer(help="scf-ledger chain tools.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


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
    build_info: Annotated[
        Path | None,
        typer.Option(
            help="write the compilation as a Hardhat build-info JSON here (for Slither) "
            "instead of the artifacts"
        ),
    ] = None,
) -> None:
    """Compile contracts/src/*.sol into contracts/build/*.json."""
    from chain import compile as solc

    overrides: dict[str, Any] = {}
    if evm_version:
        overrides["evm_version"] = evm_version
    if optimizer_runs is not None:
        overrides["optimizer_runs"] = optimizer_runs
    try:
        if build_info is not None:
            info = solc.build_info(load_chain_settings(**overrides))
            build_info.parent.mkdir(parents=True, exist_ok=True)
            build_info.write_text(json.dumps(info), encoding="utf-8")
            console.print(f"build-info of solc {info['solcLongVersion']} in {build_info}")
            return
        artifacts = solc.compile_contracts(load_chain_settings(**overrides))
    except ChainError as exc:
        err.print(f"[red]compile failed:[/red] {exc}")
        raise typer.Exit(ExitCode.FAILED) from exc
    for name, art in sorted(artifacts.items()):
        size = (len(art.deployed_bytecode) - 2) // 2
        console.print(f"[green]{name}[/green] {size} bytes runtime")


class _ProgressSender(TxSender):
    """A TxSender that advances a progress bar once per mined transaction."""

    def __init__(self, conn: ChainConnection, advance: Callable[[], None]) -> None:
        super().__init__(conn)
        self._advance = advance

    def transact(self, fn: Any, **kw: Any) -> TxReceipt:
        receipt = super().transact(fn, **kw)
        self._advance()
        return receipt


DEPLOY_TRANSACTIONS = 4  # three contracts, then SettlementToken.setLedger


@app.command("deploy")
def deploy_cmd(
    profile: Annotated[Profile | None, typer.Option(help="tester|anvil|rpc")] = None,
    rpc_url: Annotated[str | None, typer.Option(help="JSON-RPC URL (rpc profile)")] = None,
    out: Annotated[Path | None, typer.Option(help="deployment record path")] = None,
    operator_key: Annotated[
        str | None,
        typer.Option(envvar="SCF_OPERATOR_KEY", help="hex private key", show_default=False),
    ] = None,
    entity: Annotated[str, typer.Option(help="operator legal entity id")] = "SCF-OPERATOR",
    as_json: Annotated[bool, typer.Option("--json", help="print only the record as JSON")] = False,
) -> None:
    """Deploy and wire the contracts, then write the deployment record.

    Exit codes: 0 deployed, 1 the chain refused, 2 bad configuration, 3 no node answering.
    """
    from eth_account import Account

    from chain.deploy import deploy

    settings = load_chain_settings(profile=profile, rpc_url=rpc_url)
    if operator_key is None and settings.profile == "rpc":
        err.print("[red]--operator-key (or SCF_OPERATOR_KEY) is required for rpc[/red]")
        raise typer.Exit(ExitCode.USAGE)
    operator = Account.from_key(operator_key) if operator_key else dev_account(0)
    try:
        conn = connect(settings)
    except ProfileError as exc:
        err.print(f"[red]cannot reach the ledger:[/red] {exc}")
        raise typer.Exit(ExitCode.UNREACHABLE) from exc
    with (
        conn,
        Progress(
            TextColumn("[bold]deploying"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("transactions"),
            TimeElapsedColumn(),
            console=err,
            disable=as_json,
        ) as bar,
    ):
        task = bar.add_task("deploy", total=DEPLOY_TRANSACTIONS)
        if operator_key is None:
            conn.fund(operator.address)
        try:
            deployment = deploy(
                conn,
                operator=operator,
                operator_entity_id=keccak(text=entity),
                sender=_ProgressSender(conn, lambda: bar.advance(task)),
            )
        except ChainError as exc:
            err.print(f"[red]deploy failed:[/red] {exc}")
            raise typer.Exit(ExitCode.FAILED) from exc
    path = out or settings.deployment_path
    deployment.save(path)
    if as_json:
        typer.echo(json.dumps(deployment.to_json(), indent=2))
        return
    console.print_json(data=deployment.to_json())
    console.print(f"written to {path}")
    if settings.profile != "rpc":
        console.print("[yellow]note: the chain is gone when this command exits[/yellow]")


def load_chain_settings(**overrides: Any) -> ChainSettings:
    """ChainSettings from the environment plus non-None `overrides`; exit 2 naming the variable
    on a bad value."""
    try:
        return ChainSettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        err.print(f"[red]bad configuration:[/red] {describe_validation_error(exc, 'SCF_CHAIN_')}")
        raise typer.Exit(ExitCode.USAGE) from exc


@app.command("walkthrough")
def walkthrough_cmd() -> None:
    """Contract-level walk-through on the embedded chain: one receivable, with gas per step."""
    from chain.demo import run_demo

    run_demo()
