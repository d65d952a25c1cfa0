"""`scf index` and `scf reconcile`: the typer commands (composed into the full CLI by
`backend.tools.cli`) and their implementations."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from chain.connection import ChainConnection, connect
from chain.deploy import Deployment
from chain.errors import ChainError
from chain.exitcodes import ExitCode
from chain.settings import ChainSettings, Profile, describe_validation_error
from indexer.db import make_engine, upgrade
from indexer.errors import IndexerError
from indexer.logs import configure
from indexer.reconcile import reconcile
from indexer.runner import BatchReport, Indexer
from indexer.settings import IndexerSettings

log = logging.getLogger(__name__)


app = typer.Typer(help="scf-ledger indexer tools.", no_args_is_help=True)
console = Console()


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
    """Mirror every ledger event into SQL: follow the chain, or backfill with --to-block.

    Exit codes: 0 done, 1 the indexer stopped, 2 bad configuration, 3 the ledger does not
    answer, 130 interrupted.
    """
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
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Compare the SQL mirror with the chain's current state.

    Exit codes: 0 the mirror matches, 1 mismatches found, 2 cannot reconcile (configuration,
    no mirror), 3 the ledger does not answer.
    """
    code = run_reconcile(
        console=console,
        chain_overrides=_chain_overrides(profile, rpc_url),
        deployment_path=deployment,
        database_url=database_url,
        block=block,
        as_json=as_json,
    )
    raise typer.Exit(code)


class _BadSettings(Exception):
    pass


def _indexer_settings(database_url: str | None) -> IndexerSettings:
    try:
        if database_url:
            return IndexerSettings(database_url=database_url)
        return IndexerSettings()
    except ValidationError as exc:
        raise _BadSettings(describe_validation_error(exc, "SCF_INDEXER_")) from exc


def _open(
    chain_overrides: dict[str, object], deployment_path: Path | None
) -> tuple[ChainConnection, Deployment]:
    try:
        chain_settings = ChainSettings(**chain_overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise _BadSettings(describe_validation_error(exc, "SCF_CHAIN_")) from exc
    try:
        deployment = Deployment.load(deployment_path or chain_settings.deployment_path)
    except ChainError as exc:  # no record: the configuration names the wrong place
        raise _BadSettings(str(exc)) from exc
    return connect(chain_settings), deployment


def run_index(
    *,
    console: Console,
    to_block: int | None,
    chain_overrides: dict[str, object],
    deployment_path: Path | None,
    database_url: str | None,
    json_logs: bool,
    progress: bool,
) -> int:
    """Backfill to `to_block` and stop, or follow the chain until interrupted."""
    configure(json_lines=json_logs)
    try:
        settings = _indexer_settings(database_url)
        conn, deployment = _open(chain_overrides, deployment_path)
    except _BadSettings as exc:
        console.print(f"[red]bad configuration:[/red] {exc}")
        return ExitCode.USAGE
    except ChainError as exc:
        console.print(f"[red]cannot reach the ledger:[/red] {exc}")
        return ExitCode.UNREACHABLE
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        indexer = Indexer(w3=conn.w3, deployment=deployment, engine=engine, settings=settings)
        state = indexer.attach()
        log.info(
            "indexer attached",
            extra={"chain_id": state.chain_id, "cursor": state.cursor_block},
        )
        try:
            if progress and (console.is_terminal or to_block is not None):
                _with_progress(console, indexer, to_block)
            if to_block is None or indexer.cursor < to_block:
                indexer.follow(to_block=to_block, on_batch=_log_batch)
        finally:
            indexer.close()
    except IndexerError as exc:
        console.print(f"[red]indexer stopped:[/red] {exc}")
        return ExitCode.FAILED
    except KeyboardInterrupt:
        console.print("interrupted")
        return ExitCode.INTERRUPTED
    finally:
        conn.close()
        engine.dispose()
    return ExitCode.OK


def _log_batch(report: BatchReport) -> None:
    log.info(
        "batch",
        extra={
            "from_block": report.from_block,
            "to_block": report.to_block,
            "events": report.events,
            "fetch_s": round(report.fetch_seconds, 3),
            "store_s": round(report.store_seconds, 3),
        },
    )


def _with_progress(console: Console, indexer: Indexer, to_block: int | None) -> None:
    """Backfill up to `to_block` (or the current head) with a progress bar and events/s."""
    start = indexer.cursor
    total_events = 0
    t0 = time.perf_counter()
    columns = (
        TextColumn("[bold]indexing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("blocks  {task.fields[events]} events  {task.fields[rate]:,.0f} ev/s"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("index", total=None, events=0, rate=0.0)

        def on_batch(report: BatchReport) -> None:
            nonlocal total_events
            total_events += report.events
            elapsed = max(time.perf_counter() - t0, 1e-9)
            bar.update(
                task,
                completed=report.to_block - start,
                total=max(report.target_block - start, 1),
                events=total_events,
                rate=total_events / elapsed,
            )
            _log_batch(report)

        indexer.sync(to_block, on_batch=on_batch)
    elapsed = time.perf_counter() - t0
    console.print(
        f"indexed {total_events} events up to block {indexer.cursor} in {elapsed:.1f}s "
        f"({total_events / max(elapsed, 1e-9):,.0f} events/s)"
    )


def run_reconcile(
    *,
    console: Console,
    chain_overrides: dict[str, object],
    deployment_path: Path | None,
    database_url: str | None,
    block: int | None,
    as_json: bool = False,
) -> int:
    """Print mismatches between the mirror and the chain; non-zero exit when any."""
    try:
        settings = _indexer_settings(database_url)
        conn, deployment = _open(chain_overrides, deployment_path)
    except _BadSettings as exc:
        console.print(f"[red]bad configuration:[/red] {exc}")
        return ExitCode.USAGE
    except ChainError as exc:
        console.print(f"[red]cannot reach the ledger:[/red] {exc}")
        return ExitCode.UNREACHABLE
    engine = make_engine(settings.database_url)
    try:
        with console.status("reconciling the mirror with the chain", spinner="dots"):
            report = reconcile(w3=conn.w3, engine=engine, deployment=deployment, block=block)
    except IndexerError as exc:
        console.print(f"[red]reconcile failed:[/red] {exc}")
        return ExitCode.USAGE
    finally:
        conn.close()
        engine.dispose()
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
        return ExitCode.OK if report.ok else ExitCode.FAILED
    checked = ", ".join(f"{v} {k}" for k, v in report.checked.items())
    console.print(f"chain {report.chain_id} at block {report.block}: checked {checked}")
    if report.ok:
        console.print("[green]mirror matches the chain: 0 mismatches[/green]")
        return ExitCode.OK
    table = Table(title=f"{len(report.mismatches)} mismatches")
    for col in ("kind", "key", "field", "mirror", "chain"):
        table.add_column(col)
    for m in report.mismatches:
        table.add_row(m.kind, m.key, m.field, str(m.mirror), str(m.chain))
    console.print(table)
    return ExitCode.FAILED
