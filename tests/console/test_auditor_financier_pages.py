"""The auditor's and financier's console pages without a browser: each CSV the auditor downloads
is exactly the file its /v1/audit route serves, the pages are for their roles only, a mistyped
filter names its field, and a financier's change of rate that cannot be read leaves its offer
standing."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.backend.conftest import YUAN, Api, make_api
from tests.backend.test_story import Financed, originate_and_finance
from tests.console.clients import browser
from tests.console.test_session import csrf_of, logged_in


@pytest.fixture(scope="module")
def ledger() -> Iterator[tuple[Api, Financed]]:
    """The story's first half (split, one piece sold to the bank) with the console mounted."""
    for api in make_api(with_console=True):
        yield api, originate_and_finance(api)


def test_each_csv_the_auditor_downloads_is_the_file_the_api_serves(
    ledger: tuple[Api, Financed],
) -> None:
    api, f = ledger
    auditor, page = api.as_("auditor"), logged_in(api, "auditor")
    bank = api.addresses["bank"].lower()
    block = api.rt.mirror_cursor()
    pairs = {
        f"/console/auditor/events.csv?event=OfferAccepted&party={bank}": (
            f"/v1/audit/events?event=OfferAccepted&party={bank}&format=csv"
        ),
        "/console/auditor/events.csv?from_block=&to_block=&contract=&event=&party=": (
            "/v1/audit/events?format=csv"
        ),
        f"/console/auditor/roots/{f.root}/history.csv": f"/v1/audit/roots/{f.root}?format=csv",
        f"/console/auditor/holdings.csv?block={block}&holder=": (
            f"/v1/audit/holdings?block={block}&format=csv"
        ),
        "/console/auditor/exposure.csv?by=debtor": "/v1/audit/exposure?by=debtor&format=csv",
        "/console/auditor/exposure.csv?by=financier": "/v1/audit/exposure?by=financier&format=csv",
        "/console/auditor/aging.csv": "/v1/audit/aging?format=csv",
        "/console/auditor/reconciliation.csv": "/v1/audit/reconciliation?format=csv",
    }
    for console_path, api_path in pairs.items():
        mine, theirs = page.get(console_path), auditor.get(api_path)
        assert mine.status_code == theirs.status_code == 200, (console_path, mine.text)
        assert mine.headers["content-type"].startswith("text/csv")
        assert mine.headers["content-disposition"] == theirs.headers["content-disposition"]
        assert mine.text == theirs.text, console_path
        assert mine.text.count("\n") >= 2 or "reconciliation" in console_path, console_path


def test_the_auditors_pages_are_for_auditors_and_regulators_only(
    ledger: tuple[Api, Financed],
) -> None:
    api, f = ledger
    paths = (
        "/console/auditor",
        f"/console/auditor/roots/{f.root}",
        "/console/auditor/events",
        "/console/auditor/holdings",
        "/console/auditor/aging.csv",
    )
    for who in ("auditor", "regulator"):
        page = logged_in(api, who)
        for path in paths:
            assert page.get(path).status_code == 200, (who, path)
    for who in ("bank", "tier1", "core"):
        page = logged_in(api, who)
        for path in paths:
            resp = page.get(path)
            assert resp.status_code == 403, (who, path)
            assert "MissingRole" in resp.text and "needs the role AUDITOR or REGULATOR" in resp.text
    assert logged_in(api, "auditor").get("/console/financier").status_code == 403


def test_the_tree_page_draws_the_receivable_and_lists_its_pieces(
    ledger: tuple[Api, Financed],
) -> None:
    api, f = ledger
    html = logged_in(api, "auditor").get(f"/console/auditor/roots/{f.root}").text
    assert f'aria-label="Provenance of receivable #{f.root}: 3 pieces on 2 levels"' in html
    assert f'data-piece="{f.passed}"' in html and f'data-piece="{f.kept}"' in html
    assert "Pujiang Commercial Bank" in html  # the bank, as the sold piece's holder
    zh = browser(api, cookies={"scf_lang": "zh"})
    key = api.headers["auditor"]["Authorization"].removeprefix("Bearer ")
    assert zh.post("/console/login", data={"api_key": key}).status_code == 200
    html = zh.get(f"/console/auditor/roots/{f.root}").text
    assert f"应收账款 #{f.root} 的穿透图：3 个凭证，2 层" in html  # noqa: RUF001 (Chinese commas)


@pytest.mark.parametrize(
    ("path", "field", "words"),
    [
        ("/console/auditor/events?from_block=ten", "from_block", "is not a block number"),
        ("/console/auditor/events?party=0x123", "party", "is not an address"),
        ("/console/auditor/events?event=Piece%20Split", "event", "is not an event name"),
        ("/console/auditor/holdings?block=-1", "block", "is not a block number"),
        ("/console/auditor/roots?root_id=twelve", "root_id", "is not a receivable number"),
    ],
)
def test_a_mistyped_filter_is_refused_naming_its_field(
    ledger: tuple[Api, Financed], path: str, field: str, words: str
) -> None:
    api, _ = ledger
    resp = logged_in(api, "auditor").get(path)
    assert resp.status_code == 422
    assert field in resp.text and words in resp.text


def test_a_block_beyond_the_head_is_refused_naming_the_head(
    ledger: tuple[Api, Financed],
) -> None:
    api, _ = ledger
    resp = logged_in(api, "auditor").get("/console/auditor/holdings?block=99999999")
    assert resp.status_code == 422 and "BlockBeyondHead" in resp.text
    assert "block 99999999 is beyond the chain" in resp.text


def test_an_unreadable_new_rate_leaves_the_offer_standing(ledger: tuple[Api, Financed]) -> None:
    api, f = ledger
    asked = api.as_("tier1").post(
        "/v1/financing-requests",
        json={"piece_id": f.kept, "amount_wanted": 500_000 * YUAN, "max_rate_bps": 900},
    )
    assert asked.status_code == 201, asked.text
    page = logged_in(api, "bank")
    home = page.get("/console/financier")
    assert "¥600,000.00" in home.text and "9.00%" in home.text  # the request, as the bank sees it
    token = csrf_of(home.text)
    posted = page.post(
        "/console/financier/offers",
        data={"csrf": token, "piece_id": str(f.kept), "rate": "6"},
    )
    assert posted.status_code == 200 and "held in escrow" in posted.text
    offer = int(re.findall(r"/console/financier/offers/(\d+)/withdraw", posted.text)[0])
    refused = page.post(
        f"/console/financier/offers/{offer}/change", data={"csrf": token, "rate": "x"}
    )
    assert refused.status_code == 422 and "is not a yearly rate in percent" in refused.text
    still = api.as_("bank").get(f"/v1/offers/{offer}").json()
    assert still["status"] == "open"
    above = page.post(
        f"/console/financier/offers/{offer}/change", data={"csrf": token, "rate": "12"}
    )
    # above the supplier's maximum: refused before the old offer is withdrawn
    assert above.status_code == 409 and "OfferAboveMaxRate" in above.text
    assert api.as_("bank").get(f"/v1/offers/{offer}").json()["status"] == "open"
    without_token = page.post(f"/console/financier/offers/{offer}/withdraw", data={})
    assert without_token.status_code == 403 and "CsrfTokenMissing" in without_token.text
