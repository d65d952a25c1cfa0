"""Idempotency, concurrency, and a worker dying mid-task (embedded profile)."""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import Session, select

from backend.models import TxRequest, TxStatus
from backend.txn.actions import build_call, new_request
from backend.txn.executor import claim, execute
from chain.outbox import SignedTx
from tests.backend.conftest import YUAN, Api, invoice


def _count(api: Api, **where: Any) -> int:
    with Session(api.rt.engine) as s:
        stmt = select(TxRequest)
        for k, v in where.items():
            stmt = stmt.where(getattr(TxRequest, k) == v)
        return len(s.exec(stmt).all())


def test_same_idempotency_key_sends_one_transaction(api: Api) -> None:
    bank = api.addresses["bank"]
    op = api.as_("operator")
    body = {"account": bank, "amount": 7 * YUAN}
    headers = {"Idempotency-Key": "mint-once-1"}
    before = api.rt.contracts.token.functions.balanceOf(bank).call()
    first = op.post("/v1/operator/cash/mint?wait=true", json=body, headers=headers)
    second = op.post("/v1/operator/cash/mint?wait=true", json=body, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["tx_hash"] == second.json()["tx_hash"]
    assert api.rt.contracts.token.functions.balanceOf(bank).call() == before + 7 * YUAN
    assert _count(api, idempotency_key="mint-once-1") == 1


def test_idempotency_key_reused_for_another_request_is_refused(api: Api) -> None:
    op = api.as_("operator")
    headers = {"Idempotency-Key": "mint-once-2"}
    bank = api.addresses["bank"]
    assert (
        op.post(
            "/v1/operator/cash/mint", json={"account": bank, "amount": 1}, headers=headers
        ).status_code
        == 202
    )
    r = op.post("/v1/operator/cash/mint", json={"account": bank, "amount": 2}, headers=headers)
    assert r.status_code == 422 and r.json()["code"] == "IdempotencyKeyReused"


def test_concurrent_idempotent_requests_send_once(api: Api) -> None:
    op = api.as_("operator")
    body = {"account": api.addresses["bank"], "amount": 3}
    headers = {"Idempotency-Key": "race-1"}
    with ThreadPoolExecutor(8) as pool:
        results = list(
            pool.map(
                lambda _: op.post("/v1/operator/cash/mint?wait=true", json=body, headers=headers),
                range(8),
            )
        )
    assert {r.status_code for r in results} == {202}
    assert len({r.json()["id"] for r in results}) == 1
    assert _count(api, idempotency_key="race-1") == 1


def test_fifty_concurrent_writes_from_several_members_all_mine(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    # 16 requests wait at once here: more than the default bound on waiting requests
    monkeypatch.setattr(api.rt, "limiter", dataclasses.replace(api.rt.limiter, max_waiting=16))
    a = api.addresses
    jobs: list[tuple[str, str, Any]] = []
    for _ in range(15):
        jobs.append(("operator", "/v1/operator/cash/mint", {"account": a["bank"], "amount": 1}))
    for i in range(15):
        jobs.append(("tier1", "/v1/invoices", invoice(a["tier1"], a["core"], f"C1-{i}", 500)))
    for i in range(10):
        jobs.append(("tier2", "/v1/invoices", invoice(a["tier2"], a["core"], f"C2-{i}", 500)))
    for i in range(10):
        jobs.append(("core", "/v1/payables", invoice(a["tier2"], a["core"], f"C3-{i}", 500)))

    def run(job: tuple[str, str, Any]) -> Any:
        who, url, body = job
        return api.as_(who).post(url + "?wait=true", json=body)

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(run, jobs))
    assert [r.status_code for r in results] == [202] * 50, [r.text for r in results][:3]
    statuses = [(r.json().get("transaction") or r.json())["status"] for r in results]
    assert statuses == ["mined"] * 50


def _stage(api: Api) -> TxRequest:
    req = new_request(
        member=api.addresses["operator"],
        signer=api.addresses["operator"],
        action="cash.mint",
        params={"account": api.addresses["bank"], "amount": 11},
        idempotency_key=None,
    )
    with Session(api.rt.engine, expire_on_commit=False) as s:
        s.add(req)
        s.commit()
    return req


def _expire_lease(api: Api, request_id: str) -> None:
    with api.rt.engine.begin() as conn:
        conn.execute(
            update(TxRequest)
            .where(TxRequest.id == request_id)  # type: ignore[arg-type]
            .values(locked_until=datetime.now(UTC) - timedelta(seconds=1))
        )


def _reload(api: Api, request_id: str) -> TxRequest:
    with Session(api.rt.engine) as s:
        req = s.get(TxRequest, request_id)
        assert req is not None
        return req


class _Died(Exception):
    pass


def _die_after_signing(api: Api, req: TxRequest, *, broadcast: bool) -> SignedTx:
    """A worker that stores the signed bytes and dies before (or right after) broadcasting."""
    rt = api.rt
    assert claim(rt, req.id, "dead-worker")
    account = rt.account_for(req.signer)
    tx = rt.sender.prepare(build_call(rt, req.action, req.params), account=account)
    stored: list[SignedTx] = []

    def record(signed: SignedTx) -> None:
        with rt.engine.begin() as conn:
            conn.execute(
                update(TxRequest)
                .where(TxRequest.id == req.id)  # type: ignore[arg-type]
                .values(
                    status=TxStatus.SIGNED,
                    raw_tx="0x" + signed.raw.hex(),
                    tx_hash=signed.tx_hash,
                    nonce=signed.nonce,
                )
            )
        stored.append(signed)
        if not broadcast:
            raise _Died()

    with contextlib.suppress(_Died):
        rt.sender.sign_and_send(tx, account=account, record=record)
    return stored[-1]  # a nonce the node refused is re-signed: only the last can be mined


def test_worker_dead_before_broadcast_is_finished_with_the_same_bytes(api: Api) -> None:
    req = _stage(api)
    signed = _die_after_signing(api, req, broadcast=False)
    assert api.rt.sender.receipt(signed.tx_hash) is None
    # the lease holds another attempt off until it lapses
    assert execute(api.rt, req.id) is None
    _expire_lease(api, req.id)
    assert execute(api.rt, req.id) == TxStatus.MINED
    done = _reload(api, req.id)
    assert done.tx_hash == signed.tx_hash  # re-broadcast, not re-signed
    assert api.rt.sender.receipt(signed.tx_hash) is not None


def test_worker_dead_after_broadcast_never_sends_twice(api: Api) -> None:
    bank = api.addresses["bank"]
    before = api.rt.contracts.token.functions.balanceOf(bank).call()
    req = _stage(api)
    signed = _die_after_signing(api, req, broadcast=True)
    _expire_lease(api, req.id)
    assert execute(api.rt, req.id) == TxStatus.MINED
    assert execute(api.rt, req.id) is None  # finished requests are never run again
    assert _reload(api, req.id).tx_hash == signed.tx_hash
    assert api.rt.contracts.token.functions.balanceOf(bank).call() == before + 11


def _stored_confirm_of_unknown_root(api: Api, root_id: int) -> TxRequest:
    """A queued request the chain refuses (the mirror cannot tell: it goes straight in)."""
    req = new_request(
        member=api.addresses["core"],
        signer=api.addresses["core"],
        action="root.confirm",
        params={"root_id": root_id},
        idempotency_key=None,
    )
    with Session(api.rt.engine, expire_on_commit=False) as s:
        s.add(req)
        s.commit()
    return req


def test_revert_caught_before_sending_has_the_error_name(api: Api) -> None:
    # the mirror cannot know this one: a piece id that does not exist yet on chain but the
    # request goes straight to the pipeline
    req = _stored_confirm_of_unknown_root(api, 999_999)
    assert execute(api.rt, req.id) == TxStatus.FAILED
    done = _reload(api, req.id)
    assert done.error_code == "ReceivablesUnknownRoot" and done.tx_hash is None
    r = api.as_("core").get(f"/v1/transactions/{req.id}")
    assert r.status_code == 200 and r.json()["error_code"] == "ReceivablesUnknownRoot"
    assert api.as_("bank").get(f"/v1/transactions/{req.id}").status_code == 404


def test_idempotent_retry_after_the_effect_returns_the_original_request(api: Api) -> None:
    """A retry of a write that already took effect (the root is no longer awaiting
    confirmation) answers with the first request instead of the refusal a new one would get."""
    a = api.addresses
    created = api.as_("tier1").post(
        "/v1/invoices?wait=true", json=invoice(a["tier1"], a["core"], "IDEM-RETRY-1", 500)
    )
    assert created.status_code == 202
    root = created.json()["invoice"]["root_id"]
    core = api.as_("core")
    headers = {"Idempotency-Key": "confirm-retry-1"}
    first = core.post(f"/v1/payables/{root}/confirm?wait=true", headers=headers)
    assert first.status_code == 202 and first.json()["status"] == "mined"
    again = core.post(f"/v1/payables/{root}/confirm?wait=true", headers=headers)
    assert again.status_code == 202
    assert (again.json()["id"], again.json()["tx_hash"]) == (
        first.json()["id"],
        first.json()["tx_hash"],
    )
    fresh = core.post(f"/v1/payables/{root}/confirm")
    assert fresh.status_code == 409 and fresh.json()["code"] == "ReceivablesInvalidStatus"
    assert _count(api, idempotency_key="confirm-retry-1") == 1


def test_calldata_encoded_without_web3_is_byte_for_byte_web3s(api: Api) -> None:
    """The batch path encodes calls with eth_abi directly: every action, the same bytes."""
    from backend.txn.actions import CALLS, encode_call

    a = api.addresses
    params: dict[str, Any] = {
        "account": a["bank"],
        "roles": 12,
        "entity_id": "0x" + "ab" * 32,
        "credit_limit": 10**20,
        "amount": 2**95 + 7,
        "debtor": a["core"],
        "supplier": a["tier1"],
        "face_value": 123_456,
        "due_date": 1_900_000_000,
        "invoice_hash": "0x" + "cd" * 32,
        "invoice_key": "0x" + "ef" * 32,
        "root_id": 3,
        "reason": "sanctions screening — 制裁",
        "max_pieces": 50,
        "piece_id": 2**64 + 1,
        "holders": [a["tier1"], a["tier2"]],
        "amounts": [1, 2],
        "from": a["tier1"],
        "to": a["tier2"],
        "price": 99_000,
        "expiry": 1_800_000_000,
        "offer_id": 17,
        "invoice_number_key": "inv2026发票0001",
        "seq": 2**40 + 3,
        "head": "0x" + "12" * 32,
    }
    for action in CALLS:
        fn: Any = build_call(api.rt, action, params)
        to, data = encode_call(api.rt, action, params)
        assert (to, data) == (fn.address, fn._encode_transaction_data()), action


def test_batch_dispatch_fails_a_refused_request_by_name_and_sends_the_rest(api: Api) -> None:
    from backend.txn import dispatcher

    refused = _stored_confirm_of_unknown_root(api, 999_998)
    good = _stage(api)
    dispatcher.run(api.rt)
    bad = _reload(api, refused.id)
    assert (bad.status, bad.error_code, bad.tx_hash) == (
        TxStatus.FAILED,
        "ReceivablesUnknownRoot",
        None,
    )
    done = _reload(api, good.id)
    assert done.status == TxStatus.MINED and done.claim_token is None
    assert api.rt.sender.receipt(str(done.tx_hash)) is not None
