"""The demo story through the ASGI app on the embedded profile (eth-tester, SQLite, eager)."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from rich.console import Console

from backend.config import load_config
from backend.tools import demo
from backend.tools.demo import CASH, FACE, KEPT, PASSED, StoryFailed, run_story
from backend.tools.serve import build_app
from chain.connection import dev_account


@pytest.fixture(scope="module")
def http() -> Iterator[TestClient]:
    with TestClient(build_app(load_config(profile="embedded"), keeper=False)) as client:
        yield client


def test_demo_story_checks_out_on_the_embedded_profile(
    http: TestClient, console: tuple[Console, io.StringIO]
) -> None:
    out, buffer = console
    result = run_story(http, operator=dev_account(0), console=out)
    # a second run on the same ledger (chain time has moved 30 days) checks out too
    again = run_story(http, operator=dev_account(0), console=out)
    printed = buffer.getvalue()
    assert result["cash"]["tier1"] == KEPT
    assert result["cash"]["bank"] == CASH - result["price"] + PASSED
    assert result["cash"]["core"] == CASH - FACE
    assert again["root"] != result["root"] and again["cash"]["tier1"] == KEPT
    assert "POST /v1/pieces/" in printed and " tx 0x" in printed
    assert printed.count("the story checks out") == 2
    # each party's statement is printed, and its sums were checked against its cash
    assert printed.count("account statements") == 2
    assert printed.count("opening + movements = closing = cash, for each") == 2
    assert "repayment of receivable" in printed and "sale of piece" in printed


def test_demo_story_fails_on_a_figure_the_rules_do_not_give(
    http: TestClient, console: tuple[Console, io.StringIO], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo, "discount_price", lambda amount, **kw: amount)
    with pytest.raises(StoryFailed, match=r"offer price \d+ is not the discounted price"):
        run_story(http, operator=dev_account(0), console=console[0])
