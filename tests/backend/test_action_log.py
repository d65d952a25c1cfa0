"""The action log's hash chain, anchored on the eth-tester chain by the keeper and verified
against the anchors the chain holds; tampering is caught."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session

from backend.config import load_config
from backend.keeper import anchor_action_log
from backend.models import ActionLogEntry, ActionLogHead
from backend.runtime import Runtime
from backend.services import action_log
from backend.tools.serve import build_app


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
