"""Fixtures for the API: an embedded app (eth-tester, SQLite, eager tasks) with a consortium
onboarded through HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from backend.api.app import create_app
from backend.api.routes import ops
from backend.runtime import Runtime
from backend.security import sign_message
from backend.settings import BackendSettings
from backend.tools.client import demo_profile, invoice_body
from chain.connection import dev_account
from chain.settings import ChainSettings

YUAN = 100
CREDIT = 10_000_000 * YUAN
CASH = 5_000_000 * YUAN

# name -> (roles, credit limit, starting cash). Every member is custodial (server-held key; its
# one-time activation code exchanged for an API key) except `auditor`, which holds its own key
# and logs in by signing a challenge.
CONSORTIUM: dict[str, tuple[list[str], int, int]] = {
    "core": (["CORE_ENTERPRISE"], CREDIT, CASH),
    "tier1": (["SUPPLIER"], 0, 0),
    "tier2": (["SUPPLIER"], 0, 0),
    "bank": (["FINANCIER"], 0, CASH),
    "regulator": (["REGULATOR"], 0, 0),
    "auditor": (["AUDITOR"], 0, 0),
}


@dataclass
class Api:
    """An HTTP client per member (bearer token or API key), and the runtime underneath."""

    client: TestClient
    rt: Runtime
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    addresses: dict[str, str] = field(default_factory=dict)

    def as_(self, who: str) -> _As:
        return _As(self, self.headers[who])

    def login(self, account: LocalAccount) -> str:
        ch = self.client.post("/v1/auth/challenge", json={"address": account.address})
        assert ch.status_code == 200, ch.text
        body = ch.json()
        resp = self.client.post(
            "/v1/auth/login",
            json={
                "challenge_id": body["challenge_id"],
                "signature": sign_message(account, body["message"]),
            },
        )
        assert resp.status_code == 200, resp.text
        return str(resp.json()["access_token"])

    def activate(self, created: dict[str, Any]) -> str:
        """The API key a custodial member gets for the activation code of its onboarding."""
        code = created["activation"]["code"]
        resp = self.client.post("/v1/auth/activate", json={"code": code})
        assert resp.status_code == 201, resp.text
        return str(resp.json()["key"])


@dataclass
class _As:
    api: Api
    headers: dict[str, str]

    def get(self, url: str, **kw: Any) -> Any:
        return self.api.client.get(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def post(self, url: str, json: Any = None, **kw: Any) -> Any:
        return self.api.client.post(
            url, json=json, headers={**self.headers, **kw.pop("headers", {})}, **kw
        )

    def put(self, url: str, json: Any = None, **kw: Any) -> Any:
        return self.api.client.put(
            url, json=json, headers={**self.headers, **kw.pop("headers", {})}, **kw
        )

    def patch(self, url: str, json: Any = None, **kw: Any) -> Any:
        return self.api.client.patch(
            url, json=json, headers={**self.headers, **kw.pop("headers", {})}, **kw
        )

    def delete(self, url: str, **kw: Any) -> Any:
        return self.api.client.delete(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)


def invoice(seller: str, buyer: str, number: str, amount: int, *, days: int = 90) -> dict[str, Any]:
    return invoice_body(seller, buyer, number, amount, days=days)


def make_api(
    settings: BackendSettings | None = None,
    chain_settings: ChainSettings | None = None,
    *,
    operator: LocalAccount | None = None,
    with_ops: bool = False,
    with_console: bool = False,
    strip: tuple[type, ...] = (),
) -> Iterator[Api]:
    """`with_ops`: also serve /v1/ops, as `scf serve` does; `with_console`: also the web
    console at /console; `strip`: middleware classes left out
    (a benchmark's baseline)."""
    settings = settings or BackendSettings(profile="embedded", wait_timeout_seconds=30)
    app = create_app(settings, chain_settings=chain_settings)
    app.user_middleware = [m for m in app.user_middleware if m.cls not in strip]
    if with_ops:
        app.include_router(ops.router)
    if with_console:
        from backend import console

        console.mount(app)
    with TestClient(app) as client:
        rt: Runtime = app.state.runtime
        api = Api(client, rt)
        operator = operator or dev_account(0)  # the embedded profile's operator
        api.headers["operator"] = {"Authorization": f"Bearer {api.login(operator)}"}
        api.addresses["operator"] = operator.address
        own_key = dev_account(1)
        if rt.conn.profile != "rpc":
            rt.conn.fund(own_key.address)
        op = api.as_("operator")
        for name, (roles, credit, cash) in CONSORTIUM.items():
            body: dict[str, Any] = {
                "legal_id": f"USCC-{name}",
                "roles": roles,
                "profile": demo_profile(name),
            }
            if credit:
                body["credit_limit"] = credit
            if name == "auditor":
                body["address"] = own_key.address
            resp = op.post("/v1/operator/members?wait=true", json=body)
            assert resp.status_code == 202, resp.text
            created = resp.json()
            api.addresses[name] = created["address"]
            if created["activation"]:
                api.headers[name] = {"Authorization": f"Bearer {api.activate(created)}"}
            if cash:
                r = op.post(
                    "/v1/operator/cash/mint?wait=true",
                    json={"account": created["address"], "amount": cash},
                )
                assert r.status_code == 202, r.text
        api.headers["auditor"] = {"Authorization": f"Bearer {api.login(own_key)}"}
        yield api


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    """One embedded deployment per test module (building it costs a few seconds)."""
    yield from make_api()


@pytest.fixture
def fresh_api() -> Iterator[Api]:
    yield from make_api()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 API for the document store (moto's server, in a thread, on a free port)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def s3_settings(endpoint: str, **overrides: Any) -> BackendSettings:
    """Embedded settings whose document store is a new bucket of the S3 API at `endpoint`."""
    import uuid

    import boto3
    from pydantic import SecretStr

    bucket = f"scf-{uuid.uuid4().hex[:12]}"
    credentials = {"aws_access_key_id": "scf-test", "aws_secret_access_key": "scf-test-secret"}
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **credentials).create_bucket(
        Bucket=bucket
    )
    return BackendSettings(
        profile="embedded",
        wait_timeout_seconds=30,
        document_store="s3",
        s3_bucket=bucket,
        s3_endpoint_url=endpoint,
        s3_access_key_id=SecretStr(credentials["aws_access_key_id"]),
        s3_secret_access_key=SecretStr(credentials["aws_secret_access_key"]),
        **overrides,
    )
