"""`scf` command line: compile, deploy, demo."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from eth_utils.crypto import keccak
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

    settings = ChainSettings(profile=profile) if profile else ChainSettings()
    if operator_key is None and settings.profile == "rpc":
        console.print("[red]--operator-key (or SCF_OPERATOR_KEY) is required for rpc[/red]")
        raise typer.Exit(2)
    operator = Account.from_key(operator_key) if operator_key else dev_account(0)
    with connect(settings) as conn:
        if operator_key is None:
            conn.fund(operator.address)
        try:
            deployment = deploy(conn, operator=operator, operator_entity_id=keccak(text=entity))
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


def _chain_overrides(profile: Profile | None, rpc_url: str | None) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    if profile:
        overrides["profile"] = profile
    if rpc_url:
        overrides["rpc_url"] = rpc_url
    return overrides


@app.command("index")
def index_cmd(
    to_block: Annotated[
        int | None, typer.Option("--to-block", help="backfill up to this block and stop")
    ] = None,
    profile: Annotated[Profile | None, typer.Option(help="tester|anvil|rpc")] = None,
    rpc_url: Annotated[str | None, typer.Option(help="JSON-RPC URL (rpc profile)")] = None,
    deployment: Annotated[Path | None, typer.Option(help="deployment record path")] = None,
    database_url: Annotated[
        str | None, typer.Option(help="mirror database URL (default SCF_INDEXER_DATABASE_URL)")
    ] = None,
    json_logs: Annotated[bool, typer.Option("--json-logs", help="one JSON object per log")] = False,
    progress: Annotated[bool, typer.Option(help="progress bar while backfilling")] = True,
) -> None:
    """Mirror every ledger event into SQL: follow the chain, or backfill with --to-block."""
    from indexer.cli import run_index

    code = run_index(
        console=console,
        to_block=to_block,
        chain_overrides=_chain_overrides(profile, rpc_url),
        deployment_path=deployment,
        database_url=database_url,
        json_logs=json_logs,
        progress=progress,
    )
    raise typer.Exit(code)


@app.command("reconcile")
def reconcile_cmd(
    profile: Annotated[Profile | None, typer.Option(help="tester|anvil|rpc")] = None,
    rpc_url: Annotated[str | None, typer.Option(help="JSON-RPC URL (rpc profile)")] = None,
    deployment: Annotated[Path | None, typer.Option(help="deployment record path")] = None,
    database_url: Annotated[str | None, typer.Option(help="mirror database URL")] = None,
    block: Annotated[
        int | None, typer.Option(help="compare at this block (default: the mirror's cursor)")
    ] = None,
) -> None:
    """Compare the SQL mirror with the chain's current state; exit 1 on any mismatch."""
    from indexer.cli import run_reconcile

    code = run_reconcile(
        console=console,
        chain_overrides=_chain_overrides(profile, rpc_url),
        deployment_path=deployment,
        database_url=database_url,
        block=block,
    )
    raise typer.Exit(code)


@app.command("serve")
def serve_cmd(
    host: Annotated[str, typer.Option(help="bind address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8000,
) -> None:
    """Run the web API (settings from SCF_* environment variables)."""
    import uvicorn

    from backend.app import create_app

    uvicorn.run(create_app(), host=host, port=port)


@app.command("worker")
def worker_cmd(
    concurrency: Annotated[int, typer.Option(help="threads in the worker")] = 8,
    queues: Annotated[str, typer.Option(help="comma-separated queues")] = "celery",
) -> None:
    """Run a Celery worker for the transaction pipeline (threads share one nonce manager)."""
    from backend.pipeline import configure_celery
    from backend.settings import BackendSettings

    celery = configure_celery(BackendSettings(task_always_eager=False))
    celery.worker_main(
        [
            "worker",
            "--pool=threads",
            f"--concurrency={concurrency}",
            f"--queues={queues}",
            "--loglevel=INFO",
        ]
    )


@app.command("beat")
def beat_cmd() -> None:
    """Run Celery beat: the keeper's schedule (settle, mark overdue, reconcile, recover)."""
    from backend.pipeline import configure_celery
    from backend.settings import BackendSettings

    celery = configure_celery(BackendSettings(task_always_eager=False))
    celery.start(["beat", "--loglevel=INFO"])
