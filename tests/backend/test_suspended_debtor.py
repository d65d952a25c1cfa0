"""A suspended debtor takes on no new debt but can always repay what it owes (issue 13): the
ledger checks only that the caller is the debtor, and the API lets it through to the same."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from backend.models import TxRequest, TxStatus
from backend.txn.signed import expire_unsigned
from chain.connection import dev_account
from tests.backend.conftest import CASH, CREDIT, Api, invoice, make_api

OWN_CORE_INDEX = 6  # a dev key no other fixture uses
FACE = 10_000
REPAID = 10  # the field of the contract's Root struct


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    """The consortium plus `owncore`: a core enterprise that holds its own key."""
    for built in make_api():
        own = dev_account(OWN_CORE_INDEX)
        built.rt.conn.fund(own.address)
        op = built.as_("operator")
        r = op.post(
            "/v1/operator/members?wait=true",
            json={
                "legal_id": "USCC-own-core",
                "roles": ["CORE_ENTERPRISE"],
                "address": own.address,
                "credit_limit": CREDIT,
            },
        )
        assert r.status_code == 202 and r.json()["custodial"] is False, r.text
        r = op.post(
            "/v1/operator/cash/mint?wait=true", json={"account": own.address, "amount": CASH}
        )
        assert r.status_code == 202, r.text
        built.addresses["owncore"] = own.address
        yield built


def _suspend(api: Api, who: str) -> None:
    r = api.as_("operator").put(
        f"/v1/operator/members/{api.addresses[who]}/status?wait=true", json={"status": "suspended"}
    )
    assert r.status_code == 202 and r.json()["status"] == "mined", r.text


def _outstanding(api: Api, headers: dict[str, str], root_id: int) -> dict[str, Any]:
    r = api.client.get("/v1/payables?status=outstanding", headers=headers)
    assert r.status_code == 200, r.text
    (root,) = [p for p in r.json() if p["root_id"] == root_id]
    return dict(root)


def _expire_unsigned(api: Api) -> None:
    with api.rt.engine.begin() as conn:
        conn.execute(
            update(TxRequest)
            .where(TxRequest.status == TxStatus.AWAITING_SIGNATURE)  # type: ignore[arg-type]
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    expire_unsigned(api.rt)


def _repaid_on_chain(api: Api, root_id: int) -> int:
    root = api.rt.contracts.receivables.functions.rootOf(root_id).call()
    return int(root[REPAID])


def test_a_suspended_custodial_debtor_sees_and_repays_what_it_owes(api: Api) -> None:
    a = api.addresses
    made = api.as_("tier1").post(
        "/v1/invoices?wait=true", json=invoice(a["tier1"], a["core"], "SUSP-1", FACE)
    )
    assert made.status_code == 202, made.text
    root_id = made.json()["invoice"]["root_id"]
    confirmed = api.as_("core").post(f"/v1/payables/{root_id}/confirm?wait=true")
    assert confirmed.json()["status"] == "mined", confirmed.text
    _suspend(api, "core")
    core = api.headers["core"]

    # no new debt, nothing else
    r = api.as_("core").post("/v1/payables", json=invoice(a["tier1"], a["core"], "SUSP-2", FACE))
    assert r.status_code == 403 and r.json()["code"] == "MemberSuspended"
    assert api.as_("core").get("/v1/pieces").json()["code"] == "MemberSuspended"

    # what it owes, it sees and repays, in two instalments
    assert _outstanding(api, core, root_id)["outstanding"] == FACE
    credit = api.as_("core").get("/v1/payables/credit")
    assert credit.status_code == 200 and credit.json()["outstanding_payables"] >= FACE
    first = api.as_("core").post(f"/v1/payables/{root_id}/repay?wait=true", json={"amount": 4_000})
    assert first.status_code == 202, first.text
    assert first.json()["status"] == "mined" and first.json()["visible_in_mirror"] is True
    followed = api.as_("core").get(f"/v1/transactions/{first.json()['id']}")
    assert followed.status_code == 200 and followed.json()["status"] == "mined"
    rest = api.as_("core").post(f"/v1/payables/{root_id}/repay?wait=true", json={})
    assert rest.status_code == 202 and rest.json()["status"] == "mined", rest.text
    assert _repaid_on_chain(api, root_id) == FACE
    assert _outstanding(api, core, root_id)["outstanding"] == 0  # repaid in full
    # the predicted refusals still hold for a suspended debtor
    again = api.as_("core").post(f"/v1/payables/{root_id}/repay", json={"amount": 1})
    assert again.status_code == 409


def test_a_suspended_debtor_holding_its_own_key_logs_in_and_signs_its_repayment(
    api: Api,
) -> None:
    a, own = api.addresses, dev_account(OWN_CORE_INDEX)
    headers = {"Authorization": f"Bearer {api.login(own)}"}
    issued = api.client.post(
        "/v1/payables", json=invoice(a["tier1"], a["owncore"], "SUSP-OWN-1", FACE), headers=headers
    )
    assert issued.status_code == 202, issued.text
    tx = issued.json()["transaction"]
    signed = own.sign_transaction(tx["unsigned_tx"]).raw_transaction.to_0x_hex()
    done = api.client.post(
        f"/v1/transactions/{tx['id']}/signature?wait=true",
        json={"raw_transaction": signed},
        headers=headers,
    )
    assert done.status_code == 202 and done.json()["status"] == "mined", done.text
    root_id = done.json()["result"]["root_id"]
    pending = api.client.post(
        "/v1/payables", json=invoice(a["tier1"], a["owncore"], "SUSP-OWN-3", FACE), headers=headers
    ).json()["transaction"]
    _suspend(api, "owncore")
    # what it prepared before, it can no longer sign
    signed = own.sign_transaction(pending["unsigned_tx"]).raw_transaction.to_0x_hex()
    r = api.client.post(
        f"/v1/transactions/{pending['id']}/signature",
        json={"raw_transaction": signed},
        headers=headers,
    )
    assert r.status_code == 403 and r.json()["code"] == "MemberSuspended"
    _expire_unsigned(api)  # its nonce is free again for the repayment

    # a suspended member still logs in; its token opens only what it may still do
    headers = {"Authorization": f"Bearer {api.login(own)}"}
    r = api.client.get("/v1/me", headers=headers)
    assert r.status_code == 403 and r.json()["code"] == "MemberSuspended"
    r = api.client.post(
        "/v1/payables", json=invoice(a["tier1"], a["owncore"], "SUSP-OWN-2", FACE), headers=headers
    )
    assert r.status_code == 403 and r.json()["code"] == "MemberSuspended"

    assert _outstanding(api, headers, root_id)["outstanding"] == FACE
    repay = api.client.post(f"/v1/payables/{root_id}/repay", json={"amount": FACE}, headers=headers)
    assert repay.status_code == 202, repay.text
    tx = repay.json()
    assert tx["status"] == "awaiting_signature"
    signed = own.sign_transaction(tx["unsigned_tx"]).raw_transaction.to_0x_hex()
    done = api.client.post(
        f"/v1/transactions/{tx['id']}/signature?wait=true",
        json={"raw_transaction": signed},
        headers=headers,
    )
    assert done.status_code == 202 and done.json()["status"] == "mined", done.text
    assert _repaid_on_chain(api, root_id) == FACE
    assert api.rt.contracts.receivables.functions.creditUsedOf(own.address).call() == 0
