"""The auditor's exports on a ledger with members and cash but no receivable: each CSV is its
header row alone, never an empty file."""

from __future__ import annotations

import csv
import io

import pytest

from tests.backend.conftest import Api


@pytest.mark.parametrize(
    ("url", "header"),
    [
        (
            "/v1/audit/events?from_block=1000000000",
            "id,block_number,block_hash,tx_hash,tx_index,log_index,contract,address,event,args",
        ),
        ("/v1/audit/holdings?block=0", "piece_id,holder,amount,from_block"),
        ("/v1/audit/holdings?block=0&limit=10", "piece_id,holder,amount,from_block"),
        ("/v1/audit/exposure?by=debtor", "debtor,outstanding,receivables"),
        ("/v1/audit/exposure?by=financier", "financier,debtor,exposure"),
        (
            "/v1/audit/aging",
            "root_id,debtor,due_date,days_past_due,in_grace_period,days_overdue,bucket,"
            "outstanding,status,status_on_ledger",
        ),
        ("/v1/audit/reconciliation", "kind,key,field,mirror,chain"),
        ("/v1/audit/alerts", "id,kind,message,details,created_at"),
    ],
)
def test_an_empty_export_is_its_header_row(api: Api, url: str, header: str) -> None:
    auditor = api.as_("auditor")
    sep = "&" if "?" in url else "?"
    resp = auditor.get(f"{url}{sep}format=csv")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/csv")
    assert list(csv.reader(io.StringIO(resp.text))) == [header.split(",")]
