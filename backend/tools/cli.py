"""`scf`: the whole command line, composed from the chain and indexer commands and the
backend's own (serve, worker, beat, member, keys, config, demo, audit).

Exit codes: 0 success; 1 the operation failed or a check found a difference (reconcile
mismatches, a wrong figure in the demo, a refusal); 2 bad usage or configuration; 3 a service
(API, node) cannot be reached; 130 interrupted."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import httpx
import typer
from rich.console import Console, ConsoleDimensions
from rich.table import Table

from backend import config as backend_config
from backend.config import (
    Config,
    ConfigError,
    EmbeddedRun,
    effective_rows,
    load_config,
)
from backend.settings import BackendSettings
from chain import cli as chain_cli
from chain.exitcodes import ExitCode
from chain.settings import Profile
from indexer import cli as indexer_cli

if TYPE_CHECKING:
    from backend.runtime import Runtime

app = typer.Typer(
    help="scf-ledger: supply-chain finance on a permissioned ledger.",
    no_args_is_help=True,
    epilog="Exit codes: 0 ok, 1 failed or differences found, 2 bad usage or configuration, "
    "3 service unreachable.",
)
app.callback()(chain_cli.main)
for info in (*chain_cli.app.registered_commands, *indexer_cli.app.registered_commands):
    if info.name != "reconcile":  # `scf reconcile` also knows the embedded profile: below
        app.registered_commands.append(info)

member_app = typer.Typer(
    help="Consortium members, through the API (operator; `activate`: the member).",
    no_args_is_help=True,
)
keys_app = typer.Typer(help="Key pairs for members that sign for themselves.", no_args_is_help=True)
config_app = typer.Typer(help="The effective configuration.", no_args_is_help=True)
audit_app = typer.Typer(
    help="Auditors' access to the ledger in SQL (PostgreSQL): docs/audit-sql.md.",
    no_args_is_help=True,
)
app.add_typer(member_app, name="member")
app.add_typer(audit_app, name="audit")
app.add_typer(keys_app, name="keys")
app.add_typer(config_app, name="config")


class Output(Console):
    """Rich output that, outside a terminal (a pipe, a file, a CI log), neither wraps nor cuts:
    every address, transaction hash and name is printed whole, a line as long as it needs.
    In a terminal, rich's own layout to the terminal's width."""

    #: A line's width outside a terminal: wider than any line the commands print.
    UNBOUNDED = 100_000

    def __init__(self, *, stderr: bool = False, width: int | None = None) -> None:
        super().__init__(stderr=stderr, width=width)
        self._fixed_width = width is not None  # rich also takes COLUMNS, a terminal's width

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        if self.is_terminal or self._fixed_width:
            return size
        return ConsoleDimensions(self.UNBOUNDED, size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size
        self._fixed_width = True


console = Output()
err = Output(stderr=True)
# `scf` composes the chain's and the indexer's commands: they print through the same consoles
chain_cli.console, chain_cli.err, indexer_cli.console = console, err, console

ApiUrl = Annotated[str, typer.Option(envvar="SCF_API_URL", help="the API's base URL")]
JsonOut = Annotated[bool, typer.Option("--json", help="machine-readable output")]


def _config(**overrides: Any) -> Config:
    try:
        return load_config(**overrides)
    except ConfigError as exc:
        err.print(f"[red]bad configuration:[/red] {exc}")
        raise typer.Exit(ExitCode.USAGE) from exc


# -- serving -----------------------------------------------------------------------------------


def exposure_warning(host: str, settings: BackendSettings) -> str | None:
    """What to say when the embedded profile (development keys, a key file beside its
    databases) would listen beyond this machine."""
    if not settings.embedded:
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        if host == "localhost":
            return None
    return (
        f"the embedded profile is for development and listens on {host}: anyone who can reach "
        "it can use the demo keys; listen on 127.0.0.1, or run the local or production profile"
    )


@app.command("serve")
def serve_cmd(
    host: Annotated[str, typer.Option(envvar="SCF_HOST", help="bind address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="SCF_PORT", help="port")] = 8000,
    seed: Annotated[
        bool, typer.Option(help="onboard a demo consortium and print its API keys")
    ] = False,
    seed_file: Annotated[
        Path | None, typer.Option(help="where the demo keys are kept between restarts")
    ] = None,
    keeper: Annotated[
        bool | None,
        typer.Option(help="run the keeper in process (default: when tasks are eager)"),
    ] = None,
    access_log: Annotated[bool, typer.Option(help="log every request")] = False,
) -> None:
    """Run the web API (settings from SCF_* variables and .env; see `scf config show`)."""
    import uvicorn

    from backend.tools.serve import DEFAULT_SEED_FILE, build_app, operator_account, print_seeded
    from backend.tools.serve import seed as seed_consortium

    config = _config()
    warning = exposure_warning(host, config.backend)
    if warning:
        err.print(f"[yellow]warning:[/yellow] {warning}")
    app_ = build_app(config, keeper=keeper)
    # the client address behind a proxy is the API's to decide (SCF_TRUSTED_PROXIES), not
    # uvicorn's, which by default believes any X-Forwarded-For sent from 127.0.0.1
    server = uvicorn.Server(
        uvicorn.Config(
            app_,
            host=host,
            port=port,
            access_log=access_log,
            log_level="info",
            proxy_headers=False,
        )
    )
    base_url = f"http://{host}:{port}"
    failure: list[BaseException] = []

    def seeder() -> None:
        while not server.started:
            if server.should_exit:
                return
            time.sleep(0.1)
        try:
            with httpx.Client(base_url=base_url, timeout=120) as http:
                seeded = seed_consortium(
                    http,
                    operator=operator_account(config),
                    base_url=base_url,
                    seed_file=seed_file or DEFAULT_SEED_FILE,
                )
            print_seeded(console, seeded)
        except Exception as exc:
            err.print(f"[red]seeding the demo consortium failed:[/red] {exc}")
            failure.append(exc)
            server.should_exit = True

    console.print(
        f"scf-ledger API ({config.backend.profile} profile, chain "
        f"{config.effective_chain.profile}) starting on {base_url}"
    )

    def recorder() -> None:
        while not server.started:
            if server.should_exit:
                return
            time.sleep(0.1)
        embedded_run(
            app_.state.runtime,
            api_url=base_url,
            seed_file=(seed_file or DEFAULT_SEED_FILE) if seed else None,
        ).save()

    if seed:
        threading.Thread(target=seeder, name="scf-seed", daemon=True).start()
    if config.backend.embedded:
        threading.Thread(target=recorder, name="scf-run-record", daemon=True).start()
    try:
        server.run()
    finally:
        _forget_run()
    if failure or not server.started:
        raise typer.Exit(ExitCode.FAILED)


def embedded_run(rt: Runtime, *, api_url: str, seed_file: Path | None) -> EmbeddedRun:
    """Where this embedded API's databases and deployment record are (its deployment record
    written beside the run record), for `scf reconcile` and `scf config show` to find."""
    deployment_path = backend_config.RUN_RECORD.with_name("embedded-deployment.json")
    rt.deployment.save(deployment_path)
    return EmbeddedRun(
        pid=os.getpid(),
        api_url=api_url,
        chain_id=rt.chain_id,
        receivables=rt.deployment.receivables.address.lower(),
        database_url=rt.engine.url.render_as_string(hide_password=True),
        mirror_database_url=rt.mirror.url.render_as_string(hide_password=True),
        deployment_path=str(deployment_path),
        seed_file=None if seed_file is None else str(seed_file),
    )


def _forget_run() -> None:
    """Remove the run record if it is this process's (its files are gone with it)."""
    run = EmbeddedRun.running()
    if run is not None and run.pid == os.getpid():
        backend_config.RUN_RECORD.unlink(missing_ok=True)
        Path(run.deployment_path).unlink(missing_ok=True)


@app.command("worker")
def worker_cmd(
    concurrency: Annotated[int, typer.Option(help="threads in the worker")] = 8,
    queues: Annotated[str, typer.Option(help="comma-separated queues")] = "celery",
) -> None:
    """Run a Celery worker for the transaction pipeline (threads share one nonce manager)."""
    from backend.worker import configure

    celery = configure(_config(task_always_eager=False).backend)
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
    from backend.worker import configure

    celery = configure(_config(task_always_eager=False).backend)
    celery.start(["beat", "--loglevel=INFO"])


# -- the demo ----------------------------------------------------------------------------------


@app.command("demo")
def demo_cmd(
    api_url: ApiUrl = "http://127.0.0.1:8000",
    start: Annotated[
        bool | None,
        typer.Option(help="start an embedded API in process (default: when none answers)"),
    ] = None,
    chain_rpc_url: Annotated[
        str | None,
        typer.Option(help="anvil JSON-RPC URL to move time on an rpc-profile chain"),
    ] = None,
    contracts_only: Annotated[
        bool, typer.Option("--contracts-only", help="the contract-level walk-through instead")
    ] = False,
) -> None:
    """The story over HTTP: invoice → confirm → split → discount → repay twice → keeper →
    every holder paid → auditor's reports. Exit 1 if any figure is wrong."""
    if contracts_only:
        chain_cli.walkthrough_cmd()
        return
    from backend.tools.demo import StoryFailed, run_story
    from backend.tools.serve import operator_account

    config = _config()
    operator = operator_account(config)
    if start is None:
        start = not _answers(api_url)
    try:
        if start:
            from fastapi.testclient import TestClient

            from backend.tools.serve import build_app

            console.print("no API answering: starting an embedded one in process")
            with TestClient(build_app(_config(profile="embedded"), keeper=False)) as http:
                run_story(http, operator=operator, console=console, chain_rpc_url=chain_rpc_url)
        else:
            with httpx.Client(base_url=api_url, timeout=120) as http:
                run_story(http, operator=operator, console=console, chain_rpc_url=chain_rpc_url)
    except StoryFailed as exc:
        err.print(f"[red]the story does not check out:[/red] {exc}")
        raise typer.Exit(ExitCode.FAILED) from exc
    except httpx.TransportError as exc:
        err.print(f"[red]cannot reach the API at {api_url}:[/red] {exc}")
        raise typer.Exit(ExitCode.UNREACHABLE) from exc


def _answers(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


# -- reconciliation ----------------------------------------------------------------------------


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
    """Compare the SQL mirror with the chain's current state. On the embedded profile (`make
    run`) the chain lives inside the API's process: the running API compares, as the demo
    consortium's auditor.

    Exit codes: 0 the mirror matches, 1 mismatches found, 2 cannot reconcile (configuration,
    unreachable ledger, no mirror, no embedded API running), 3 the API cannot be reached.
    """
    elsewhere = any(v is not None for v in (profile, rpc_url, deployment, database_url))
    if elsewhere or not _config().backend.embedded:
        indexer_cli.reconcile_cmd(
            profile=profile,
            rpc_url=rpc_url,
            deployment=deployment,
            database_url=database_url,
            block=block,
            as_json=as_json,
        )
    raise typer.Exit(_reconcile_embedded(block=block, as_json=as_json))


def _reconcile_embedded(*, block: int | None, as_json: bool) -> int:
    run = EmbeddedRun.running()
    if run is None:
        err.print(
            "cannot reconcile: the embedded profile's chain lives in the memory of the API "
            "process that `make run` (`scf serve`) starts, and none is running. Start `make run` "
            "and run this again, or reconcile a chain that persists (--profile anvil|rpc "
            "with --deployment, or SCF_PROFILE=local|production)."
        )
        return 2
    if block is not None:
        err.print(
            "cannot reconcile at --block on the embedded profile: the running API compares at "
            "its mirror's cursor; leave out --block"
        )
        return 2
    key = _auditor_key(run)
    url = f"{run.api_url}/v1/audit/reconciliation"
    if key is None:
        err.print(
            f"cannot reconcile: no auditor key for the embedded API at {run.api_url} "
            "(`scf serve --seed`, which `make run` is, records the demo consortium's keys); "
            f"ask GET {url} with an auditor's API key"
        )
        return 2
    from backend.tools.client import ApiClient

    with httpx.Client(base_url=run.api_url, timeout=120) as http:
        body = _call(lambda: ApiClient(http).get("/v1/audit/reconciliation", token=key))
    return print_reconciliation(body, as_json=as_json, source=f"the embedded API, {url}")


def _auditor_key(run: EmbeddedRun) -> str | None:
    """The demo auditor's API key, if the run's seed record belongs to its deployment."""
    if run.seed_file is None:
        return None
    try:
        seeded = json.loads(Path(run.seed_file).read_text(encoding="utf-8"))
        if (seeded["chain_id"], seeded["receivables"]) != (run.chain_id, run.receivables):
            return None
        return str(seeded["members"]["auditor"]["api_key"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def print_reconciliation(body: dict[str, Any], *, as_json: bool, source: str) -> int:
    """The API's reconciliation as `scf reconcile` prints one; 0 if the mirror matches."""
    if as_json:
        typer.echo(json.dumps(body, indent=2))
        return 0 if body["ok"] else 1
    checked = ", ".join(f"{v} {k}" for k, v in body["checked"].items())
    console.print(f"chain {body['chain_id']} at block {body['block']}: checked {checked}")
    console.print(f"(compared by {source})")
    if body["ok"]:
        console.print("[green]mirror matches the chain: 0 mismatches[/green]")
        return 0
    table = Table(title=f"{len(body['mismatches'])} mismatches")
    columns = ("kind", "key", "field", "mirror", "chain")
    for column in columns:
        table.add_column(column)
    for m in body["mismatches"]:
        table.add_row(*(str(m[c]) for c in columns))
    console.print(table)
    return 1


# -- members and keys --------------------------------------------------------------------------


def _operator_client(api_url: str, api_key: str | None, key: str | None) -> tuple[Any, str]:
    from eth_account import Account

    from backend.tools.client import ApiClient

    http = httpx.Client(base_url=api_url, timeout=120)
    client = ApiClient(http)
    if api_key:
        return client, api_key
    if key:
        return client, client.login(Account.from_key(key))
    err.print("[red]give --api-key (SCF_API_KEY) or --key (SCF_OPERATOR_KEY)[/red]")
    raise typer.Exit(ExitCode.USAGE)


ApiKey = Annotated[
    str | None, typer.Option(envvar="SCF_API_KEY", help="operator API key", show_default=False)
]
SignKey = Annotated[
    str | None,
    typer.Option(
        envvar="SCF_OPERATOR_KEY", help="operator hex key (login by signing)", show_default=False
    ),
]


def _call(fn: Any) -> Any:
    from backend.tools.client import ApiCallFailed

    try:
        return fn()
    except ApiCallFailed as exc:
        err.print(f"[red]refused:[/red] {exc}")
        code = (
            ExitCode.FAILED
            if exc.status in (409, 422)
            else ExitCode.USAGE
            if exc.status < 500
            else ExitCode.UNREACHABLE
        )
        raise typer.Exit(code) from exc
    except httpx.TransportError as exc:
        err.print(f"[red]cannot reach the API:[/red] {exc}")
        raise typer.Exit(ExitCode.UNREACHABLE) from exc


@member_app.command("add")
def member_add(
    legal_id: Annotated[str, typer.Option(help="legal entity id, e.g. the USCC")],
    role: Annotated[list[str], typer.Option(help="role (repeat): SUPPLIER, FINANCIER, ...")],
    address: Annotated[
        str | None, typer.Option(help="the member's own address (omit: custodial key)")
    ] = None,
    credit_limit: Annotated[int, typer.Option(help="core enterprises, in fen")] = 0,
    api_url: ApiUrl = "http://127.0.0.1:8000",
    api_key: ApiKey = None,
    key: SignKey = None,
    as_json: JsonOut = False,
) -> None:
    """Admit a member (waits until mined); prints its address and, if custodial, the one-time
    activation code to hand the member (`scf member activate CODE` gives it its API key)."""
    client, token = _operator_client(api_url, api_key, key)
    body: dict[str, Any] = {"legal_id": legal_id, "roles": [r.upper() for r in role]}
    if address:
        body["address"] = address
    if credit_limit:
        body["credit_limit"] = credit_limit
    created = _call(lambda: client.post("/v1/operator/members?wait=true", token=token, json=body))
    tx = created["transaction"]
    if as_json:
        typer.echo(json.dumps(created, indent=2))
    else:
        console.print(f"member {created['address']}: transaction {tx['status']} {tx['tx_hash']}")
        if created.get("activation"):
            _print_activation(created["activation"])
    if tx["status"] != "mined":
        raise typer.Exit(ExitCode.FAILED)


def _print_activation(code: dict[str, Any]) -> None:
    console.print(
        f"activation code (shown once; give it to the member, valid until {code['expires_at']}):"
    )
    console.print(code["code"], soft_wrap=True, markup=False, highlight=False)


@member_app.command("reissue")
def member_reissue(
    address: Annotated[str, typer.Argument(help="a custodial member's address")],
    api_url: ApiUrl = "http://127.0.0.1:8000",
    api_key: ApiKey = None,
    key: SignKey = None,
    as_json: JsonOut = False,
) -> None:
    """A new activation code for a custodial member that has not activated or lost its key
    (its earlier codes stop working)."""
    client, token = _operator_client(api_url, api_key, key)
    code = _call(lambda: client.post(f"/v1/operator/members/{address}/activation", token=token))
    if as_json:
        typer.echo(json.dumps(code, indent=2))
    else:
        _print_activation(code)


@member_app.command("activate")
def member_activate(
    code: Annotated[str, typer.Argument(help="the activation code the operator gave you")],
    api_url: ApiUrl = "http://127.0.0.1:8000",
    as_json: JsonOut = False,
) -> None:
    """(The member) exchange a one-time activation code for the member's own API key."""
    from backend.tools.client import ApiClient

    client = ApiClient(httpx.Client(base_url=api_url, timeout=120))
    created = _call(lambda: client.post("/v1/auth/activate", json={"code": code}))
    if as_json:
        typer.echo(json.dumps(created, indent=2))
    else:
        console.print(f"API key of {created['address']} (shown once; only a hash is kept):")
        console.print(created["key"], soft_wrap=True, markup=False, highlight=False)


@member_app.command("suspend")
def member_suspend(
    address: Annotated[
        str,
        typer.Argument(
            help="the member's address (any case; mixed case must be a correct EIP-55 checksum)"
        ),
    ],
    resume: Annotated[bool, typer.Option("--resume", help="make it active again")] = False,
    api_url: ApiUrl = "http://127.0.0.1:8000",
    api_key: ApiKey = None,
    key: SignKey = None,
    as_json: JsonOut = False,
) -> None:
    """Suspend a member (or --resume it); waits until mined."""
    client, token = _operator_client(api_url, api_key, key)
    status = "active" if resume else "suspended"
    tx = _call(
        lambda: client.put(
            f"/v1/operator/members/{address}/status?wait=true",
            token=token,
            json={"status": status},
        )
    )
    if as_json:
        typer.echo(json.dumps(tx, indent=2))
    else:
        console.print(f"{address} → {status}: transaction {tx['status']} {tx['tx_hash']}")
    if tx["status"] != "mined":
        raise typer.Exit(ExitCode.FAILED)


@member_app.command("list")
def member_list(
    api_url: ApiUrl = "http://127.0.0.1:8000",
    api_key: ApiKey = None,
    key: SignKey = None,
    as_json: JsonOut = False,
) -> None:
    """Every member with roles, status and credit (from the mirror)."""
    client, token = _operator_client(api_url, api_key, key)
    members = _call(lambda: client.get("/v1/operator/members", token=token))
    if as_json:
        typer.echo(json.dumps(members, indent=2))
        return
    table = Table(title=f"{len(members)} members", title_justify="left")
    for column in ("address", "roles", "status", "credit limit", "credit used"):
        table.add_column(column, justify="right" if column.startswith("credit") else "left")
    for m in members:
        table.add_row(
            m["address"],
            ", ".join(m["roles"]),
            m["status"],
            f"{m['credit_limit'] / 100:,.2f}",
            f"{m['credit_used'] / 100:,.2f}",
        )
    console.print(table)


@app.command("totp")
def totp(
    secret: Annotated[str, typer.Argument(help="a staff user's TOTP secret (base32)")],
) -> None:
    """The current code for a TOTP secret, as an authenticator app would show it (for the
    demo's staff users; a person uses an app)."""
    from backend.security import totp_code

    typer.echo(totp_code(secret))


@keys_app.command("new")
def keys_new(
    out: Annotated[
        Path | None, typer.Option(help="write the key to this file (mode 0600) instead of stdout")
    ] = None,
    as_json: JsonOut = False,
) -> None:
    """Generate a key pair locally (nothing is sent anywhere)."""
    from eth_account import Account

    account = Account.create()
    private_key = account.key.to_0x_hex()
    if out is not None:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(private_key + "\n")
    record = {"address": account.address, "private_key": private_key if out is None else None}
    if as_json:
        typer.echo(json.dumps(record))
        return
    console.print(f"address      {account.address}")
    if out is None:
        console.print(f"private key  {private_key}")
        console.print("[yellow]keep the private key in your vault; it is not stored[/yellow]")
    else:
        console.print(f"private key written to {out}")


# -- auditors' SQL access ----------------------------------------------------------------------


@audit_app.command("grant-sql")
def audit_grant_sql(
    role: Annotated[str, typer.Argument(help="the PostgreSQL role to create or update")],
    password: Annotated[
        str | None,
        typer.Option(
            envvar="SCF_AUDIT_SQL_PASSWORD",
            help="the role's password (default: a new role gets a random one, printed once)",
        ),
    ] = None,
    rotate_password: Annotated[
        bool, typer.Option("--rotate-password", help="give an existing role a new random one")
    ] = False,
    statement_timeout: Annotated[
        str, typer.Option(help="longest query the role may run (PostgreSQL units: 30s, 5min)")
    ] = "5min",
    database_url: Annotated[
        str | None,
        typer.Option(help="the database (default SCF_DATABASE_URL), as the migrating role"),
    ] = None,
    as_json: JsonOut = False,
) -> None:
    """Create (or update) a read-only LOGIN role that may SELECT the views of schema `audit`
    and nothing else: no table of the backend or the mirror, no write, no CREATE anywhere.

    Exit codes: 0 granted, 1 refused (the role exists with other rights), 2 bad usage, no audit
    views in that database (not PostgreSQL, or not migrated), 3 the database cannot be reached.
    """
    from sqlalchemy.exc import DBAPIError, OperationalError

    from backend.audit_sql.roles import grant_reader
    from backend.db import make_engine
    from backend.errors import Conflict, DomainError

    url = database_url or _config().backend.database_url
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            granted = grant_reader(
                conn,
                role=role,
                password=password,
                rotate_password=rotate_password,
                statement_timeout=statement_timeout,
            )
    except OperationalError as exc:
        err.print(f"[red]cannot reach the database:[/red] {exc.orig}")
        raise typer.Exit(ExitCode.UNREACHABLE) from exc
    except DBAPIError as exc:  # e.g. the role running this may not create roles
        err.print(f"[red]the database refused:[/red] {exc.orig}")
        raise typer.Exit(ExitCode.FAILED) from exc
    except DomainError as exc:
        err.print(f"[red]refused:[/red] {exc.message}")
        raise typer.Exit(ExitCode.FAILED if isinstance(exc, Conflict) else ExitCode.USAGE) from exc
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps(dataclasses.asdict(granted)))
        return
    verb = "created" if granted.created else "updated"
    console.print(
        f"role {granted.role} {verb}: SELECT on the audit views (version {granted.version},"
        f" owned by {granted.views_owner}), statement timeout {statement_timeout}"
    )
    if granted.password is not None:
        console.print(f"password (shown once): {granted.password}")
    else:
        console.print("password unchanged")


# -- configuration -----------------------------------------------------------------------------


@config_app.command("show")
def config_show(as_json: JsonOut = False) -> None:
    """The effective configuration (environment, .env, defaults); secrets masked."""
    rows = effective_rows(_config(), EmbeddedRun.running())
    if as_json:
        typer.echo(json.dumps({r["variable"]: r["value"] for r in rows}, indent=2))
        return
    table = Table(title="effective configuration", title_justify="left")
    for column in ("variable", "value", "source"):
        table.add_column(column, overflow="fold")
    for r in rows:
        style = "bold" if r["source"] != "default" else None
        table.add_row(r["variable"], r["value"], r["source"], style=style)
    console.print(table)


# -- the action log ----------------------------------------------------------------------------


@audit_app.command("verify-log")
def audit_verify_log(
    api_url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help="ask this running API to check (GET /v1/audit/action-log/verify) instead of "
            "reading the database and the ledger here; the embedded profile's default is the "
            "API `make run` started",
            show_default=False,
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="SCF_API_KEY",
            help="an auditor's or regulator's API key, for the API (default on the embedded "
            "profile: the demo auditor's, from `make run`'s seed record)",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Check the off-chain action log: every entry's hash, every link to the one before, no gap
    in its sequence, and every anchor of its head that the ledger holds (read from the chain
    itself). Attaches to the configured deployment (SCF_PROFILE=local|production); on the
    embedded profile, whose chain lives in the memory of the API's process, or with --url,
    the running API checks and this prints its report.

    Exit codes: 0 intact, 1 a break (the first broken entry is named), 2 cannot check (a
    missing deployment; embedded with no API running or no auditor key; a key refused), 3 the
    ledger, the database or the API cannot be reached."""
    settings = BackendSettings()
    if api_url is not None or settings.embedded:
        raise typer.Exit(_verify_log_through_api(api_url, api_key, as_json=as_json))
    from sqlmodel import Session

    from backend.runtime import build_runtime
    from backend.services import action_log
    from chain.errors import ChainError

    try:
        rt = build_runtime(settings.model_copy(update={"deploy": False, "run_indexer": False}))
    except ChainError as exc:
        err.print(f"cannot reach the ledger: {exc}")
        raise typer.Exit(ExitCode.UNREACHABLE) from exc
    try:
        with Session(rt.engine) as session:
            report = action_log.verify_with_ledger(rt, session).as_dict()
    finally:
        rt.close()
    raise typer.Exit(print_log_report(report, as_json=as_json, source=None))


def _verify_log_through_api(api_url: str | None, api_key: str | None, *, as_json: bool) -> int:
    path = "/v1/audit/action-log/verify"
    if api_url is None:  # the embedded profile: the API `make run` started, if one runs
        run = EmbeddedRun.running()
        if run is None:
            err.print(
                "cannot verify the log: the embedded profile's chain lives in the memory of the "
                "API process that `make run` (`scf serve`) starts, and none is running. Start "
                "`make run` and run this again, give --url of a running API, or verify a "
                "deployment that persists (SCF_PROFILE=local|production)."
            )
            return ExitCode.USAGE
        api_url = run.api_url
        api_key = api_key or _auditor_key(run)
    if api_key is None:
        err.print(
            f"cannot verify the log through {api_url}: give an auditor's or regulator's API key "
            f"(--api-key, SCF_API_KEY) for GET {path}"
        )
        return ExitCode.USAGE
    from backend.tools.client import ApiClient

    token = api_key
    with httpx.Client(base_url=api_url, timeout=300) as http:
        body = _call(lambda: ApiClient(http).get(path, token=token))
    return print_log_report(body, as_json=as_json, source=f"{api_url}{path}")


def print_log_report(report: dict[str, Any], *, as_json: bool, source: str | None) -> int:
    """An action-log check as `scf audit verify-log` prints it; 0 if the log is intact."""
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        console.print(
            f"{report['entries']} entries (to seq {report['last_seq']}), "
            f"{report['anchors_checked']} anchors checked against the ledger"
        )
        if source is not None:
            console.print(f"(checked by the API, {source})")
        for problem in report["problems"]:
            err.print(f"BROKEN: {problem}")
        console.print("intact" if report["ok"] else f"first break: {report['first_break']}")
    return ExitCode.OK if report["ok"] else ExitCode.FAILED
