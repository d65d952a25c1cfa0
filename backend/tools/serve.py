"""`scf serve`: the API with the ops routes, an in-process keeper where no Celery beat runs
(eager tasks), and a demo consortium seeded at start-up whose API keys are printed."""

from __future__ import annotations

import json
import logging
import secrets
import shlex
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi import FastAPI
from rich.console import Console
from rich.table import Table

from backend.api.app import create_app
from backend.api.routes import ops
from backend.config import Config
from backend.console import mount as mount_console
from backend.keeper import KeeperThread
from backend.tools.client import ApiCallFailed, ApiClient, demo_profile, demo_staff, mined
from chain.connection import dev_account
from chain.settings import REPO_ROOT

log = logging.getLogger(__name__)
DEFAULT_SEED_FILE = REPO_ROOT / "var" / "seed.json"
YUAN = 100

# name -> (label, roles, credit limit, starting cash)
SEED: dict[str, tuple[str, list[str], int, int]] = {
    "core": ("core enterprise", ["CORE_ENTERPRISE"], 50_000_000 * YUAN, 20_000_000 * YUAN),
    "tier1": ("tier-1 supplier", ["SUPPLIER"], 0, 0),
    "tier2": ("tier-2 supplier", ["SUPPLIER"], 0, 0),
    "bank": ("bank", ["FINANCIER"], 0, 30_000_000 * YUAN),
    "regulator": ("regulator", ["REGULATOR"], 0, 0),
    "auditor": ("auditor", ["AUDITOR"], 0, 0),
}


def build_app(config: Config, *, keeper: bool | None = None) -> FastAPI:
    """The API of `create_app` plus /v1/ops, the web console at /console and, when asked
    (default: eager tasks, i.e. no beat), a keeper thread on the configured schedule."""
    chain_settings = None if config.backend.embedded else config.chain
    app = create_app(config.backend, chain_settings=chain_settings, indexer_settings=config.indexer)
    app.include_router(ops.router)
    mount_console(app)
    run_keeper = config.backend.eager if keeper is None else keeper
    if run_keeper:
        inner = app.router.lifespan_context

        @asynccontextmanager
        async def lifespan(app_: FastAPI) -> AsyncIterator[Any]:
            async with inner(app_) as state:
                keeper_thread = KeeperThread(app_.state.runtime)
                keeper_thread.start()
                try:
                    yield state
                finally:
                    keeper_thread.stop()

        app.router.lifespan_context = lifespan
    return app


# -- the demo consortium -----------------------------------------------------------------------


@dataclass
class Seeded:
    base_url: str
    chain_id: int
    receivables: str
    members: dict[str, dict[str, str]]  # name -> {label, address, api_key}
    invoice_number: str
    #: the core enterprise's people: role -> {login, display_name, password, totp_secret}
    staff: dict[str, dict[str, str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "receivables": self.receivables,
            "members": self.members,
            "invoice_number": self.invoice_number,
            "staff": self.staff,
        }


def operator_account(config: Config) -> LocalAccount:
    if config.backend.operator_key is not None:
        account: LocalAccount = Account.from_key(config.backend.operator_key.get_secret_value())
        return account
    return dev_account(0)


def seed(
    http: httpx.Client, *, operator: LocalAccount, base_url: str, seed_file: Path | None
) -> Seeded:
    """Onboard the demo consortium, or reuse the one recorded in `seed_file` if it belongs to
    this deployment and its keys still work."""
    api = ApiClient(http)
    token = api.login(operator)
    chain = _deployment_of(api, token)
    if seed_file is not None and seed_file.exists():
        known = json.loads(seed_file.read_text())
        if (known.get("chain_id"), known.get("receivables")) == (
            chain["chain_id"],
            chain["receivables"],
        ):
            try:
                for member in known["members"].values():
                    api.get("/v1/me", token=member["api_key"], expect=(200,))
                return Seeded(base_url=base_url, **known)
            except ApiCallFailed:
                log.info("recorded demo keys no longer work; seeding again")
    members: dict[str, dict[str, str]] = {}
    op_key = api.post("/v1/auth/api-keys", token=token, json={"name": "demo operator"})
    members["operator"] = {
        "label": "operator",
        "address": operator.address,
        "api_key": op_key["key"],
    }
    run = secrets.token_hex(2).upper()
    for name, (label, roles, credit, cash) in SEED.items():
        body: dict[str, Any] = {
            "legal_id": f"SEED-{run}-{name}",
            "roles": roles,
            "profile": demo_profile(name),
        }
        if credit:
            body["credit_limit"] = credit
        created = api.post("/v1/operator/members?wait=true", token=token, json=body)
        mined(created["transaction"])
        if cash:
            mined(
                api.post(
                    "/v1/operator/cash/mint?wait=true",
                    token=token,
                    json={"account": created["address"], "amount": cash},
                )
            )
        # the demo members activate at once: the seed plays each of them
        activated = api.post("/v1/auth/activate", json={"code": created["activation"]["code"]})
        members[name] = {"label": label, "address": created["address"], "api_key": activated["key"]}
    api.tokens["operator"] = token
    staff = demo_staff(
        api,
        member=members["core"]["address"],
        prefix="core",
        operator="operator",
        password=lambda: secrets.token_urlsafe(12),
    )
    seeded = Seeded(
        base_url=base_url,
        chain_id=chain["chain_id"],
        receivables=chain["receivables"],
        members=members,
        invoice_number=f"INV-TRY-{run}",
        staff=staff,
    )
    if seed_file is not None:
        seed_file.parent.mkdir(parents=True, exist_ok=True)
        seed_file.touch(mode=0o600)
        seed_file.write_text(json.dumps(seeded.to_json(), indent=2))
    return seeded


def _deployment_of(api: ApiClient, token: str) -> dict[str, Any]:
    """Chain id and Receivables address: what identifies the deployment the keys belong to."""
    info = api.get("/v1/ops/chain", token=token)
    return {"chain_id": int(info["chain_id"]), "receivables": str(info["receivables"]).lower()}


def curl_lines(seeded: Seeded) -> list[str]:
    """Three commands to try: who am I, the core enterprise's credit, register an invoice."""
    m, url = seeded.members, seeded.base_url
    today = datetime.now(UTC).date()
    invoice = {
        "number": seeded.invoice_number,
        "seller": m["tier1"]["address"],
        "buyer": m["core"]["address"],
        "amount": 25_000_000,
        "issue_date": today.isoformat(),
        "due_date": (today + timedelta(days=90)).isoformat(),
    }

    def auth(name: str) -> str:
        return shlex.quote(f"Authorization: Bearer {m[name]['api_key']}")

    return [
        f"curl -s {url}/v1/me -H {auth('tier1')}",
        f"curl -s {url}/v1/payables/credit -H {auth('core')}",
        f"curl -s -X POST {shlex.quote(url + '/v1/invoices?wait=true')} -H {auth('tier1')} "
        f"-H 'Content-Type: application/json' -d {shlex.quote(json.dumps(invoice))}",
    ]


def print_seeded(console: Console, seeded: Seeded) -> None:
    if not console.is_terminal:
        console = Console(file=console.file, width=200)  # keys and addresses on one line
    table = Table(title=f"demo consortium on chain {seeded.chain_id}", title_justify="left")
    for column in ("member", "address", "API key"):
        table.add_column(column, no_wrap=True)
    for member in seeded.members.values():
        table.add_row(member["label"], member["address"], member["api_key"])
    console.print(table)
    console.print("Try (amounts are in fen, 1 yuan = 100):")
    for line in curl_lines(seeded):
        # soft_wrap: a copy-pasted command must be one line
        console.print(line, soft_wrap=True, markup=False, highlight=False)
    if seeded.staff:
        people = Table(
            title="the core enterprise's people (default policy: a confirmation or repayment "
            "waits for a second person's approval)",
            title_justify="left",
        )
        for column in ("person", "login", "password", "TOTP secret (scf totp SECRET: code)"):
            people.add_column(column, no_wrap=True)
        for person in seeded.staff.values():
            people.add_row(
                person["display_name"], person["login"], person["password"], person["totp_secret"]
            )
        console.print(people)
    console.print(f"API docs: {seeded.base_url}/docs")
    console.print(f"Web console: {seeded.base_url}/console (log in with an API key above)")
    if seeded.staff:
        # the seed's own logins used the codes of the moment it ran: each is good once
        console.print(
            "  or as one of the core enterprise's people: staff login with the login, the "
            "password and the code `scf totp SECRET` prints (a code is good once: wait for "
            "the next one if the console says it was used)",
            soft_wrap=True,
            markup=False,
            highlight=False,
        )
    operator_key = seeded.members["operator"]["api_key"]
    console.print(f"export SCF_API_URL={seeded.base_url} SCF_API_KEY={operator_key}  # scf member")
    console.file.flush()
