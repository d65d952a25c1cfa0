"""The ledger's clock (issue 12): dates judged by the latest block's time with the allowed range
in the refusal, the ledger's settings, aging that agrees with the grace period, and a keeper
round that can wait for the mirror."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from chain.pricing import SECONDS_PER_DAY
from tests.backend.conftest import YUAN, Api, invoice, make_api


@pytest.fixture
def ops_api() -> Iterator[Api]:
    yield from make_api(with_ops=True)


def _ledger_date(api: Api) -> date:
    return datetime.fromtimestamp(api.rt.conn.latest_timestamp(), UTC).date()


def _dated(body: dict[str, object], issue: date, due: date) -> dict[str, object]:
    return {**body, "issue_date": issue.isoformat(), "due_date": due.isoformat()}


def test_invoice_dates_are_judged_by_the_ledgers_clock_and_the_refusal_states_the_range(
    fresh_api: Api,
) -> None:
    api, a = fresh_api, fresh_api.addresses
    api.rt.conn.advance_time(400 * SECONDS_PER_DAY)  # a dev chain a year ahead of the wall
    ledger_today = _ledger_date(api)
    assert ledger_today > datetime.now(UTC).date() + timedelta(days=300)
    tier1 = api.as_("tier1")

    # dated by the ledger's clock: accepted and mined
    body = _dated(
        invoice(a["tier1"], a["core"], "CLK-1", 100 * YUAN),
        ledger_today,
        ledger_today + timedelta(days=60),
    )
    r = tier1.post("/v1/invoices?wait=true", json=body)
    assert r.status_code == 202, r.text
    assert r.json()["transaction"]["status"] == "mined"

    # dated by the wall clock: its due date is before the ledger's date, refused with the range
    r = tier1.post(
        "/v1/invoices", json=invoice(a["tier1"], a["core"], "CLK-2", 100 * YUAN, days=60)
    )
    assert r.status_code == 422, r.text
    err = r.json()
    assert err["code"] == "DueDateOutOfRange"
    first = ledger_today + timedelta(days=1)
    assert err["details"]["earliest"] == first.isoformat()
    assert err["details"]["ledger_date"] == ledger_today.isoformat()
    assert first.isoformat() in err["message"] and err["details"]["latest"] in err["message"]

    # an issue date far past the ledger's date
    late = ledger_today + timedelta(days=40)
    r = tier1.post(
        "/v1/invoices",
        json=_dated(
            invoice(a["tier1"], a["core"], "CLK-3", 100 * YUAN), late, late + timedelta(days=30)
        ),
    )
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "IssueDateOutOfRange"
    assert r.json()["details"]["latest"] == (ledger_today + timedelta(days=31)).isoformat()

    # the last due date the ledger takes is accepted, the day after refused
    last = date.fromisoformat(err["details"]["latest"])
    ok = _dated(invoice(a["tier1"], a["core"], "CLK-4", 100 * YUAN), ledger_today, last)
    assert tier1.post("/v1/invoices?wait=true", json=ok).status_code == 202
    over = _dated(
        invoice(a["tier1"], a["core"], "CLK-5", 100 * YUAN), ledger_today, last + timedelta(days=1)
    )
    assert tier1.post("/v1/invoices", json=over).json()["code"] == "DueDateOutOfRange"


def test_the_ledgers_settings_are_an_endpoint_every_member_can_read(api: Api) -> None:
    r = api.as_("tier2").get("/v1/ledger")
    assert r.status_code == 200, r.text
    body = r.json()
    fn = api.rt.contracts.receivables.functions.limits()
    names = [c["name"] for c in fn.abi["outputs"][0]["components"]]
    limits = dict(zip(names, fn.call(), strict=True))
    assert body["grace_period_seconds"] == limits["gracePeriod"] == 7 * SECONDS_PER_DAY
    assert body["grace_period_days"] == 7
    assert body["max_depth"] == limits["maxDepth"]
    assert body["min_piece_amount"] == limits["minPieceAmount"]
    assert body["max_live_pieces"] == limits["maxLivePieces"] > 0
    assert body["settlement_currency"] == "CNY"
    assert body["ledger_date"] == _ledger_date(api).isoformat()
    assert body["receivables"] == api.rt.deployment.receivables.address
    assert api.client.get("/v1/ledger").status_code == 401


def test_aging_and_status_agree_on_what_is_overdue_through_the_grace_period(
    ops_api: Api,
) -> None:
    api, a = ops_api, ops_api.addresses
    r = api.as_("core").post(
        "/v1/payables?wait=true", json=invoice(a["tier1"], a["core"], "AGE-1", 500 * YUAN, days=30)
    )
    assert r.status_code == 202, r.text
    root = r.json()["invoice"]["root_id"]
    auditor = api.as_("auditor")

    def row() -> dict[str, object]:
        rows = auditor.get("/v1/audit/aging").json()["receivables"]
        return next(r for r in rows if r["root_id"] == root)

    due_ts = row()["due_date"]
    assert isinstance(due_ts, int)
    api.rt.conn.advance_time(due_ts - api.rt.conn.latest_timestamp() + 3 * SECONDS_PER_DAY)
    api.rt.indexer.wait_for_block(api.rt.conn.w3.eth.block_number)  # type: ignore[union-attr]
    in_grace = row()
    assert in_grace["days_past_due"] == 3 and in_grace["in_grace_period"] is True
    assert in_grace["days_overdue"] == 0 and in_grace["status"] == "confirmed"
    assert in_grace["bucket"] == "1-30"

    api.rt.conn.advance_time(5 * SECONDS_PER_DAY)  # 8 days past due: beyond the 7-day grace
    api.rt.indexer.wait_for_block(api.rt.conn.w3.eth.block_number)  # type: ignore[union-attr]
    beyond = row()
    assert beyond["in_grace_period"] is False and beyond["days_overdue"] == 1
    assert beyond["status"] == "overdue" and beyond["status_on_ledger"] == "confirmed"

    r = api.as_("operator").post("/v1/ops/keeper/run?wait=true")
    assert r.status_code == 200, r.text
    assert r.json()["overdue_marked"] == 1 and r.json()["visible_in_mirror"] is True
    marked = row()  # no wait needed: the round answered once the mirror had it
    assert marked["status"] == marked["status_on_ledger"] == "overdue"


def test_a_keeper_round_with_wait_answers_once_its_payouts_are_in_the_mirror(
    ops_api: Api,
) -> None:
    api, a = ops_api, ops_api.addresses
    core = api.as_("core")
    r = core.post(
        "/v1/payables?wait=true", json=invoice(a["tier2"], a["core"], "KPR-1", 700 * YUAN, days=5)
    )
    assert r.status_code == 202, r.text
    root = r.json()["invoice"]["root_id"]
    assert core.post(f"/v1/payables/{root}/repay?wait=true", json={}).status_code == 202
    api.rt.conn.advance_time(6 * SECONDS_PER_DAY)
    before = api.as_("auditor").get("/v1/ops/balances", params={"address": a["tier2"]}).json()
    r = api.as_("operator").post("/v1/ops/keeper/run?wait=true")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["settled"] == 1 and body["visible_in_mirror"] is True
    assert body["block"] == api.rt.conn.w3.eth.block_number
    after = api.as_("auditor").get("/v1/ops/balances", params={"address": a["tier2"]}).json()
    assert after[0]["balance"] == before[0]["balance"] + 700 * YUAN
    tree = api.as_("auditor").get(f"/v1/audit/roots/{root}").json()
    assert tree["root"]["status"] == "settled"
