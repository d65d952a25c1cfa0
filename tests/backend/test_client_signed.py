"""A member that holds its own key writes by signing locally: prepare → sign → submit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import update
from sqlmodel import Session, select

from backend.models import TxRequest, TxStatus
from backend.txn.actions import new_request
from backend.txn.signed import expire_unsigned, prepare_unsigned
from chain.connection import dev_account
from tests.backend.conftest import Api, _As, invoice, make_api

OWN_KEY_INDEX = 7  # a dev key no other fixture uses


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    """The embedded consortium plus `own`: a supplier that holds its own key."""
    for built in make_api():
        own = dev_account(OWN_KEY_INDEX)
        built.rt.conn.fund(own.address)
        r = built.as_("operator").post(
            "/v1/operator/members?wait=true",
            json={"legal_id": "USCC-own", "roles": ["SUPPLIER"], "address": own.address},
        )
        assert r.status_code == 202, r.text
        assert r.json()["custodial"] is False
        built.addresses["own"] = own.address
        built.headers["own"] = {"Authorization": f"Bearer {built.login(own)}"}
        yield built


@pytest.fixture
def own(api: Api) -> Iterator[LocalAccount]:
    """The member's key; each test leaves no request of its own waiting for a signature (one
    left waiting would, rightly, push the nonces shown for later ones)."""
    yield dev_account(OWN_KEY_INDEX)
    with api.rt.engine.begin() as conn:
        conn.execute(
            update(TxRequest)
            .where(
                TxRequest.signer == api.addresses["own"].lower(),  # type: ignore[arg-type]
                TxRequest.status == TxStatus.AWAITING_SIGNATURE,  # type: ignore[arg-type]
            )
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    expire_unsigned(api.rt)


def _register(api: Api, number: str, **kw: Any) -> Any:
    a = api.addresses
    return api.as_("own").post("/v1/invoices", json=invoice(a["own"], a["core"], number, 900), **kw)


def _sign(account: LocalAccount, unsigned: dict[str, Any], **changes: Any) -> str:
    signed = account.sign_transaction({**unsigned, **changes})
    return signed.raw_transaction.to_0x_hex()


def _submit(who: _As, request_id: str, raw: str, *, wait: bool = False) -> Any:
    url = f"/v1/transactions/{request_id}/signature" + ("?wait=true" if wait else "")
    return who.post(url, json={"raw_transaction": raw})


def _roots_with_key(api: Api, invoice_key: str) -> int:
    events = api.rt.contracts.receivables.events.ReceivableRegistered().get_logs(from_block=0)
    return sum(1 for e in events if "0x" + e["args"]["invoiceKey"].hex() == invoice_key)


def test_non_custodial_supplier_registers_an_invoice_by_signing_locally(
    api: Api, own: LocalAccount
) -> None:
    r = _register(api, "OWN-1")
    assert r.status_code == 202, r.text
    tx = r.json()["transaction"]
    assert tx["status"] == "awaiting_signature" and tx["tx_hash"] is None
    unsigned = tx["unsigned_tx"]
    assert unsigned["to"] == api.rt.contracts.receivables.address
    assert unsigned["chainId"] == api.rt.chain_id and unsigned["value"] == 0
    assert unsigned["nonce"] == api.rt.conn.w3.eth.get_transaction_count(own.address)
    assert unsigned["gas"] > 0 and tx["expires_at"] is not None
    # nothing is sent until the member signs
    fetched = api.as_("own").get(f"/v1/transactions/{tx['id']}").json()
    assert fetched["status"] == "awaiting_signature" and fetched["unsigned_tx"] == unsigned

    done = _submit(api.as_("own"), tx["id"], _sign(own, unsigned), wait=True)
    assert done.status_code == 202, done.text
    body = done.json()
    assert body["status"] == "mined" and body["visible_in_mirror"] is True
    assert body["unsigned_tx"] is None
    receipt = api.rt.conn.w3.eth.get_transaction_receipt(body["tx_hash"])
    assert receipt["from"] == own.address and receipt["status"] == 1
    root_id = body["result"]["root_id"]
    inv = api.as_("own").get(f"/v1/invoices/{r.json()['invoice']['id']}").json()
    assert inv["root_id"] == root_id
    # the core enterprise sees it in the mirror as registered, awaiting its confirmation
    pending = api.as_("core").get("/v1/payables?status=registered").json()
    assert root_id in [p["root_id"] for p in pending]


def test_waiting_on_a_write_the_member_must_sign_returns_at_once(
    api: Api, own: LocalAccount
) -> None:
    started = time.monotonic()
    a = api.addresses
    r = api.as_("own").post(
        "/v1/invoices?wait=true", json=invoice(a["own"], a["core"], "OWN-11", 900)
    )
    assert r.status_code == 202 and r.json()["transaction"]["status"] == "awaiting_signature"
    tx_id = r.json()["transaction"]["id"]
    again = api.as_("own").get(f"/v1/transactions/{tx_id}?wait=true")
    assert again.json()["status"] == "awaiting_signature"
    assert time.monotonic() - started < api.rt.settings.wait_timeout_seconds / 2


def test_signed_transaction_with_other_data_is_refused(api: Api, own: LocalAccount) -> None:
    tx = _register(api, "OWN-2").json()["transaction"]
    unsigned = tx["unsigned_tx"]
    other = _register(api, "OWN-2b").json()["transaction"]["unsigned_tx"]
    r = _submit(api.as_("own"), tx["id"], _sign(own, unsigned, data=other["data"]))
    assert r.status_code == 422 and r.json()["code"] == "SignedTransactionMismatch"
    assert set(r.json()["details"]["fields"]) == {"data"}
    r = _submit(api.as_("own"), tx["id"], _sign(own, unsigned, value=1))
    assert r.status_code == 422 and set(r.json()["details"]["fields"]) == {"value"}
    r = _submit(api.as_("own"), tx["id"], _sign(own, unsigned, chainId=unsigned["chainId"] + 1))
    assert r.status_code == 422 and set(r.json()["details"]["fields"]) == {"chainId"}
    r = _submit(api.as_("own"), tx["id"], _sign(own, unsigned, to=api.rt.contracts.token.address))
    assert r.status_code == 422 and set(r.json()["details"]["fields"]) == {"to"}
    state = api.as_("own").get(f"/v1/transactions/{tx['id']}").json()
    assert state["status"] == "awaiting_signature"


def test_transaction_signed_by_another_key_is_refused(api: Api, own: LocalAccount) -> None:
    tx = _register(api, "OWN-3").json()["transaction"]
    stranger = Account.create()
    r = _submit(api.as_("own"), tx["id"], _sign(stranger, tx["unsigned_tx"]))
    assert r.status_code == 422 and r.json()["code"] == "SignedTransactionMismatch"
    assert r.json()["details"]["fields"]["from"] == {
        "expected": own.address,
        "got": stranger.address,
    }
    # the member's own signature still goes through afterwards
    ok = _submit(api.as_("own"), tx["id"], _sign(own, tx["unsigned_tx"]), wait=True)
    assert ok.status_code == 202 and ok.json()["status"] == "mined"


def test_garbage_is_not_a_signed_transaction(api: Api, own: LocalAccount) -> None:
    tx = _register(api, "OWN-4").json()["transaction"]
    r = _submit(api.as_("own"), tx["id"], "0xf8deadbeef")
    assert r.status_code == 422 and r.json()["code"] == "BadSignedTransaction"


def test_only_the_requesting_member_may_sign(api: Api, own: LocalAccount) -> None:
    tx = _register(api, "OWN-5").json()["transaction"]
    r = _submit(api.as_("tier1"), tx["id"], _sign(own, tx["unsigned_tx"]))
    assert r.status_code == 404


def test_idempotent_request_and_repeated_signature_send_once(api: Api, own: LocalAccount) -> None:
    headers = {"Idempotency-Key": "own-register-6"}
    first = _register(api, "OWN-6", headers=headers)
    again = _register(api, "OWN-6", headers=headers)
    assert first.status_code == again.status_code == 202
    tx = first.json()["transaction"]
    assert again.json()["transaction"]["id"] == tx["id"]
    with Session(api.rt.engine) as s:
        assert (
            len(
                s.exec(
                    select(TxRequest).where(TxRequest.idempotency_key == headers["Idempotency-Key"])
                ).all()
            )
            == 1
        )
    raw = _sign(own, tx["unsigned_tx"])
    nonce_before = api.rt.conn.w3.eth.get_transaction_count(own.address)
    one = _submit(api.as_("own"), tx["id"], raw, wait=True)
    two = _submit(api.as_("own"), tx["id"], raw, wait=True)
    assert one.status_code == two.status_code == 202
    assert one.json()["tx_hash"] == two.json()["tx_hash"] and two.json()["status"] == "mined"
    assert api.rt.conn.w3.eth.get_transaction_count(own.address) == nonce_before + 1
    # a repeat of the write after it was signed is the same, mined, request
    replay = _register(api, "OWN-6", headers=headers)
    assert replay.json()["transaction"]["status"] == "mined"
    invoice_key = api.as_("own").get(f"/v1/invoices/{first.json()['invoice']['id']}").json()
    assert _roots_with_key(api, invoice_key["invoice_key"]) == 1
    # other bytes for a request already signed are refused
    other = _sign(own, tx["unsigned_tx"], gas=tx["unsigned_tx"]["gas"] + 1)
    r = _submit(api.as_("own"), tx["id"], other)
    assert r.status_code == 409 and r.json()["code"] == "NotAwaitingSignature"


def test_concurrent_prepared_requests_get_successive_nonces(api: Api, own: LocalAccount) -> None:
    a = _register(api, "OWN-7a").json()["transaction"]
    b = _register(api, "OWN-7b").json()["transaction"]
    assert b["unsigned_tx"]["nonce"] == a["unsigned_tx"]["nonce"] + 1
    # signing the later one first would leave a gap: refused, with the nonce to use
    early = _submit(api.as_("own"), b["id"], _sign(own, b["unsigned_tx"]))
    assert early.status_code == 409 and early.json()["code"] == "NonceNotNext"
    assert early.json()["details"]["expected_nonce"] == a["unsigned_tx"]["nonce"]
    ra = _submit(api.as_("own"), a["id"], _sign(own, a["unsigned_tx"]), wait=True)
    rb = _submit(api.as_("own"), b["id"], _sign(own, b["unsigned_tx"]), wait=True)
    assert ra.json()["status"] == rb.json()["status"] == "mined"


def test_abandoned_request_leaves_no_gap(api: Api, own: LocalAccount) -> None:
    a = _register(api, "OWN-8a").json()["transaction"]
    b = _register(api, "OWN-8b").json()["transaction"]
    _expire(api, a["id"])
    assert api.as_("own").get(f"/v1/transactions/{a['id']}").json()["status"] == "expired"
    # b now shows the nonce a would have used, and goes through with it
    fresh = api.as_("own").get(f"/v1/transactions/{b['id']}").json()["unsigned_tx"]
    assert fresh["nonce"] == a["unsigned_tx"]["nonce"]
    r = _submit(api.as_("own"), b["id"], _sign(own, fresh), wait=True)
    assert r.status_code == 202 and r.json()["status"] == "mined"


def test_request_left_unsigned_expires(api: Api, own: LocalAccount) -> None:
    tx = _register(api, "OWN-9").json()["transaction"]
    raw = _sign(own, tx["unsigned_tx"])
    _expire(api, tx["id"])
    assert expire_unsigned(api.rt) >= 1  # the keeper's sweep
    state = api.as_("own").get(f"/v1/transactions/{tx['id']}").json()
    assert state["status"] == "expired" and state["unsigned_tx"] is None
    r = _submit(api.as_("own"), tx["id"], raw)
    assert r.status_code == 409 and r.json()["code"] == "TransactionRequestExpired"
    assert api.rt.conn.w3.eth.get_transaction_count(own.address) == tx["unsigned_tx"]["nonce"]


def test_refusal_on_chain_after_signing_has_the_contract_error_name(
    api: Api, own: LocalAccount
) -> None:
    reg = _register(api, "OWN-10").json()["transaction"]
    reg = _submit(api.as_("own"), reg["id"], _sign(own, reg["unsigned_tx"]), wait=True).json()
    root_id = reg["result"]["root_id"]
    cancel = api.as_("own").post(f"/v1/receivables/{root_id}/cancel").json()
    assert cancel["status"] == "awaiting_signature"
    # the debtor confirms before the supplier signs its cancellation: the chain refuses it
    ok = api.as_("core").post(f"/v1/payables/{root_id}/confirm?wait=true")
    assert ok.status_code == 202 and ok.json()["status"] == "mined", ok.text
    r = _submit(api.as_("own"), cancel["id"], _sign(own, cancel["unsigned_tx"]), wait=True)
    assert r.status_code == 409, r.text
    assert r.json()["code"].startswith("Receivables") and r.json()["details"]["tx_hash"]
    state = api.as_("own").get(f"/v1/transactions/{cancel['id']}").json()
    assert state["status"] == "failed" and state["error_code"] == r.json()["code"]


def test_refusal_known_when_preparing_fails_the_request_at_once(api: Api) -> None:
    own = api.addresses["own"]
    req = new_request(
        member=own,
        signer=own,
        action="root.confirm",
        params={"root_id": 999_999},
        idempotency_key=None,
    )
    prepare_unsigned(api.rt, req)
    assert req.status == TxStatus.FAILED and req.error_code == "ReceivablesUnknownRoot"
    assert req.unsigned_tx is None and req.tx_hash is None


def _expire(api: Api, request_id: str) -> None:
    """Move the deadline into the past (as if the timeout had elapsed)."""
    with api.rt.engine.begin() as conn:
        conn.execute(
            update(TxRequest)
            .where(TxRequest.id == request_id)  # type: ignore[arg-type]
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
