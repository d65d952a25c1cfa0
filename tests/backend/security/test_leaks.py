"""What leaks: another party's receivable behind an invoice key, a buyer's later splits to the
seller, a moved piece to financiers, the chain's state to anyone, answers without headers."""

from __future__ import annotations

from typing import Any

from backend.keeper import close_moved_financing
from tests.backend.conftest import Api, invoice


def _confirmed_piece(api: Api, number: str, amount: int = 20_000) -> int:
    a = api.addresses
    r = api.as_("tier1").post(
        "/v1/invoices?wait=true", json=invoice(a["tier1"], a["core"], number, amount)
    )
    assert r.status_code == 202, r.text
    root = r.json()["invoice"]["root_id"]
    assert api.as_("core").post(f"/v1/payables/{root}/confirm?wait=true").status_code == 202
    (piece,) = api.as_("tier1").get("/v1/pieces", params={"root_id": root}).json()
    return int(piece["piece_id"])


def _ask(api: Api, piece: int) -> Any:
    ask = {"piece_id": piece, "amount_wanted": 1_000, "max_rate_bps": 900}
    r = api.as_("tier1").post("/v1/financing-requests", json=ask)
    assert r.status_code == 201, r.text
    return r.json()


def test_a_used_invoice_key_never_names_the_receivable_holding_it(api: Api) -> None:
    a = api.addresses
    body = invoice(a["tier1"], a["core"], "LEAK-KEY-1", 5_000)
    assert api.as_("tier1").post("/v1/invoices?wait=true", json=body).status_code == 202
    # the core enterprise issues a payable with the supplier's invoice number
    r = api.as_("core").post("/v1/payables", json=body)
    assert r.status_code == 409 and r.json()["code"] == "ReceivablesInvoiceKeyUsed"
    assert "rootId" not in r.json()["details"], r.json()


def test_a_seller_does_not_see_what_the_buyer_makes_of_a_sold_piece(api: Api) -> None:
    piece = _confirmed_piece(api, "LEAK-SPLIT-1")
    _ask(api, piece)
    bank = api.as_("bank")
    r = bank.post("/v1/offers?wait=true", json={"piece_id": piece, "rate_bps": 500})
    assert r.status_code == 202, r.text
    offer = r.json()["result"]["offer_id"]
    assert api.as_("tier1").post(f"/v1/offers/{offer}/accept?wait=true").status_code == 202
    bank_address = api.addresses["bank"]
    parts = [{"to": bank_address, "amount": 12_000}, {"to": bank_address, "amount": 8_000}]
    r = bank.post(f"/v1/pieces/{piece}/split?wait=true", json={"parts": parts})
    assert r.status_code == 202, r.text
    children = r.json()["result"]["child_ids"]
    seen = {p["piece_id"] for p in api.as_("tier1").get("/v1/pieces").json()}
    assert piece in seen  # its own history, up to the sale
    assert not seen & set(children)
    for child in children:
        assert api.as_("tier1").get(f"/v1/pieces/{child}").status_code == 404


def test_a_piece_that_moved_on_chain_is_offered_to_no_financier(api: Api) -> None:
    piece = _confirmed_piece(api, "LEAK-MOVE-1")
    request = _ask(api, piece)
    bank = api.as_("bank")
    assert piece in {fr["piece_id"] for fr in bank.get("/v1/financing-requests").json()}
    # the supplier passes the piece on straight on chain, not through the API
    rt = api.rt
    tier1 = rt.account_for(api.addresses["tier1"].lower())
    fn = rt.contracts.receivables.functions.safeTransferFrom(
        tier1.address, api.addresses["tier2"], piece, 20_000, b""
    )
    receipt = rt.sender.transact(fn, account=tier1)
    assert rt.indexer is not None and rt.indexer.wait_for_block(receipt["blockNumber"], timeout=30)
    assert piece not in {fr["piece_id"] for fr in bank.get("/v1/financing-requests").json()}
    assert bank.get(f"/v1/pieces/{piece}").status_code == 404
    assert close_moved_financing(rt) >= 1
    mine = api.as_("tier1").get("/v1/financing-requests").json()
    assert {fr["id"]: fr["status"] for fr in mine}[request["id"]] == "closed"


def test_healthz_tells_anyone_only_that_it_is_up(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"ok": True}


def test_answers_carry_security_headers(api: Api) -> None:
    r = api.as_("bank").get("/v1/me")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"
    docs = api.client.get("/docs")
    assert "default-src 'self'" in docs.headers["content-security-policy"]
    assert "cache-control" not in api.client.get("/healthz").headers
