"""Notifications (issue 14): each kind produced by a real story through the API on the
eth-tester chain, mailed to a real SMTP server, signed webhooks checked by a real HTTP
receiver, retries with backoff, a dead endpoint disabled, and who sees what."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from backend.keeper import run_once
from backend.models import DeliveryAttempt, NotificationDelivery, utcnow
from backend.services.delivery import deliver_due
from backend.settings import BackendSettings
from chain.settings import REPO_ROOT
from tests.backend.conftest import YUAN, Api, invoice, make_api
from tests.backend.notify_tools import Mailbox, Receiver, caught_up, kinds_of, latest, smtp_server

DAY = 86_400
FACE = 1_000_000 * YUAN
DOCS = Path(REPO_ROOT) / "docs" / "notifications.md"


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Mailbox, int]]:
    yield from smtp_server()


@pytest.fixture(scope="module")
def api(smtp: tuple[Mailbox, int]) -> Iterator[Api]:
    settings = BackendSettings(
        profile="embedded",
        wait_timeout_seconds=30,
        smtp_host="127.0.0.1",
        smtp_port=smtp[1],
        smtp_starttls=False,
        smtp_from="scf-ledger <notify@scf.test>",
        webhook_backoff_seconds=30,
        webhook_max_attempts=4,
        webhook_disable_after=3,
        webhook_timeout_seconds=5,
    )
    yield from make_api(settings)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _ok(r: Any) -> Any:
    assert r.status_code in (200, 201, 202), r.text
    return r.json()


def _payable(api: Api, number: str, amount: int) -> int:
    """The core enterprise issues tier 1 a payable due 90 days after the ledger's clock (which
    the story has moved past the wall clock)."""
    a = api.addresses
    days = 90 + (api.rt.conn.latest_timestamp() - int(time.time())) // DAY
    body = invoice(a["tier1"], a["core"], number, amount, days=days)
    r = api.as_("core").post("/v1/payables?wait=true", json=body)
    return int(_ok(r)["invoice"]["root_id"])


def _deliver_all(api: Api) -> None:
    """Send what is due now (the keeper's deliver job)."""
    deliver_due(api.rt)


def test_each_kind_is_told_to_whom_it_concerns_through_a_real_story(
    api: Api, smtp: tuple[Mailbox, int]
) -> None:
    a = api.addresses
    core, tier1, tier2, bank = (api.as_(n) for n in ("core", "tier1", "tier2", "bank"))
    regulator, op = api.as_("regulator"), api.as_("operator")
    box = smtp[0]

    # an invoice awaits the core enterprise's confirmation; confirmed, tier 1 is told
    body = _ok(
        tier1.post("/v1/invoices?wait=true", json=invoice(a["tier1"], a["core"], "N-1", FACE))
    )
    root = body["invoice"]["root_id"]
    n = latest(api, "core", "invoice_awaiting_confirmation")
    assert n["data"]["root_id"] == root
    assert "Suzhou Precision Parts" in n["title"] and "N-1" in n["title"]
    assert n["read"] is False and n["tx_hash"]
    _ok(core.post(f"/v1/payables/{root}/confirm?wait=true"))
    n = latest(api, "tier1", "invoice_confirmed")
    assert n["data"]["root_id"] == root and n["data"]["counterparty_name"] == "East China Motors"
    assert "East China Motors confirmed receivable" in n["title"]

    # another is rejected
    other = _ok(
        tier1.post("/v1/invoices?wait=true", json=invoice(a["tier1"], a["core"], "N-2", FACE))
    )["invoice"]["root_id"]
    _ok(core.post(f"/v1/payables/{other}/reject?wait=true", json={"reason": "not delivered"}))
    n = latest(api, "tier1", "invoice_rejected")
    assert n["data"]["root_id"] == other and "not delivered" in n["message"]

    # a payable issued to tier 2 that it refuses (signed with its own custodial key: the API
    # has no route for it); the core enterprise is told
    issued = _ok(
        core.post("/v1/payables?wait=true", json=invoice(a["tier2"], a["core"], "N-3", FACE))
    )["invoice"]["root_id"]
    assert "invoice_confirmed" in kinds_of(api, "tier2")  # issued to it: confirmed at once
    assert kinds_of(api, "core").count("invoice_awaiting_confirmation") == 2  # N-1, N-2 only
    fn = api.rt.contracts.receivables.functions.refuse(issued, "never ordered")
    api.rt.sender.transact(fn, account=api.rt.account_for(a["tier2"]))
    n = latest(api, "core", "payable_refused")
    assert n["data"]["root_id"] == issued and "Wuxi Metals" in n["title"]

    # an overdue-to-be payable, 20 days, to tier 1
    late = _ok(
        core.post(
            "/v1/payables?wait=true", json=invoice(a["tier1"], a["core"], "N-LATE", FACE, days=20)
        )
    )["invoice"]["root_id"]

    # a split passes a piece to tier 2; a transfer passes another
    r = _ok(
        tier1.post(
            f"/v1/pieces/{root}/split?wait=true",
            json={
                "parts": [
                    {"to": a["tier1"], "amount": 500_000 * YUAN},
                    {"to": a["tier2"], "amount": 300_000 * YUAN},
                    {"to": a["tier1"], "amount": 200_000 * YUAN},
                ]
            },
        )
    )
    kept, passed, moved = r["result"]["child_ids"]
    n = latest(api, "tier2", "piece_received")
    assert n["data"]["piece_id"] == passed and n["data"]["amount"] == 300_000 * YUAN
    assert n["data"]["counterparty_name"] == "Suzhou Precision Parts"
    _ok(tier1.post(f"/v1/pieces/{moved}/transfer?wait=true", json={"to": a["tier2"]}))
    n = latest(api, "tier2", "piece_received")
    assert n["data"]["piece_id"] == moved
    assert kinds_of(api, "tier2").count("piece_received") == 2
    assert "piece_received" not in kinds_of(api, "tier1")  # its own pieces from its own split

    # financing: an offer to tier 2, accepted; another expires; a third is cancelled
    _ok(
        tier2.post(
            "/v1/financing-requests",
            json={"piece_id": passed, "amount_wanted": 290_000 * YUAN, "max_rate_bps": 800},
        )
    )
    offer = _ok(bank.post("/v1/offers?wait=true", json={"piece_id": passed, "rate_bps": 600}))[
        "result"
    ]["offer_id"]
    n = latest(api, "tier2", "offer_received")
    assert n["data"]["offer_id"] == offer
    assert n["data"]["counterparty_name"] == "Pujiang Commercial Bank"
    _ok(tier2.post(f"/v1/offers/{offer}/accept?wait=true"))
    n = latest(api, "bank", "offer_accepted")
    assert n["data"]["offer_id"] == offer and n["data"]["counterparty_name"] == "Wuxi Metals"
    assert kinds_of(api, "bank").count("piece_received") == 0  # the sale tells it once

    for who, piece in ((tier2, moved), (tier1, kept)):
        _ok(
            who.post(
                "/v1/financing-requests",
                json={"piece_id": piece, "amount_wanted": 100_000 * YUAN, "max_rate_bps": 800},
            )
        )
    brief = _ok(
        bank.post(
            "/v1/offers?wait=true",
            json={"piece_id": moved, "rate_bps": 600, "expires_in_seconds": 600},
        )
    )["result"]["offer_id"]
    cancelled = _ok(bank.post("/v1/offers?wait=true", json={"piece_id": kept, "rate_bps": 700}))[
        "result"
    ]["offer_id"]
    _ok(bank.post(f"/v1/offers/{cancelled}/cancel?wait=true"))
    n = latest(api, "bank", "offer_refunded")
    assert n["data"]["offer_id"] == cancelled and n["data"]["amount"] > 0
    api.rt.conn.advance_time(3600)
    _ok(bank.post(f"/v1/offers/{brief}/cancel?wait=true"))
    n = latest(api, "bank", "offer_expired")
    assert n["data"]["offer_id"] == brief

    # the regulator freezes the receivable (its debtor and every holder are told), unfreezes
    _ok(regulator.post(f"/v1/regulator/roots/{root}/freeze?wait=true", json={"reason": "audit"}))
    for who in ("core", "tier1", "tier2", "bank"):
        n = latest(api, who, "frozen")
        assert n["data"]["root_id"] == root and "Financial Regulator" in n["title"], who
    _ok(regulator.post(f"/v1/regulator/roots/{root}/unfreeze?wait=true", json={"reason": "ok"}))
    assert latest(api, "bank", "unfrozen")["data"]["root_id"] == root
    _ok(regulator.post(f"/v1/regulator/pieces/{kept}/freeze?wait=true", json={"reason": "check"}))
    n = latest(api, "tier1", "frozen")
    assert n["data"]["piece_id"] == kept
    assert kinds_of(api, "bank").count("frozen") == 1  # not its piece
    _ok(regulator.post(f"/v1/regulator/pieces/{kept}/unfreeze?wait=true", json={"reason": "ok"}))

    # maturity reminders by the ledger clock: 7 days, then 1 day, each once
    due = _ok(api.as_("auditor").get(f"/v1/audit/roots/{root}"))["root"]["due_date"]
    api.rt.conn.advance_time(due - api.rt.conn.latest_timestamp() - 6 * DAY)
    caught_up(api)
    caught_up(api)  # a second keeper run reminds no one twice
    for who in ("core", "bank", "tier1", "tier2"):
        assert kinds_of(api, who).count("due_in_7_days") >= 1, who
    seven = list(_ok(core.get("/v1/notifications", params={"kind": "due_in_7_days"})))
    assert [n["data"]["root_id"] for n in seven].count(root) == 1
    api.rt.conn.advance_time(due - api.rt.conn.latest_timestamp() - DAY // 2)
    caught_up(api)
    one = _ok(bank.get("/v1/notifications", params={"kind": "due_in_1_day"}))
    assert [n["data"]["root_id"] for n in one] == [root]
    assert "East China Motors" in one[0]["title"]

    # repaid at maturity: the keeper pays each holder, who is told
    api.rt.conn.advance_time(due - api.rt.conn.latest_timestamp())
    _ok(core.post(f"/v1/payables/{root}/repay?wait=true", json={}))
    run_once(api.rt)  # the keeper distributes, and marks the 20-day payable overdue
    n = latest(api, "bank", "payout_received")
    assert n["data"]["piece_id"] == passed and n["data"]["amount"] == 300_000 * YUAN
    assert n["data"]["counterparty_name"] == "East China Motors"
    assert kinds_of(api, "tier1").count("payout_received") == 1  # the piece it kept
    assert kinds_of(api, "tier2").count("payout_received") == 1  # the piece passed on to it
    n = latest(api, "core", "receivable_overdue")
    assert n["data"]["root_id"] == late
    assert latest(api, "tier1", "receivable_overdue")["data"]["root_id"] == late

    # the operator suspends tier 2
    _ok(op.put(f"/v1/operator/members/{a['tier2']}/status?wait=true", json={"status": "suspended"}))
    caught_up(api)
    _deliver_all(api)  # a suspended member is refused by the API: e-mail reaches it
    assert any("suspended" in m["Subject"] for m in box.to("tier2@example.com"))
    _ok(op.put(f"/v1/operator/members/{a['tier2']}/status?wait=true", json={"status": "active"}))
    assert latest(api, "tier2", "membership_suspended")["title"] == "Your membership is suspended"

    # every one of them went to the member's directory contact by e-mail
    _deliver_all(api)
    mails = box.to("bank@example.com")
    subjects = [m["Subject"] for m in mails]
    assert any("Pujiang" not in s and "accepted your offer" in s for s in subjects), subjects
    payout = next(m for m in mails if "Payout" in m["Subject"])
    text = payout.get_payload()
    assert f"receivable #{root} (invoice N-1)" in text and "East China Motors" in text
    assert payout["From"] == "scf-ledger <notify@scf.test>"
    statuses = _ok(bank.get("/v1/notifications", params={"kind": "payout_received"}))[0]
    assert [(d["channel"], d["status"], d["recipient"]) for d in statuses["deliveries"]] == [
        ("email", "delivered", "bank@example.com")
    ]
    assert statuses["deliveries"][0]["last_status"] == 250


def test_a_member_reads_marks_and_chooses_its_email(api: Api) -> None:
    tier1 = api.as_("tier1")
    caught_up(api)
    unread = _ok(tier1.get("/v1/notifications", params={"unread": True}))
    assert unread
    first = unread[0]["id"]
    n = _ok(tier1.post(f"/v1/notifications/{first}/read"))
    assert n["read"] is True and n["read_at"]
    assert first not in [x["id"] for x in _ok(tier1.get("/v1/notifications?unread=true"))]
    assert _ok(tier1.post("/v1/notifications/read", json={}))["marked"] == len(unread) - 1
    assert _ok(tier1.get("/v1/notifications?unread=true")) == []

    prefs = _ok(tier1.get("/v1/notifications/preferences"))
    assert prefs == {
        "email_enabled": True,
        "email": "tier1@example.com",
        "email_is_directory_contact": True,
        "kinds": [],
    }
    prefs = _ok(
        tier1.put(
            "/v1/notifications/preferences",
            json={"email": "treasury@suzhou.example", "kinds": ["payout_received"]},
        )
    )
    assert prefs["email"] == "treasury@suzhou.example" and not prefs["email_is_directory_contact"]
    r = tier1.put("/v1/notifications/preferences", json={"kinds": ["no_such_kind"]})
    assert r.status_code == 422, r.text
    _ok(tier1.put("/v1/notifications/preferences", json={"email_enabled": True}))


def test_another_members_notifications_and_endpoints_are_not_found(
    api: Api, receiver: Receiver
) -> None:
    caught_up(api)
    mine = _ok(api.as_("bank").get("/v1/notifications"))[0]["id"]
    tier2 = api.as_("tier2")
    for r in (
        tier2.get(f"/v1/notifications/{mine}"),
        tier2.post(f"/v1/notifications/{mine}/read"),
        tier2.post("/v1/notifications/read", json={"ids": [mine]}),
        api.as_("auditor").get(f"/v1/notifications/{mine}"),
    ):
        assert r.status_code == 404, r.text
        assert r.json()["code"] == "NotFound"
    assert mine not in [n["id"] for n in _ok(tier2.get("/v1/notifications", params={"limit": 500}))]

    hook = _ok(api.as_("bank").post("/v1/webhooks", json={"url": receiver.url}))
    for r in (
        tier2.get(f"/v1/webhooks/{hook['id']}"),
        tier2.patch(f"/v1/webhooks/{hook['id']}", json={"enabled": False}),
        tier2.delete(f"/v1/webhooks/{hook['id']}"),
        tier2.get(f"/v1/webhooks/{hook['id']}/deliveries"),
    ):
        assert r.status_code == 404, r.text
    assert _ok(tier2.get("/v1/webhooks")) == []
    assert api.as_("bank").delete(f"/v1/webhooks/{hook['id']}").status_code == 204


def _verify_snippet() -> Any:
    """The receiver's check exactly as docs/notifications.md prints it."""
    text = DOCS.read_text()
    block = re.search(r"<!-- verify -->\s*```python\n(.*?)```", text, re.S)
    assert block, "docs/notifications.md has no verify snippet"
    scope: dict[str, Any] = {}
    exec(block.group(1), scope)
    return scope["verify"]


def test_webhooks_are_signed_as_the_docs_say_and_retried_with_backoff(
    api: Api, receiver: Receiver
) -> None:
    a, bank = api.addresses, api.as_("bank")
    verify = _verify_snippet()
    hook = _ok(
        bank.post(
            "/v1/webhooks",
            json={"url": receiver.url, "kinds": ["offer_received", "piece_received"]},
        )
    )
    secret = hook["secret"]
    assert secret.startswith("whsec_") and hook["enabled"] is True
    assert "secret" not in _ok(bank.get(f"/v1/webhooks/{hook['id']}"))
    receiver.check = lambda headers, body: verify(secret, headers["SCF-Signature"], body)

    # tier 2 passes a piece to the bank: the receiver fails twice, then takes it
    tier1 = api.as_("tier1")
    root = _payable(api, "W-1", 100 * YUAN)
    receiver.script = [500, 503]
    _ok(tier1.post(f"/v1/pieces/{root}/transfer?wait=true", json={"to": a["bank"]}))
    caught_up(api)
    start = utcnow()
    deliver_due(api.rt, now=start)
    assert len(receiver.requests) == 1
    deliver_due(api.rt, now=start + timedelta(seconds=29))
    assert len(receiver.requests) == 1  # not before its backoff
    deliver_due(api.rt, now=start + timedelta(seconds=31))
    assert len(receiver.requests) == 2
    deliver_due(api.rt, now=start + timedelta(seconds=31 + 59))
    assert len(receiver.requests) == 2  # the second wait is twice the first
    deliver_due(api.rt, now=start + timedelta(seconds=31 + 61))
    assert len(receiver.requests) == 3

    got = receiver.requests[-1]
    assert got.headers["SCF-Event"] == "piece_received"
    assert verify(secret, got.headers["SCF-Signature"], got.body)
    assert not verify(secret, got.headers["SCF-Signature"], got.body + b" ")
    assert not verify("whsec_wrong", got.headers["SCF-Signature"], got.body)
    assert b'"kind":"piece_received"' in got.body and str(root).encode() in got.body

    history = _ok(bank.get(f"/v1/webhooks/{hook['id']}/deliveries"))
    assert history[0]["status"] == "delivered" and history[0]["attempts"] == 3
    assert [h["status"] for h in history[0]["history"]] == [500, 503, 200]
    times = [h["attempted_at"] for h in history[0]["history"]]
    assert times == sorted(times)
    n = latest(api, "bank", "piece_received")
    assert {d["channel"]: d["status"] for d in n["deliveries"]} == {
        "webhook": "delivered",
        "email": "delivered",
    }
    assert _ok(bank.get(f"/v1/webhooks/{hook['id']}"))["failures_in_a_row"] == 0
    assert bank.delete(f"/v1/webhooks/{hook['id']}").status_code == 204


def test_a_dead_endpoint_is_disabled_and_its_member_told(
    api: Api, receiver: Receiver, smtp: tuple[Mailbox, int]
) -> None:
    a, bank = api.addresses, api.as_("bank")
    hook = _ok(bank.post("/v1/webhooks", json={"url": receiver.url, "kinds": ["piece_received"]}))
    receiver.script = [500] * 10
    tier1 = api.as_("tier1")
    for i in range(2):
        root = _payable(api, f"D-{i}", 100 * YUAN)
        _ok(tier1.post(f"/v1/pieces/{root}/transfer?wait=true", json={"to": a["bank"]}))
    caught_up(api)
    start = utcnow()
    deliver_due(api.rt, now=start)  # two deliveries fail: two in a row
    assert _ok(bank.get(f"/v1/webhooks/{hook['id']}"))["enabled"] is True
    deliver_due(api.rt, now=start + timedelta(seconds=31))  # the third failure disables it
    endpoint = _ok(bank.get(f"/v1/webhooks/{hook['id']}"))
    assert endpoint["enabled"] is False and endpoint["failures_in_a_row"] == 3
    assert endpoint["disabled_reason"] == "3 failed deliveries in a row"
    assert len(receiver.requests) == 3
    statuses = sorted(d["status"] for d in _ok(bank.get(f"/v1/webhooks/{hook['id']}/deliveries")))
    assert statuses == ["abandoned", "abandoned"]
    deliver_due(api.rt, now=start + timedelta(hours=1))
    assert len(receiver.requests) == 3  # nothing more goes to it

    told = latest(api, "bank", "webhook_disabled")
    assert hook["id"] in told["message"] and receiver.url in told["message"]
    assert [d["channel"] for d in told["deliveries"]] == ["email"]
    deliver_due(api.rt)
    mail = smtp[0].to("bank@example.com")[-1]
    assert "was disabled" in mail["Subject"] and receiver.url in mail.get_payload()

    again = _ok(bank.patch(f"/v1/webhooks/{hook['id']}", json={"enabled": True}))
    assert again["enabled"] is True and again["failures_in_a_row"] == 0
    assert bank.delete(f"/v1/webhooks/{hook['id']}").status_code == 204
    with Session(api.rt.engine) as session:
        attempts = session.exec(select(DeliveryAttempt)).all()
        assert all(x.attempted_at is not None for x in attempts)
        assert session.exec(select(NotificationDelivery)).first() is not None


def test_webhook_urls_into_private_networks_are_refused_in_production(api: Api) -> None:
    from backend.errors import InvalidInput
    from backend.services.delivery import check_webhook_url

    production = BackendSettings.model_construct(profile="production", webhook_allow_private=None)
    for url in (
        "https://127.0.0.1/hook",
        "https://10.0.0.8/hook",
        "https://192.168.1.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://localhost/hook",
        "http://93.184.215.14/hook",  # public, but not https
        "ftp://example.com/x",
    ):
        with pytest.raises(InvalidInput) as refused:
            check_webhook_url(url, production)
        assert refused.value.code == "WebhookUrlRefused", url
    check_webhook_url("https://93.184.215.14/hook", production)  # a public address passes
    assert not production.webhooks_reach_private
    assert BackendSettings(profile="embedded").webhooks_reach_private


def test_the_api_refuses_private_webhook_urls_when_the_setting_says_so() -> None:
    settings = BackendSettings(
        profile="embedded", wait_timeout_seconds=30, webhook_allow_private=False
    )
    for api in make_api(settings):
        r = api.as_("bank").post("/v1/webhooks", json={"url": "https://127.0.0.1:9/hook"})
        assert r.status_code == 422, r.text
        body = r.json()
        assert body["code"] == "WebhookUrlRefused"
        assert "127.0.0.1" in body["message"] and "loopback" in body["message"]
        r = api.as_("bank").post("/v1/webhooks", json={"url": "http://example.com/hook"})
        assert r.status_code == 422 and r.json()["code"] == "WebhookUrlRefused", r.text
