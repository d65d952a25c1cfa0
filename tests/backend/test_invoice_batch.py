"""An ERP's batch of invoices in one request (embedded profile): each invoice registered or
refused on its own, retried without a second transaction, malformed batches refused whole."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session, col, func, select

from backend.models import InvoiceDocument, TxRequest
from tests.backend.conftest import YUAN, Api, invoice

URL = "/v1/invoices/batch"


def _requests(api: Api) -> int:
    with Session(api.rt.engine) as s:
        return int(s.exec(select(func.count()).select_from(TxRequest)).one())


def _batch(api: Api, prefix: str, n: int) -> list[dict[str, Any]]:
    a = api.addresses
    return [invoice(a["tier1"], a["core"], f"{prefix}-{i}", (100 + i) * YUAN) for i in range(n)]


def test_batch_registers_each_invoice_and_refuses_only_the_bad_ones(api: Api) -> None:
    a = api.addresses
    tier1 = api.as_("tier1")
    on_ledger = invoice(a["tier1"], a["core"], "BATCH-A-TAKEN", 50 * YUAN)
    first = tier1.post("/v1/invoices?wait=true", json=on_ledger)
    assert first.status_code == 202, first.text
    good = _batch(api, "BATCH-A", 4)
    items = [
        good[0],
        good[1],
        {**good[1], "amount": 5 * YUAN, "line_items": []},  # the same invoice number again
        invoice(a["tier1"], a["bank"], "BATCH-A-BANK", 10 * YUAN),  # the buyer is no debtor
        on_ledger,  # already registered
        invoice(a["tier2"], a["core"], "BATCH-A-NOT-MINE", 10 * YUAN),  # another's invoice
        good[2],
        good[3],
    ]
    r = tier1.post(URL + "?wait=true", json={"invoices": items})
    assert r.status_code == 202, r.text
    out = r.json()
    assert (out["accepted"], out["refused"]) == (4, 4)
    assert [x["index"] for x in out["results"]] == list(range(len(items)))
    errors = {x["index"]: x["error"] for x in out["results"] if x["error"] is not None}
    assert errors[2]["code"] == "ReceivablesInvoiceKeyUsed" and errors[2]["details"]["index"] == 1
    assert errors[3]["code"] == "MemberRegistryMissingRole"
    assert errors[4]["code"] == "ReceivablesInvoiceKeyUsed"
    assert errors[5]["code"] == "NotInvoiceParty"
    registered = [x for x in out["results"] if x["error"] is None]
    assert [x["index"] for x in registered] == [0, 1, 6, 7]
    receivables = api.rt.contracts.receivables.functions
    for x, body in zip(registered, (good[0], good[1], good[2], good[3]), strict=True):
        assert x["transaction"]["status"] == "mined" and x["transaction"]["visible_in_mirror"]
        assert x["invoice"]["number"] == body["number"] and x["invoice"]["status"] == "registered"
        root = receivables.rootOf(x["invoice"]["root_id"]).call()
        assert root[0].lower() == a["core"].lower()  # debtor
        assert root[5].lower() == a["tier1"].lower()  # supplier
        assert root[9] == body["amount"]  # face value
        assert "0x" + root[13].hex() == x["invoice"]["invoice_hash"]
    ids = [x["transaction"]["id"] for x in registered]
    assert len(set(ids)) == 4
    roots = {x["invoice"]["root_id"] for x in registered}
    assert len(roots) == 4


def test_batch_retried_with_its_key_sends_nothing_twice(api: Api) -> None:
    tier1 = api.as_("tier1")
    body = {"invoices": _batch(api, "BATCH-B", 3)}
    headers = {"Idempotency-Key": "erp-upload-7"}
    first = tier1.post(URL + "?wait=true", json=body, headers=headers)
    assert first.status_code == 202 and first.json()["accepted"] == 3, first.text
    before = _requests(api)
    again = tier1.post(URL, json=body, headers=headers)
    assert again.status_code == 202, again.text
    assert [x["transaction"]["id"] for x in again.json()["results"]] == [
        x["transaction"]["id"] for x in first.json()["results"]
    ]
    assert {x["transaction"]["status"] for x in again.json()["results"]} == {"mined"}
    assert _requests(api) == before
    with Session(api.rt.engine) as s:
        keys = s.exec(
            select(TxRequest.idempotency_key).where(
                col(TxRequest.idempotency_key).like("erp-upload-7/%")
            )
        ).all()
    assert sorted(keys) == ["erp-upload-7/0", "erp-upload-7/1", "erp-upload-7/2"]
    other = tier1.post(URL, json={"invoices": _batch(api, "BATCH-B2", 3)}, headers=headers)
    assert other.status_code == 422 and other.json()["code"] == "IdempotencyKeyReused"
    assert _requests(api) == before


def test_malformed_or_oversized_batch_is_refused_whole(api: Api) -> None:
    tier1 = api.as_("tier1")
    before = _requests(api)
    with Session(api.rt.engine) as s:
        docs = int(s.exec(select(func.count()).select_from(InvoiceDocument)).one())
    items = _batch(api, "BATCH-C", 3)
    items[1] = {**items[1], "amount": -1}
    r = tier1.post(URL, json={"invoices": items})
    assert r.status_code == 422 and r.json()["code"] == "ValidationError"
    assert r.json()["details"]["errors"][0]["loc"][:3] == ["body", "invoices", 1]
    assert tier1.post(URL, json={"invoices": []}).status_code == 422
    too_many = {"invoices": _batch(api, "BATCH-D", 1) * 501}
    assert tier1.post(URL, json=too_many).status_code == 422
    assert _requests(api) == before
    with Session(api.rt.engine) as s:
        assert int(s.exec(select(func.count()).select_from(InvoiceDocument)).one()) == docs


def test_a_body_past_the_request_limit_is_refused_before_it_is_read(api: Api) -> None:
    limit = api.rt.settings.max_request_bytes
    item = _batch(api, "BATCH-E", 1)[0]
    item["line_items"] = [
        {"description": "x" * 400, "quantity": 1, "unit_price": 0, "amount": 0}
    ] * 199 + [
        {"description": "y", "quantity": 1, "unit_price": item["amount"], "amount": item["amount"]}
    ]
    body = {"invoices": [item] * 500}
    assert len(json.dumps(body)) > limit
    before = _requests(api)
    r = api.as_("tier1").post(URL, json=body)
    assert r.status_code == 413, r.text[:300]
    assert r.json()["code"] == "RequestTooLarge"
    assert r.json()["details"] == {"max_bytes": limit}
    # without a Content-Length (chunked), refused as the body arrives
    raw = json.dumps(body).encode()
    chunks = (raw[i : i + 65536] for i in range(0, len(raw), 65536))
    streamed = api.client.post(
        URL,
        content=chunks,
        headers={**api.headers["tier1"], "Content-Type": "application/json"},
    )
    assert streamed.status_code == 413 and streamed.json()["code"] == "RequestTooLarge"
    assert _requests(api) == before


def test_the_same_batch_sent_twice_at_once_is_stored_once(api: Api) -> None:
    from concurrent.futures import ThreadPoolExecutor

    tier1 = api.as_("tier1")
    body = {"invoices": _batch(api, "BATCH-F", 5)}
    headers = {"Idempotency-Key": "erp-race-1"}
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: tier1.post(URL, json=body, headers=headers), range(4)))
    codes = sorted(r.status_code for r in answers)
    assert set(codes) <= {202, 409} and 202 in codes, [r.text for r in answers]
    for r in answers:
        if r.status_code == 409:  # lost the race to store: told to send it again
            assert r.json()["code"] == "IdempotencyKeyInUse"
    ids = {
        tuple(x["transaction"]["id"] for x in r.json()["results"])
        for r in answers
        if r.status_code == 202
    }
    assert len(ids) == 1  # every 202 names the same five requests
    with Session(api.rt.engine) as s:
        stored = s.exec(
            select(TxRequest).where(col(TxRequest.idempotency_key).like("erp-race-1/%"))
        ).all()
    assert len(stored) == 5
    again = tier1.post(URL + "?wait=true", json=body, headers=headers)
    assert again.status_code == 202
    assert {x["transaction"]["status"] for x in again.json()["results"]} == {"mined"}
    roots = {x["invoice"]["root_id"] for x in again.json()["results"]}
    assert len(roots) == 5 and None not in roots
