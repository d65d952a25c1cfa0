"""The action log's hash chain, anchored on the eth-tester chain by the keeper and verified
against the anchors the chain holds; tampering is caught."""

from __future__ import annotations

import itertools
import os
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from backend.config import load_config
from backend.db import make_engine
from backend.db import upgrade as upgrade_backend
from backend.keeper import anchor_action_log
from backend.models import ActionLogEntry, ActionLogHead
from backend.runtime import Runtime
from backend.services import action_log
from backend.tools.serve import build_app
from tests.backend.conftest import Api

PG_ADMIN_DSN = os.environ.get("SCF_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def _append(rt: Runtime, n: int) -> None:
    with Session(rt.engine) as session:
        for i in range(n):
            action_log.record(
                session,
                member="0xabc",
                action="test.action",
                result=action_log.OK,
                details={"i": i},
            )
        session.commit()


def test_anchor_then_tampering_after_it_is_caught_by_the_anchor() -> None:
    app = build_app(load_config(profile="embedded"), keeper=False)
    with TestClient(app):
        rt: Runtime = app.state.runtime
        _append(rt, 3)
        anchored = anchor_action_log(rt)
        assert anchored is not None and anchored["status"] == "mined"
        assert anchor_action_log(rt) is None  # the head has not moved
        with Session(rt.engine) as session:
            report = action_log.verify_with_ledger(rt, session)
            assert report.ok, report.problems
            assert report.anchors_checked == 1 and report.last_seq == anchored["seq"]
            # a forger rewrites the last anchored entry and recomputes its hash and the head
            seq = anchored["seq"]
            entry = session.get(ActionLogEntry, seq)
            assert entry is not None
            entry.details = {"i": 99}
            entry.hash = action_log.entry_hash(entry)
            session.add(entry)
            head = session.get(ActionLogHead, 1)
            assert head is not None
            head.hash = entry.hash
            session.add(head)
            session.commit()
            report = action_log.verify_with_ledger(rt, session)
            assert not report.ok
            assert report.broken_seq == seq
            assert "does not match the anchor" in (report.first_break or "")


def test_an_edited_entry_and_a_deleted_entry_are_each_named() -> None:
    app = build_app(load_config(profile="embedded"), keeper=False)
    with TestClient(app):
        rt: Runtime = app.state.runtime
        _append(rt, 5)
        with Session(rt.engine) as session:
            assert action_log.verify_with_ledger(rt, session).ok
            edited = session.get(ActionLogEntry, 2)
            assert edited is not None
            edited.details = {"i": 42}
            session.add(edited)
            session.commit()
            report = action_log.verify_with_ledger(rt, session)
            assert report.broken_seq == 2 and "entry 2 (test.action) was changed" in (
                report.first_break or ""
            )
            edited.details = {"i": 1}
            session.add(edited)
            deleted = session.get(ActionLogEntry, 4)
            session.delete(deleted)
            session.commit()
            report = action_log.verify_with_ledger(rt, session)
            assert report.broken_seq == 5
            assert report.first_break == "entry 4 is missing (seq jumps to 5)"


def test_logins_logouts_and_api_keys_are_in_the_log_and_the_chain_holds(fresh_api: Api) -> None:
    from eth_account import Account
    from sqlmodel import select

    from backend.security import sign_message
    from chain.connection import dev_account

    api = fresh_api
    auditor_key = dev_account(1)  # the consortium's auditor holds its own key
    token = api.login(auditor_key)
    me = {"Authorization": f"Bearer {token}"}
    r = api.client.post("/v1/auth/api-keys", json={"name": "erp"}, headers=me)
    assert r.status_code == 201, r.text
    key_id = r.json()["id"]
    assert api.client.delete(f"/v1/auth/api-keys/{key_id}", headers=me).status_code == 204
    assert api.client.post("/v1/auth/logout", headers=me).status_code == 204
    # a login signed by someone else is refused, and logged as a failure
    ch = api.client.post("/v1/auth/challenge", json={"address": auditor_key.address}).json()
    bad = sign_message(Account.create(), ch["message"])
    r = api.client.post(
        "/v1/auth/login", json={"challenge_id": ch["challenge_id"], "signature": bad}
    )
    assert r.status_code == 401, r.text

    mine = auditor_key.address.lower()
    with Session(api.rt.engine) as session:
        rows = session.exec(
            select(ActionLogEntry).where(ActionLogEntry.member == mine).order_by(ActionLogEntry.seq)  # type: ignore[arg-type]
        ).all()
        report = action_log.verify_with_ledger(api.rt, session)
    trail = [(e.action, e.result) for e in rows]
    assert trail[-5:] == [
        ("auth.login", "ok"),
        ("api_key.create", "ok"),
        ("api_key.revoke", "ok"),
        ("auth.logout", "ok"),
        ("auth.login", "failed"),
    ]
    assert rows[-1].details == {"code": "BadSignature"}
    assert rows[-4].target == key_id and rows[-1].source == "testclient"
    assert report.ok, report.problems


def test_auditors_read_the_log_by_member_action_and_time_and_as_csv(fresh_api: Api) -> None:
    import csv
    import io
    from datetime import UTC, datetime, timedelta

    api = fresh_api
    auditor = api.as_("auditor")  # its login (conftest) is in the log
    start = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    member = api.addresses["auditor"]
    r = auditor.get(
        "/v1/audit/action-log", params={"member": member.lower(), "action": "auth.login"}
    )
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert items and all(
        i["member"] == member and i["action"] == "auth.login" for i in items
    )  # asked in lower case, answered in EIP-55
    assert items[0]["member_name"] == "Lixin Auditors"
    later = auditor.get("/v1/audit/action-log", params={"since": start}).json()["items"]
    assert {i["seq"] for i in items} <= {i["seq"] for i in later}
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert auditor.get("/v1/audit/action-log", params={"since": future}).json()["items"] == []
    page = auditor.get("/v1/audit/action-log", params={"limit": 1}).json()
    assert len(page["items"]) == 1 and page["next_cursor"] == page["items"][0]["seq"]
    nxt = auditor.get("/v1/audit/action-log", params={"limit": 1, "cursor": page["next_cursor"]})
    assert nxt.json()["items"][0]["seq"] == page["items"][0]["seq"] + 1

    exported = auditor.get("/v1/audit/action-log", params={"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [int(x["seq"]) for x in rows] == [
        i["seq"] for i in auditor.get("/v1/audit/action-log").json()["items"]
    ]
    empty = auditor.get("/v1/audit/action-log", params={"since": future, "format": "csv"})
    assert empty.text.splitlines() == [",".join(action_log.COLUMNS)]

    naive = auditor.get("/v1/audit/action-log", params={"since": "2026-12-01T00:00:00"})
    assert naive.status_code == 422 and naive.json()["code"] == "NaiveDateTime"
    assert api.as_("tier1").get("/v1/audit/action-log").status_code == 403


def test_the_operators_and_regulators_writes_are_in_the_log(fresh_api: Api) -> None:
    api, a = fresh_api, fresh_api.addresses
    op = api.as_("operator")
    r = op.put(f"/v1/operator/members/{a['tier2']}/status?wait=true", json={"status": "suspended"})
    assert r.status_code == 202, r.text
    suspended = r.json()["id"]
    r = op.post("/v1/operator/cash/mint?wait=true", json={"account": a["bank"], "amount": 500})
    assert r.status_code == 202, r.text
    minted = r.json()["id"]
    entries = (
        api.as_("auditor")
        .get("/v1/audit/action-log", params={"member": a["operator"]})
        .json()["items"]
    )
    by_request = {e["details"].get("transaction"): e for e in entries}
    assert by_request[suspended]["action"] == "member.suspend"
    assert by_request[suspended]["result"] == "submitted"
    assert by_request[minted]["action"] == "cash.mint"
    assert by_request[minted]["details"]["amount"] == 500
    assert by_request[minted]["source"] == "testclient"
    # onboarding the consortium left one entry per member
    assert sum(e["action"] == "member.add" for e in entries) == 6
    with Session(api.rt.engine) as session:
        assert action_log.verify_with_ledger(api.rt, session).ok


def test_uploads_and_directory_changes_are_in_the_log(fresh_api: Api) -> None:
    import hashlib

    from tests.backend.attachment_files import PDF

    api, a = fresh_api, fresh_api.addresses
    r = api.as_("tier1").post(
        "/v1/attachments", files={"file": ("invoice.pdf", PDF, "application/pdf")}
    )
    assert r.status_code == 201, r.text
    r = api.as_("operator").put(
        f"/v1/operator/members/{a['bank']}/profile", json={"legal_name": "浦江银行"}
    )
    assert r.status_code == 200, r.text
    log = api.as_("auditor").get("/v1/audit/action-log").json()["items"]
    upload = next(e for e in log if e["action"] == "document.upload")
    assert upload["member"] == a["tier1"] and upload["target"] == hashlib.sha256(PDF).hexdigest()
    assert upload["details"]["file_name"] == "invoice.pdf"
    changed = next(e for e in log if e["action"] == "directory.update")
    assert changed["member"] == a["operator"] and changed["target"] == a["bank"].lower()
    assert changed["details"]["legal_name"] == "浦江银行"


@pytest.fixture
def pg_backend() -> Iterator[Engine]:
    """The backend's tables in a throwaway PostgreSQL database."""
    name = f"scf_log_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(PG_ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}", pool_size=10)
    try:
        upgrade_backend(engine)
        yield engine
    finally:
        engine.dispose()
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_concurrent_writers_on_postgresql_never_fork_the_chain(pg_backend: Engine) -> None:
    writers, each = 8, 30
    start = threading.Barrier(writers)
    failures: list[BaseException] = []

    def write(w: int) -> None:
        try:
            start.wait(timeout=30)
            for i in range(each):
                with Session(pg_backend) as session:  # a session, a transaction, per action
                    action_log.record(
                        session,
                        member=f"0x{w:040x}",
                        action="test.concurrent",
                        result=action_log.OK,
                        details={"writer": w, "i": i},
                    )
                    if i % 10 == 9:  # an action that fails after logging: its entry goes too
                        action_log.record(
                            session, member=None, action="test.aborted", result=action_log.OK
                        )
                        session.rollback()
                        continue
                    session.commit()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not failures, failures
    kept = writers * (each - each // 10)
    with Session(pg_backend) as session:
        log = list(action_log.all_entries(session, page=50))
        head = action_log.head(session)
        report = action_log.verify(log, [], head)
    pairs = list(itertools.pairwise(log))
    assert [e.seq for e in log] == list(range(1, kept + 1))  # no gap, no seq twice
    assert all(e.action == "test.concurrent" for e in log)  # the rolled-back ones left nothing
    assert all(b.prev_hash == a.hash for a, b in pairs)
    assert log[0].prev_hash == action_log.GENESIS
    assert report.ok and report.last_seq == kept, report.problems
    assert head == (kept, log[-1].hash)
    done = {(e.details["writer"], e.details["i"]) for e in log}
    assert done == {(w, i) for w in range(writers) for i in range(each) if i % 10 != 9}
    # the writers did overlap: the chain switches writer far more often than once per writer
    switches = sum(a.details["writer"] != b.details["writer"] for a, b in pairs)
    assert switches >= writers, switches


def test_a_member_reads_its_own_logins_and_key_changes_never_another_members(
    fresh_api: Api,
) -> None:
    import csv
    import io
    from datetime import UTC, datetime, timedelta

    from eth_account import Account

    from backend.security import sign_message
    from chain.connection import dev_account
    from tests.backend.attachment_files import PDF

    api = fresh_api
    own = Account.create()  # a supplier that holds its own key and logs in by signing
    r = api.as_("operator").post(
        "/v1/operator/members?wait=true",
        json={"legal_id": "USCC-tier3", "roles": ["SUPPLIER"], "address": own.address},
    )
    assert r.status_code == 202, r.text
    me = {"Authorization": f"Bearer {api.login(own)}"}
    r = api.client.post("/v1/auth/api-keys", json={"name": "erp"}, headers=me)
    assert r.status_code == 201, r.text
    key_id = r.json()["id"]
    assert api.client.delete(f"/v1/auth/api-keys/{key_id}", headers=me).status_code == 204
    assert api.client.post("/v1/auth/logout", headers=me).status_code == 204
    ch = api.client.post("/v1/auth/challenge", json={"address": own.address}).json()
    r = api.client.post(
        "/v1/auth/login",
        json={
            "challenge_id": ch["challenge_id"],
            "signature": sign_message(Account.create(), ch["message"]),
        },
    )
    assert r.status_code == 401, r.text
    me = {"Authorization": f"Bearer {api.login(own)}"}
    # another member's actions meanwhile: tier1 uploads, the auditor logs in
    r = api.as_("tier1").post(
        "/v1/attachments", files={"file": ("invoice.pdf", PDF, "application/pdf")}
    )
    assert r.status_code == 201, r.text
    api.login(dev_account(1))

    r = api.client.get("/v1/me/action-log", headers=me)
    assert r.status_code == 200, r.text
    mine = r.json()["items"]
    assert [(e["action"], e["result"]) for e in mine] == [
        ("auth.login", "ok"),
        ("api_key.create", "ok"),
        ("api_key.revoke", "ok"),
        ("auth.logout", "ok"),
        ("auth.login", "failed"),
        ("auth.login", "ok"),
    ]
    assert {e["member"] for e in mine} == {own.address}
    assert mine[1]["target"] == key_id and mine[4]["details"] == {"code": "BadSignature"}
    assert r.json()["next_cursor"] is None
    # asking for another member's is not a filter it has: still its own
    r = api.client.get("/v1/me/action-log", params={"member": api.addresses["tier1"]}, headers=me)
    assert [e["seq"] for e in r.json()["items"]] == [e["seq"] for e in mine]
    theirs = api.as_("tier1").get("/v1/me/action-log").json()["items"]
    assert [e["action"] for e in theirs] == ["document.upload"]
    assert theirs[0]["member"] == api.addresses["tier1"]
    assert not {e["seq"] for e in theirs} & {e["seq"] for e in mine}

    def ask(**params: Any) -> list[int]:
        r = api.client.get("/v1/me/action-log", params=params, headers=me)
        assert r.status_code == 200, r.text
        return [e["seq"] for e in r.json()["items"]]

    seqs = [e["seq"] for e in mine]
    assert ask(action="api_key.revoke") == [seqs[2]]
    assert ask(action="auth.login") == [seqs[0], seqs[4], seqs[5]]
    assert ask(user="clerk") == []  # no staff user acted
    hour = timedelta(hours=1)
    assert ask(since=(datetime.now(UTC) - hour).isoformat()) == seqs
    assert ask(until=(datetime.now(UTC) - hour).isoformat()) == []
    assert ask(since=mine[3]["at"]) == seqs[3:]
    assert ask(until=mine[3]["at"]) == seqs[:3]
    first = api.client.get("/v1/me/action-log", params={"limit": 4}, headers=me).json()
    assert [e["seq"] for e in first["items"]] == seqs[:4] and first["next_cursor"] == seqs[3]
    assert ask(limit=4, cursor=first["next_cursor"]) == seqs[4:]

    exported = api.client.get("/v1/me/action-log", params={"format": "csv"}, headers=me)
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [int(x["seq"]) for x in rows] == seqs and {x["member"] for x in rows} == {own.address}
    by_accept = api.client.get("/v1/me/action-log", headers={**me, "Accept": "text/csv"})
    assert by_accept.text == exported.text

    naive = api.client.get("/v1/me/action-log", params={"since": "2026-12-01T00:00:00"}, headers=me)
    assert naive.status_code == 422 and naive.json()["code"] == "NaiveDateTime"
    assert api.client.get("/v1/me/action-log").status_code == 401


def test_a_staff_user_reads_its_own_entries_and_an_administrator_everyone_of_its_member(
    fresh_api: Api,
) -> None:
    from tests.backend.staff_tools import add_user, enrol, first_admin

    api = fresh_api
    enrol(api, first_admin(api, "tier1", "t1.admin"), as_name="t1.admin")
    enrol(api, add_user(api, "t1.admin", "t1.clerk", ["view"]), as_name="t1.clerk")
    enrol(api, first_admin(api, "bank", "bk.admin"), as_name="bk.admin")

    def read(who: str, **params: Any) -> Any:
        return api.as_(who).get("/v1/me/action-log", params=params)

    clerk = read("t1.clerk").json()["items"]
    assert clerk and {e["user"] for e in clerk} == {"t1.clerk"}
    assert {e["action"] for e in clerk} >= {"auth.staff_login", "user.password"}
    admin = read("t1.admin").json()["items"]
    assert {e["user"] for e in admin} >= {"t1.admin", "t1.clerk"}
    assert {e["member"] for e in admin} == {api.addresses["tier1"]}  # not the bank's admin
    made = [(e["user"], e["target"]) for e in admin if e["action"] == "user.create"]
    assert made == [(None, "t1.admin"), ("t1.admin", "t1.clerk")]  # the operator made the first
    assert [e["seq"] for e in read("t1.admin", user="t1.clerk").json()["items"]] == [
        e["seq"] for e in clerk
    ]
    r = read("t1.clerk", user="t1.admin")
    assert r.status_code == 403 and r.json()["code"] == "MissingPermission"
    assert "t1.admin's need the permission users.admin" in r.json()["message"]
    assert read("t1.clerk", user="t1.clerk").json()["items"] == clerk
    bank = read("bk.admin").json()["items"]
    assert {e["member"] for e in bank} == {api.addresses["bank"]}
    assert not {e["user"] for e in bank} & {"t1.admin", "t1.clerk"}
