"""Maker-checker: a core enterprise's confirmations and repayments wait for a second person
(the default policies), what is approved is exactly what is sent, and the pipeline refuses to
send what no approval covers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import Session, select

from backend.models import ActionLogEntry, TxRequest, TxStatus
from backend.settings import BackendSettings
from backend.txn.queue import enqueue
from tests.backend.conftest import YUAN, Api, make_api
from tests.backend.staff_tools import Person, add_user, enrol, first_admin, registered_root

Org = tuple[Api, dict[str, Person]]


@pytest.fixture(scope="module")
def org() -> Iterator[Org]:
    settings = BackendSettings(
        profile="embedded", wait_timeout_seconds=30, login_lockout_failures=100
    )
    for api in make_api(settings):
        people = {"admin": enrol(api, first_admin(api, "core", "mc.admin"), as_name="admin")}
        for name, perms in (
            ("clerk", ["view", "payables.confirm", "payables.repay"]),
            ("manager", ["view", "payables.confirm", "payables.repay"]),
            ("controller", ["view", "payables.confirm", "payables.repay"]),
            ("viewer", ["view"]),
        ):
            people[name] = enrol(api, add_user(api, "admin", f"mc.{name}", perms), as_name=name)
        yield api, people


def _pending(api: Api, who: str, request_id: str) -> dict[str, Any]:
    r = api.as_(who).get(f"/v1/approvals/{request_id}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _approve(api: Api, who: str, request_id: str, action_hash: str) -> Any:
    return api.as_(who).post(
        f"/v1/approvals/{request_id}/approve?wait=true", json={"action_hash": action_hash}
    )


def _payable(api: Api, root_id: int) -> dict[str, Any]:
    """The root as its debtor's list shows it (the mirror of the ledger)."""
    listed = api.as_("core").get(f"/v1/payables?after={root_id - 1}&limit=1").json()
    assert listed and listed[0]["root_id"] == root_id, listed
    row: dict[str, Any] = listed[0]
    return row


def _status_on_ledger(api: Api, root_id: int) -> str:
    return str(_payable(api, root_id)["status"])


def test_a_clerk_prepares_and_a_manager_approves(org: Org) -> None:
    api, _ = org
    root = registered_root(api, "MC-1", 1_500_000 * YUAN)
    r = api.as_("clerk").post(f"/v1/payables/{root}/confirm?wait=true")
    assert r.status_code == 202, r.text
    made = r.json()
    assert made["status"] == "pending_approval" and made["made_by"] == "mc.clerk"
    assert made["approvals_required"] == 1 and made["tx_hash"] is None
    assert _status_on_ledger(api, root) == "registered"  # nothing was sent
    # the approver sees what it decides on, named
    listed = api.as_("manager").get("/v1/approvals").json()
    pending = next(p for p in listed if p["request"]["id"] == made["id"])
    assert pending["amount"] == 1_500_000 * YUAN
    assert pending["subject"]["invoice"]["number"] == "MC-1"
    assert pending["subject"]["receivable"]["supplier_name"]  # the counterparty by name
    assert pending["approver_permission"] == "payables.confirm"
    # the maker cannot approve its own action; one without the permission cannot either
    r = _approve(api, "clerk", made["id"], pending["action_hash"])
    assert r.status_code == 403 and r.json()["code"] == "MakerCannotApprove"
    r = _approve(api, "viewer", made["id"], pending["action_hash"])
    assert r.status_code == 403 and r.json()["code"] == "MissingPermission"
    # the member's own key (no person) cannot approve
    r = _approve(api, "core", made["id"], pending["action_hash"])
    assert r.status_code == 403 and r.json()["code"] == "StaffUserRequired"
    # an approval of something else than what is pending is refused
    r = _approve(api, "manager", made["id"], "0" * 64)
    assert r.status_code == 409 and r.json()["code"] == "ActionChanged"
    r = _approve(api, "manager", made["id"], pending["action_hash"])
    assert r.status_code == 200, r.text
    assert r.json()["request"]["status"] == "mined"
    assert [d["login"] for d in r.json()["decisions"]] == ["mc.manager"]
    assert _status_on_ledger(api, root) == "confirmed"
    # approving again is refused: it is no longer pending
    r = _approve(api, "controller", made["id"], pending["action_hash"])
    assert r.status_code == 409 and r.json()["code"] == "NotPendingApproval"
    with Session(api.rt.engine) as s:
        actions = [
            e.action
            for e in s.exec(select(ActionLogEntry).where(ActionLogEntry.target == made["id"]))
        ]
    assert actions == ["approval.make", "approval.approve"]


def test_two_approvers_and_a_threshold(org: Org) -> None:
    api, _ = org
    r = api.as_("admin").put(
        "/v1/staff/policies/root.confirm",
        json={"approvers": 2, "above_amount": 1_000_000 * YUAN},
    )
    assert r.status_code == 200 and r.json()["default"] is False, r.text
    try:
        below = registered_root(api, "MC-2a", 1_000_000 * YUAN)  # not above the threshold
        r = api.as_("clerk").post(f"/v1/payables/{below}/confirm?wait=true")
        assert r.status_code == 202 and r.json()["status"] == "mined", r.text
        above = registered_root(api, "MC-2b", 1_000_000 * YUAN + 1)
        made = api.as_("clerk").post(f"/v1/payables/{above}/confirm").json()
        assert made["status"] == "pending_approval" and made["approvals_required"] == 2
        digest = _pending(api, "manager", made["id"])["action_hash"]
        r = _approve(api, "manager", made["id"], digest)
        assert r.status_code == 200 and r.json()["request"]["status"] == "pending_approval"
        r = _approve(api, "manager", made["id"], digest)  # the same person twice
        assert r.status_code == 409 and r.json()["code"] == "AlreadyDecided"
        r = _approve(api, "controller", made["id"], digest)
        assert r.status_code == 200 and r.json()["request"]["status"] == "mined", r.text
        assert _status_on_ledger(api, above) == "confirmed"
    finally:
        api.as_("admin").put("/v1/staff/policies/root.confirm", json={"approvers": 1})


def test_no_approver_policy_sends_at_once(org: Org) -> None:
    api, _ = org
    api.as_("admin").put("/v1/staff/policies/root.confirm", json={"approvers": 0})
    try:
        root = registered_root(api, "MC-3", 10_000 * YUAN)
        r = api.as_("clerk").post(f"/v1/payables/{root}/confirm?wait=true")
        assert r.json()["status"] == "mined" and r.json()["approvals_required"] == 0
    finally:
        api.as_("admin").put("/v1/staff/policies/root.confirm", json={"approvers": 1})
    r = api.as_("clerk").put("/v1/staff/policies/root.confirm", json={"approvers": 0})
    assert r.status_code == 403 and r.json()["code"] == "MissingPermission"
    r = api.as_("admin").put("/v1/staff/policies/member.add", json={"approvers": 1})
    assert r.status_code == 422 and r.json()["code"] == "NotApprovable"


def test_rejection_and_expiry_end_it_unsent(org: Org) -> None:
    api, _ = org
    root = registered_root(api, "MC-4", 20_000 * YUAN)
    made = api.as_("clerk").post(f"/v1/payables/{root}/confirm").json()
    digest = _pending(api, "manager", made["id"])["action_hash"]
    r = api.as_("manager").post(
        f"/v1/approvals/{made['id']}/reject", json={"reason": "the goods were not delivered"}
    )
    assert r.status_code == 200 and r.json()["request"]["status"] == "rejected"
    assert r.json()["request"]["error_code"] == "ApprovalRejected"
    r = _approve(api, "controller", made["id"], digest)
    assert r.status_code == 409 and r.json()["code"] == "NotPendingApproval"
    # another one left past its deadline expires
    made = api.as_("clerk").post(f"/v1/payables/{root}/confirm").json()
    digest = _pending(api, "manager", made["id"])["action_hash"]
    with Session(api.rt.engine) as s:
        s.execute(
            update(TxRequest)
            .where(TxRequest.id == made["id"])  # type: ignore[arg-type]
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        s.commit()
    r = _approve(api, "manager", made["id"], digest)
    assert r.status_code == 409 and r.json()["code"] == "ApprovalExpired"
    assert _pending(api, "manager", made["id"])["request"]["status"] == "expired"
    assert _status_on_ledger(api, root) == "registered"


def test_a_repayment_waits_for_its_approver(org: Org) -> None:
    api, _ = org
    root = registered_root(api, "MC-5", 30_000 * YUAN)
    made = api.as_("clerk").post(f"/v1/payables/{root}/confirm").json()
    _approve(api, "manager", made["id"], _pending(api, "manager", made["id"])["action_hash"])
    r = api.as_("manager").post(f"/v1/payables/{root}/repay", json={"amount": 10_000 * YUAN})
    assert r.status_code == 202 and r.json()["status"] == "pending_approval", r.text
    pending = _pending(api, "clerk", r.json()["id"])
    assert pending["amount"] == 10_000 * YUAN
    r = _approve(api, "clerk", r.json()["id"], pending["action_hash"])
    assert r.json()["request"]["status"] == "mined", r.text
    assert _payable(api, root)["repaid"] == 10_000 * YUAN


def test_a_tampered_action_is_neither_approved_nor_sent(org: Org) -> None:
    api, _ = org
    honest = registered_root(api, "MC-6a", 40_000 * YUAN)
    other = registered_root(api, "MC-6b", 45_000 * YUAN)
    made = api.as_("clerk").post(f"/v1/payables/{honest}/confirm").json()
    digest = _pending(api, "manager", made["id"])["action_hash"]

    def tamper(**values: Any) -> None:
        with Session(api.rt.engine) as s:
            s.execute(
                update(TxRequest).where(TxRequest.id == made["id"]).values(**values)  # type: ignore[arg-type]
            )
            s.commit()

    # someone with the database changes the stored action: the approver is refused
    tamper(params={"root_id": other})
    r = _approve(api, "manager", made["id"], digest)
    assert r.status_code == 409 and r.json()["code"] == "ActionTampered"
    # ... and pushing it into the queue by hand gets it no further: the pipeline refuses
    tamper(status=TxStatus.QUEUED)
    enqueue(made["id"])
    r = api.as_("core").get(f"/v1/transactions/{made['id']}")
    assert r.json()["status"] == "failed" and r.json()["error_code"] == "ApprovalMissing"
    assert _status_on_ledger(api, other) == "registered"
    # an approved request changed before it is sent is refused the same way
    made = api.as_("clerk").post(f"/v1/payables/{honest}/confirm").json()
    digest = _pending(api, "manager", made["id"])["action_hash"]
    with Session(api.rt.engine) as s:  # approve it without letting the queue take it yet
        from backend.models import ApprovalDecision, TxApproval

        s.add(
            TxApproval(
                request_id=made["id"],
                user_id="usr_approver",
                login="mc.manager",
                decision=ApprovalDecision.APPROVED,
                action_hash=digest,
            )
        )
        s.commit()
    tamper(params={"root_id": other}, status=TxStatus.QUEUED)
    enqueue(made["id"])
    assert api.as_("core").get(f"/v1/transactions/{made['id']}").json()["error_code"] == (
        "ApprovalMissing"
    )
    assert _status_on_ledger(api, other) == "registered"
    tamper(params={"root_id": honest}, status=TxStatus.QUEUED, error_code=None)
    enqueue(made["id"])
    assert api.as_("core").get(f"/v1/transactions/{made['id']}?wait=true").json()["status"] == (
        "mined"
    )
    assert _status_on_ledger(api, honest) == "confirmed"


def test_the_approvers_are_told(org: Org) -> None:
    api, _ = org
    root = registered_root(api, "MC-7", 50_000 * YUAN)
    made = api.as_("clerk").post(f"/v1/payables/{root}/confirm").json()
    inbox = api.as_("manager").get("/v1/notifications?kind=approval_requested").json()
    told = next(n for n in inbox if n["data"]["transaction"] == made["id"])
    assert told["title"] == f"Approval needed: confirm receivable {root} (50,000.00 CNY)"
    assert "mc.clerk" in told["message"]
    api.as_("manager").post(f"/v1/approvals/{made['id']}/reject", json={"reason": "duplicate"})
    inbox = api.as_("clerk").get("/v1/notifications?kind=approval_rejected").json()
    told = next(n for n in inbox if n["data"]["transaction"] == made["id"])
    assert "duplicate" in told["message"] and "mc.manager" in told["message"]


def test_the_keeper_expires_what_waits_too_long(org: Org) -> None:
    api, _ = org
    from backend.keeper import expire_approvals

    root = registered_root(api, "MC-8", 60_000 * YUAN)
    made = api.as_("clerk").post(f"/v1/payables/{root}/confirm").json()
    with Session(api.rt.engine) as s:
        s.execute(
            update(TxRequest)
            .where(TxRequest.id == made["id"])  # type: ignore[arg-type]
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        s.commit()
    assert expire_approvals(api.rt) == 1
    r = api.as_("core").get(f"/v1/transactions/{made['id']}")
    assert r.json()["status"] == "expired" and r.json()["error_code"] == "ApprovalExpired"


def _offered_for_financing(api: Api, number: str, amount: int) -> int:
    """A confirmed receivable of tier1's that it asks financing for: its root piece."""
    root = registered_root(api, number, amount)
    made = api.as_("clerk").post(f"/v1/payables/{root}/confirm").json()
    _approve(api, "manager", made["id"], _pending(api, "manager", made["id"])["action_hash"])
    asked = api.as_("tier1").post(
        "/v1/financing-requests",
        json={"piece_id": root, "amount_wanted": amount, "max_rate_bps": 2000},
    )
    assert asked.status_code == 201, asked.text
    return root


def test_a_large_offer_waits_a_small_one_does_not(org: Org) -> None:
    api, _ = org
    enrol(api, first_admin(api, "bank", "mcb.admin"), as_name="bank-admin")
    for name in ("trader", "head"):
        created = add_user(api, "bank-admin", f"mcb.{name}", ["view", "offers.post"])
        enrol(api, created, as_name=f"bank-{name}")
    modest = _offered_for_financing(api, "MC-9a", 1_000_000 * YUAN)
    big = _offered_for_financing(api, "MC-9b", 2_000_000 * YUAN)
    small = api.as_("bank-trader").post(
        "/v1/offers?wait=true", json={"piece_id": modest, "price": 990_000 * YUAN}
    )
    assert small.status_code == 202 and small.json()["status"] == "mined", small.text
    large = api.as_("bank-trader").post(
        "/v1/offers?wait=true", json={"piece_id": big, "price": 1_980_000 * YUAN}
    )
    assert large.json()["status"] == "pending_approval", large.text
    pending = _pending(api, "bank-head", large.json()["id"])
    assert pending["amount"] == 1_980_000 * YUAN
    assert pending["subject"]["piece"]["piece_id"] == big
    assert pending["subject"]["invoice"]["number"] == "MC-9b"
    r = _approve(api, "bank-head", large.json()["id"], pending["action_hash"])
    assert r.json()["request"]["status"] == "mined", r.text
    assert r.json()["request"]["result"]["offer_id"] > small.json()["result"]["offer_id"]
