"""The auditor's exports: each report's CSV holds exactly its JSON rows, and every holding at a
block is streamed a page at a time, equal to the paged reads."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from backend.services import audit as svc
from tests.backend.conftest import Api
from tests.backend.test_story import originate_and_finance


@pytest.fixture(scope="module")
def ledger(api: Api) -> Api:
    """A confirmed receivable, split, one piece sold to the bank: outstanding in every report."""
    originate_and_finance(api)
    return api


def _csv_rows(resp: Any) -> list[dict[str, str]]:
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/csv")
    assert resp.headers["content-disposition"].startswith("attachment;")
    return list(csv.DictReader(io.StringIO(resp.text)))


def _as_cells(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """What a spreadsheet reads back from the JSON rows (the names the API sets beside
    addresses, `*_name`, are the JSON answer's own: a CSV export carries the addresses)."""

    def cell(v: Any) -> str:
        if v is None:
            return ""
        return json.dumps(v, sort_keys=True) if isinstance(v, dict | list) else str(v)

    return [{k: cell(v) for k, v in row.items() if not k.endswith("_name")} for row in rows]


def _paged(auditor: Any, url: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = 0
    for _ in range(1_000):
        page = auditor.get(f"{url}&limit=1&cursor={cursor}").json()
        rows += page["holdings"]
        if page["next_cursor"] is None:
            return rows
        cursor = page["next_cursor"]
    raise AssertionError("paging did not end")


def test_every_holding_at_a_block_streams_page_by_page_like_the_paged_reads(
    ledger: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(svc, "EXPORT_PAGE", 1)  # a page a holding, then an empty read
    auditor = ledger.as_("auditor")
    block = ledger.rt.mirror_cursor()
    while len(_paged(auditor, f"/v1/audit/holdings?block={block}")) < 2:
        block -= 1
        assert block > 0, "the story left no block with two holdings"
    paged = _paged(auditor, f"/v1/audit/holdings?block={block}")

    streamed = auditor.get(f"/v1/audit/holdings?block={block}")
    assert streamed.headers["content-type"] == "application/json"
    assert streamed.json() == {"block": block, "next_cursor": None, "holdings": paged}
    assert _csv_rows(auditor.get(f"/v1/audit/holdings?block={block}&format=csv")) == _as_cells(
        paged
    )
    holder = paged[-1]["holder"]
    mine = auditor.get(f"/v1/audit/holdings?block={block}&holder={holder}").json()["holdings"]
    assert mine == [h for h in paged if h["holder"] == holder]
    after = paged[0]["piece_id"]
    rest = auditor.get(f"/v1/audit/holdings?block={block}&cursor={after}").json()["holdings"]
    assert rest == paged[1:]


def test_a_block_before_any_holding_exports_nothing(ledger: Api) -> None:
    auditor = ledger.as_("auditor")
    assert auditor.get("/v1/audit/holdings?block=0").json() == {
        "block": 0,
        "next_cursor": None,
        "holdings": [],
    }
    empty = auditor.get("/v1/audit/holdings?block=0&format=csv")
    assert empty.status_code == 200 and empty.text == "piece_id,holder,amount,from_block\r\n"


@pytest.mark.parametrize(
    ("url", "rows_of"),
    [
        ("/v1/audit/events?limit=500", lambda body: body["items"]),
        ("/v1/audit/exposure?by=debtor", lambda body: body["by_debtor"]),
        ("/v1/audit/exposure?by=financier", lambda body: body["by_financier"]),
        ("/v1/audit/aging", lambda body: body["receivables"]),
    ],
)
def test_each_reports_csv_holds_exactly_its_json_rows(ledger: Api, url: str, rows_of: Any) -> None:
    auditor = ledger.as_("auditor")
    rows = rows_of(auditor.get(url).json())
    assert rows, url  # the story leaves something in every report
    assert _csv_rows(auditor.get(f"{url}&format=csv" if "?" in url else f"{url}?format=csv")) == (
        _as_cells(rows)
    )


def test_a_receivables_history_holds_every_event_of_its_tree(ledger: Api) -> None:
    auditor = ledger.as_("auditor")
    root = ledger.as_("tier1").get("/v1/invoices").json()[0]["root_id"]
    tree = auditor.get(f"/v1/audit/roots/{root}").json()
    events = [h["event"] for h in tree["history"]]
    for name in ("ReceivableRegistered", "ReceivableConfirmed", "PieceSplit", "OfferAccepted"):
        assert name in events, events
    rows = _csv_rows(auditor.get(f"/v1/audit/roots/{root}?format=csv"))
    assert rows == _as_cells(tree["history"])


@pytest.mark.parametrize(
    ("spelling", "stored"),
    [
        ("receivables", "Receivables"),
        ("Receivables", "Receivables"),
        ("RECEIVABLES", "Receivables"),
        ("token", "SettlementToken"),
        ("SettlementToken", "SettlementToken"),
        ("settlementtoken", "SettlementToken"),
        ("registry", "MemberRegistry"),
        ("MemberRegistry", "MemberRegistry"),
        ("Registry", "MemberRegistry"),
    ],
)
def test_events_filter_on_a_contract_by_its_name_or_short_name_in_any_case(
    ledger: Api, spelling: str, stored: str
) -> None:
    auditor = ledger.as_("auditor")
    every = auditor.get("/v1/audit/events?limit=500").json()["items"]
    resp = auditor.get("/v1/audit/events", params={"contract": spelling, "limit": 500})
    assert resp.status_code == 200, resp.text
    items = resp.json()["items"]
    assert items and items == [e for e in every if e["contract"] == stored]


def test_events_refuse_an_unknown_contract_naming_the_accepted_ones(ledger: Api) -> None:
    resp = ledger.as_("auditor").get("/v1/audit/events", params={"contract": "ledger"})
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert body["code"] == "ValidationError"
    assert "Receivables" in body["message"] and "token" in body["message"]
    assert body["details"]["contract"] == "ledger"


@pytest.mark.parametrize("format_", ["json", "csv"])
def test_holdings_refuse_a_block_beyond_the_chains_head_naming_the_head(
    ledger: Api, format_: str
) -> None:
    head = ledger.rt.conn.w3.eth.block_number
    resp = ledger.as_("auditor").get(
        "/v1/audit/holdings", params={"block": head + 1, "format": format_}
    )
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert body["code"] == "BlockBeyondHead"
    assert body["details"] == {"block": head + 1, "head": head}
    assert f"block {head}" in body["message"]
    at_head = ledger.as_("auditor").get("/v1/audit/holdings", params={"block": head})
    assert at_head.status_code == 200 and at_head.json()["block"] == head
