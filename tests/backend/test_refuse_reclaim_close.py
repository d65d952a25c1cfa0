"""The ledger's ways out for a receivable that should not be, or will not be paid (issue 13),
through the API against the eth-tester chain: a supplier refuses a payable issued in its name
(which frees the invoice number a squatter took), a supplier reclaims its invoice key from a
registration another supplier made on chain directly, the operator closes an overdue root."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from backend.keeper import run_once
from backend.services.documents import invoice_key
from chain.connection import dev_account
from chain.deploy import DEFAULT_GRACE_PERIOD_SECONDS
from chain.tx import TxSender
from tests.backend.conftest import CREDIT, Api, invoice, make_api

SQUATTER_INDEX = 5  # a dev key no other fixture uses
TESTER_GAS = 3_000_000
GRACE = DEFAULT_GRACE_PERIOD_SECONDS


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    """The consortium plus `core2`, a core enterprise unrelated to tier1, and `squatter`, a
    supplier that holds its own key and can call the ledger directly."""
    for built in make_api():
        op = built.as_("operator")
        r = op.post(
            "/v1/operator/members?wait=true",
            json={"legal_id": "USCC-core2", "roles": ["CORE_ENTERPRISE"], "credit_limit": CREDIT},
        )
        assert r.status_code == 202, r.text
        built.addresses["core2"] = r.json()["address"]
        built.headers["core2"] = {"Authorization": f"Bearer {built.activate(r.json())}"}
        cash = {"account": built.addresses["core2"], "amount": 10_000}
        assert op.post("/v1/operator/cash/mint?wait=true", json=cash).status_code == 202
        squatter = dev_account(SQUATTER_INDEX)
        built.rt.conn.fund(squatter.address)
        r = op.post(
            "/v1/operator/members?wait=true",
            json={"legal_id": "USCC-squatter", "roles": ["SUPPLIER"], "address": squatter.address},
        )
        assert r.status_code == 202, r.text
        built.addresses["squatter"] = squatter.address
        yield built


def _mined(r: Any) -> dict[str, Any]:
    assert r.status_code == 202, r.text
    body: dict[str, Any] = r.json().get("transaction", r.json())
    assert body["status"] == "mined", body
    return body


def _issue(api: Api, debtor: str, number: str, amount: int = 100) -> int:
    a = api.addresses
    body = _mined(
        api.as_(debtor).post(
            "/v1/payables?wait=true", json=invoice(a["tier1"], a[debtor], number, amount)
        )
    )
    return int(body["result"]["root_id"])


def _register(api: Api, number: str, amount: int = 5_000) -> Any:
    a = api.addresses
    return api.as_("tier1").post(
        "/v1/invoices?wait=true", json=invoice(a["tier1"], a["core"], number, amount)
    )


def _status(api: Api, root_id: int) -> dict[str, Any]:
    r = api.as_("auditor").get(f"/v1/audit/roots/{root_id}")
    assert r.status_code == 200, r.text
    return dict(r.json()["root"])


def _refuse(api: Api, root_id: int, who: str = "tier1") -> Any:
    return api.as_(who).post(
        f"/v1/receivables/{root_id}/refuse?wait=true", json={"reason": "never agreed to it"}
    )


# -- refuse ------------------------------------------------------------------------------------


def test_a_supplier_refuses_a_payable_squatting_its_invoice_number_then_registers_it(
    api: Api,
) -> None:
    # an unrelated core enterprise issues a 100-fen payable under the supplier's invoice number
    squat = _issue(api, "core2", "INV-S1-0002")
    credit = api.as_("core2").get("/v1/payables/credit").json()
    assert credit["credit_used"] == 100
    # the supplier's genuine invoice of that number is refused, without naming the squat
    r = _register(api, "INV-S1-0002")
    assert r.status_code == 409 and r.json()["code"] == "ReceivablesInvoiceKeyUsed"
    assert "rootId" not in r.json()["details"]
    # the supplier sees the payable issued in its name, and refuses it
    mine = api.as_("tier1").get("/v1/invoices").json()
    assert squat in [i["root_id"] for i in mine if i["number"] == "INV-S1-0002"]
    done = _mined(_refuse(api, squat))
    assert done["result"] == {"credit_used": 0}
    assert _status(api, squat)["status"] == "refused"
    refused = api.as_("core2").get("/v1/payables?status=refused").json()
    assert squat in [p["root_id"] for p in refused]
    assert api.as_("core2").get("/v1/payables/credit").json()["credit_used"] == 0
    (piece,) = api.as_("auditor").get(f"/v1/audit/roots/{squat}").json()["pieces"]
    assert piece["status"] == "void"
    # and now the genuine invoice goes through, and its buyer confirms it
    genuine = _register(api, "INV-S1-0002")
    assert genuine.status_code == 202 and genuine.json()["transaction"]["status"] == "mined"
    root = genuine.json()["invoice"]["root_id"]
    _mined(api.as_("core").post(f"/v1/payables/{root}/confirm?wait=true"))
    assert _status(api, root)["status"] == "confirmed"


def test_refusing_needs_the_whole_unpaid_root_piece_in_the_suppliers_hands(api: Api) -> None:
    a = api.addresses
    # not confirmed yet: the supplier cancels a registration instead
    registered = _register(api, "REF-REGISTERED").json()["invoice"]["root_id"]
    r = _refuse(api, registered)
    assert r.status_code == 409 and r.json()["code"] == "ReceivablesInvalidStatus"
    # part repaid
    repaid = _issue(api, "core2", "REF-REPAID", 1_000)
    _mined(api.as_("core2").post(f"/v1/payables/{repaid}/repay?wait=true", json={"amount": 1}))
    r = _refuse(api, repaid)
    assert r.status_code == 409 and r.json()["code"] == "ReceivablesAlreadyRepaid"
    assert r.json()["details"] == {"rootId": repaid, "repaid": 1}
    # split
    split = _issue(api, "core2", "REF-SPLIT", 1_000)
    parts = [{"to": a["tier1"], "amount": 500}, {"to": a["tier2"], "amount": 500}]
    _mined(api.as_("tier1").post(f"/v1/pieces/{split}/split?wait=true", json={"parts": parts}))
    r = _refuse(api, split)
    assert r.status_code == 409 and r.json()["code"] == "ReceivablesPieceNotActive"
    # passed on whole: the new holder is no supplier of the root, the old no holder
    moved = _issue(api, "core2", "REF-MOVED", 1_000)
    _mined(api.as_("tier1").post(f"/v1/pieces/{moved}/transfer?wait=true", json={"to": a["tier2"]}))
    r = _refuse(api, moved)
    assert r.status_code == 409 and r.json()["code"] == "ReceivablesNotHolder"
    r = _refuse(api, moved, who="tier2")
    assert r.status_code == 409 and r.json()["code"] == "ReceivablesNotSupplier"
    # frozen by a regulator
    frozen = _issue(api, "core2", "REF-FROZEN", 1_000)
    _mined(
        api.as_("regulator").post(
            f"/v1/regulator/roots/{frozen}/freeze?wait=true", json={"reason": "dispute"}
        )
    )
    r = _refuse(api, frozen)
    assert r.status_code == 409 and r.json()["code"] == "ReceivablesPieceFrozen"
    # none of these was refused on chain
    for root in (registered, repaid, split, moved, frozen):
        assert _status(api, root)["status"] != "refused"


# -- reclaim -----------------------------------------------------------------------------------


def _squat_on_chain(api: Api, number: str) -> int:
    """The squatter registers, straight on the ledger, a receivable under tier1's invoice key
    (the API would derive the key from the squatter's own entity)."""
    rt, a = api.rt, api.addresses
    members = api.as_("auditor").get("/v1/members").json()
    entity = next(m for m in members if m["address"] == a["tier1"])
    key = invoice_key(entity["entity_id"], number)
    fn = rt.contracts.receivables.functions.register(
        a["core"],
        5_000,
        rt.conn.latest_timestamp() + 90 * 86_400,
        b"\x11" * 32,
        bytes.fromhex(key[2:]),
    )
    receipt = TxSender(rt.conn).transact(fn, account=dev_account(SQUATTER_INDEX), gas=TESTER_GAS)
    logs = rt.contracts.receivables.events.ReceivableRegistered().process_receipt(receipt)
    root_id = int(logs[0]["args"]["rootId"])
    assert rt.indexer is not None and rt.indexer.wait_for_block(receipt["blockNumber"])
    return root_id


def test_a_supplier_reclaims_its_invoice_key_from_another_suppliers_registration(
    api: Api,
) -> None:
    squat = _squat_on_chain(api, "INV-S1-0007")
    r = _register(api, "INV-S1-0007")
    assert r.status_code == 409 and r.json()["code"] == "ReceivablesInvoiceKeyUsed"
    # the number written another way is the same invoice, and the same key
    done = _mined(
        api.as_("tier1").post("/v1/invoices/reclaim-key?wait=true", json={"number": "inv s1 0007"})
    )
    assert done["result"] == {"voided": True}
    assert _status(api, squat)["status"] == "cancelled"  # it can no longer be confirmed
    genuine = _register(api, "INV-S1-0007")
    assert genuine.status_code == 202 and genuine.json()["transaction"]["status"] == "mined"


def test_a_confirmed_squat_keeps_its_state_but_loses_the_key(api: Api) -> None:
    squat = _squat_on_chain(api, "INV-S1-0008")
    _mined(api.as_("core").post(f"/v1/payables/{squat}/confirm?wait=true"))
    done = _mined(
        api.as_("tier1").post("/v1/invoices/reclaim-key?wait=true", json={"number": "INV-S1-0008"})
    )
    assert done["result"] == {"voided": False}
    root = _status(api, squat)
    assert root["status"] == "confirmed" and root["invoice_key"] == "0x" + "00" * 32
    assert _register(api, "INV-S1-0008").status_code == 202


def test_reclaiming_refuses_a_free_number_and_ones_own_receivable(api: Api) -> None:
    r = api.as_("tier1").post("/v1/invoices/reclaim-key", json={"number": "NEVER-USED-1"})
    assert r.status_code == 404 and r.json()["code"] == "InvoiceKeyFree"
    assert "NEVER-USED-1" in r.json()["message"]
    own = _register(api, "RECLAIM-OWN-1").json()["invoice"]["root_id"]
    r = api.as_("tier1").post("/v1/invoices/reclaim-key", json={"number": "RECLAIM-OWN-1"})
    assert r.status_code == 409 and r.json()["code"] == "ReceivablesSelfDealing"
    assert r.json()["details"]["rootId"] == own
    r = api.as_("tier1").post("/v1/invoices/reclaim-key", json={"number": "--"})
    assert r.status_code == 422


# -- close -------------------------------------------------------------------------------------


def _close(api: Api, root_id: int) -> Any:
    return api.as_("operator").post(f"/v1/receivables/{root_id}/close?wait=true")


def test_the_operator_closes_an_overdue_root_and_its_escrow_reaches_zero(fresh_api: Api) -> None:
    api, a = fresh_api, fresh_api.addresses
    face = 301
    made = api.as_("tier1").post(
        "/v1/invoices?wait=true", json=invoice(a["tier1"], a["core"], "CLOSE-1", face, days=10)
    )
    root = made.json()["invoice"]["root_id"]
    _mined(api.as_("core").post(f"/v1/payables/{root}/confirm?wait=true"))
    parts = [{"to": a["tier1"], "amount": 100}, {"to": a["tier2"], "amount": 100}]
    parts.append({"to": a["bank"], "amount": 101})
    _mined(api.as_("tier1").post(f"/v1/pieces/{root}/split?wait=true", json={"parts": parts}))
    _mined(api.as_("core").post(f"/v1/payables/{root}/repay?wait=true", json={"amount": 100}))

    r = _close(api, root)  # not overdue yet
    assert r.status_code == 409 and r.json()["code"] == "ReceivablesInvalidStatus"
    due = _status(api, root)["due_date"]
    api.rt.conn.advance_time(due - api.rt.conn.latest_timestamp() + GRACE + 86_400)
    report = run_once(api.rt)
    assert report["overdue_marked"] == 1, report
    assert api.rt.indexer is not None
    assert api.rt.indexer.wait_for_block(api.rt.conn.w3.eth.block_number)
    assert _status(api, root)["status"] == "overdue"

    # a repayment restarts the pass: close waits for it
    _mined(api.as_("core").post(f"/v1/payables/{root}/repay?wait=true", json={"amount": 50}))
    r = _close(api, root)
    assert r.status_code == 409 and r.json()["code"] == "ReceivablesDistributionPending"
    run_once(api.rt)
    assert api.rt.indexer.wait_for_block(api.rt.conn.w3.eth.block_number)
    # frozen, the root or one of its pieces: nothing ends under a regulator's freeze
    child = api.as_("auditor").get(f"/v1/audit/roots/{root}").json()["pieces"][0]["children"][0]
    for kind, target, code in (
        ("roots", root, "ReceivablesRootFrozen"),
        ("pieces", child["piece_id"], "ReceivablesPiecesFrozen"),
    ):
        regulator = f"/v1/regulator/{kind}/{target}"
        _mined(api.as_("regulator").post(f"{regulator}/freeze?wait=true", json={"reason": "look"}))
        r = _close(api, root)
        assert r.status_code == 409 and r.json()["code"] == code, r.text
        _mined(api.as_("regulator").post(f"{regulator}/unfreeze?wait=true", json={"reason": "ok"}))
    run_once(api.rt)  # an unfreeze restarts the pass
    assert api.rt.indexer.wait_for_block(api.rt.conn.w3.eth.block_number)

    done = _mined(_close(api, root))
    # 150 repaid over 100/100/101: 49 + 49 + 50 = 148 paid, 2 fen of remainder
    assert done["result"]["outstanding"] == face - 150
    assert done["result"]["remainder"] == 2
    closed = _status(api, root)
    assert closed["status"] == "closed" and closed["repaid"] == closed["distributed"] == 150
    escrow = api.rt.contracts.receivables.address
    assert api.rt.contracts.token.functions.balanceOf(escrow).call() == 0
    r = api.as_("core").post(f"/v1/payables/{root}/repay", json={"amount": 1})
    assert r.status_code == 409 and r.json()["code"] == "ReceivablesInvalidStatus"
