"""Notifications are made once per ledger event: a reorg that rolls the mirror back and
re-applies the same transactions (in other blocks) makes none twice, an event a fork brings
instead is still told, and a restarted backend on the same databases sends nothing twice and
resumes the deliveries it left waiting."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, text
from sqlmodel import Session, col, select

from backend.api.app import create_app
from backend.models import Notification, NotificationDelivery, TxRequest, TxStatus, utcnow
from backend.runtime import Runtime
from backend.services.delivery import deliver_due
from backend.services.notifications import notify
from backend.settings import BackendSettings
from chain.connection import AnvilProcess, start_anvil
from chain.settings import ChainSettings
from tests.backend.conftest import YUAN, Api, invoice, make_api
from tests.backend.notify_tools import Receiver, caught_up

pytestmark = pytest.mark.anvil  # the restart test needs the npm toolchain's anvil


def _count(rt: Runtime, model: Any) -> int:
    with Session(rt.engine) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def _wait_for_head(rt: Runtime) -> None:
    """Until the mirror's cursor is the chain's head block (by hash: after a fork, a height
    already reached is not enough)."""
    head = rt.conn.w3.eth.get_block("latest")
    want = (head["number"], "0x" + bytes(head["hash"]).hex())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with rt.mirror.connect() as conn:
            row = conn.execute(
                text("SELECT cursor_block, cursor_hash FROM indexer_state WHERE chain_id = :c"),
                {"c": rt.chain_id},
            ).first()
        if row is not None and (row[0], row[1]) == want:
            return
        time.sleep(0.1)
    raise AssertionError(f"the mirror did not reach block {want}")


def _kinds(api: Api, who: str) -> list[str]:
    r = api.as_(who).get("/v1/notifications", params={"limit": 500})
    assert r.status_code == 200, r.text
    return [n["kind"] for n in r.json()]


def test_a_reorg_reapplying_the_same_transactions_notifies_no_one_twice(
    fresh_api: Api, tmp_path: Path
) -> None:
    api, rt, a = fresh_api, fresh_api.rt, fresh_api.addresses
    caught_up(api)
    fork_point = rt.conn.snapshot()
    fork_block = rt.conn.w3.eth.block_number
    r = api.as_("core").post(
        "/v1/payables?wait=true", json=invoice(a["tier1"], a["core"], "REORG-1", 500 * YUAN)
    )
    assert r.status_code == 202, r.text
    root = r.json()["invoice"]["root_id"]
    r = api.as_("tier1").post(f"/v1/pieces/{root}/transfer?wait=true", json={"to": a["tier2"]})
    assert r.status_code == 202, r.text
    caught_up(api)
    assert _kinds(api, "tier1").count("invoice_confirmed") == 1
    assert _kinds(api, "tier2").count("piece_received") == 1
    made = _count(rt, Notification)
    deliveries = _count(rt, NotificationDelivery)
    with Session(rt.engine) as session:
        sent = session.exec(
            select(TxRequest)
            .where(TxRequest.status == TxStatus.MINED, col(TxRequest.block_number) > fork_block)
            .order_by(col(TxRequest.block_number))
        ).all()
    assert len(sent) == 2 and all(req.raw_tx for req in sent)
    first_block = sent[0].block_number

    # the chain forks below them: an empty block first, then the same two transactions
    rt.conn.revert(fork_point)
    rt.conn.advance_time(5)
    for req in sent:
        assert req.raw_tx is not None
        tx_hash = rt.conn.w3.eth.send_raw_transaction(bytes.fromhex(req.raw_tx.removeprefix("0x")))
        assert "0x" + bytes(tx_hash).hex() == req.tx_hash
    rt.conn.mine(2)
    _wait_for_head(rt)
    with rt.mirror.connect() as conn:
        again = conn.execute(
            text("SELECT registered_block FROM root WHERE chain_id = :c AND root_id = :r"),
            {"c": rt.chain_id, "r": root},
        ).scalar_one()
    assert again != first_block  # the mirror holds it at its new block: the fork was applied

    assert notify(rt)["from_events"] == 0
    assert _count(rt, Notification) == made
    assert _count(rt, NotificationDelivery) == deliveries
    assert _kinds(api, "tier2").count("piece_received") == 1

    # what the new branch adds is still told (its events may take the rolled-back ids)
    r = api.as_("core").post(
        "/v1/payables?wait=true", json=invoice(a["tier2"], a["core"], "REORG-2", 300 * YUAN)
    )
    assert r.status_code == 202, r.text
    caught_up(api)
    assert _kinds(api, "tier2").count("invoice_confirmed") == 1
    assert _count(rt, Notification) == made + 1


# -- a restart ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def anvil() -> Iterator[AnvilProcess]:
    proc = start_anvil(ChainSettings(profile="anvil", anvil_zero_gas=True))
    yield proc
    proc.stop()


def test_a_restarted_backend_sends_nothing_twice_and_resumes_waiting_deliveries(
    anvil: AnvilProcess, tmp_path: Path
) -> None:
    chain = ChainSettings(profile="rpc", rpc_url=anvil.url, fee_mode="zero")
    common: dict[str, Any] = {
        "profile": "embedded",
        "wait_timeout_seconds": 30,
        "database_url": f"sqlite:///{tmp_path / 'backend.sqlite3'}",
        "mirror_database_url": f"sqlite:///{tmp_path / 'mirror.sqlite3'}",
        "deployment_path": tmp_path / "deployment.json",
        "webhook_backoff_seconds": 30,
    }
    receiver = Receiver()
    try:
        first = make_api(BackendSettings(**common, deploy=True), chain)
        api = next(first)
        a, headers = api.addresses, api.headers
        r = api.as_("tier1").post("/v1/webhooks", json={"url": receiver.url})
        assert r.status_code == 201, r.text
        r = api.as_("core").post(
            "/v1/payables?wait=true", json=invoice(a["tier1"], a["core"], "RST-1", 700 * YUAN)
        )
        assert r.status_code == 202, r.text
        caught_up(api)
        receiver.script = [500]
        deliver_due(api.rt)  # fails: waits 30 s for its retry
        assert len(receiver.requests) == 1
        before = api.as_("tier1").get("/v1/notifications").json()
        assert [n["kind"] for n in before] == ["invoice_confirmed"]
        assert before[0]["deliveries"][0]["status"] == "pending"
        first.close()  # the app stops: its indexer, its engines, everything in memory

        app = create_app(BackendSettings(**common, deploy=False), chain_settings=chain)
        with TestClient(app) as client:
            rt: Runtime = app.state.runtime
            assert rt.indexer is not None
            assert rt.indexer.wait_for_block(rt.conn.w3.eth.block_number, timeout=30)
            assert notify(rt) == {"from_events": 0, "reminders": 0}
            after = client.get("/v1/notifications", headers=headers["tier1"]).json()
            assert [n["id"] for n in after] == [n["id"] for n in before]

            deliver_due(rt, now=utcnow() + timedelta(seconds=31))  # the retry, after restart
            assert len(receiver.requests) == 2
            assert (
                receiver.requests[0].headers["SCF-Delivery"]
                == receiver.requests[1].headers["SCF-Delivery"]
            )
            status = client.get("/v1/notifications", headers=headers["tier1"]).json()
            assert status[0]["deliveries"][0]["status"] == "delivered"

            # and the restarted backend tells what happens next, once
            body = invoice(a["tier1"], a["core"], "RST-2", 800 * YUAN)
            r = client.post("/v1/payables?wait=true", json=body, headers=headers["core"])
            assert r.status_code == 202, r.text
            assert rt.indexer.wait_for_block(rt.conn.w3.eth.block_number, timeout=30)
            assert notify(rt)["from_events"] == 1
            assert notify(rt)["from_events"] == 0
            deliver_due(rt)
            assert len(receiver.requests) == 3
    finally:
        receiver.close()
