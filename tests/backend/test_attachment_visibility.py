"""Who sees the documents behind a receivable, one rule over list, download and verify: the
debtor, the original supplier, every current holder of a piece, a financier that a financing
request for one of its pieces was shown to (open now, or one it made an offer on), auditors and
regulators. Everyone else gets 404, as if there were no such invoice."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.backend.attachment_files import PDF, register, uploaded, verify
from tests.backend.conftest import YUAN, Api

FILE = PDF + b"%visibility"


@dataclass(frozen=True)
class Scene:
    invoice_id: int
    sha256: str


def onboard(api: Api, name: str, role: str) -> None:
    r = api.as_("operator").post(
        "/v1/operator/members?wait=true", json={"legal_id": f"USCC-{name}", "roles": [role]}
    )
    assert r.status_code == 202, r.text
    api.addresses[name] = r.json()["address"]
    api.headers[name] = {"Authorization": f"Bearer {api.activate(r.json())}"}


def sees(api: Api, who: str, scene: Scene) -> bool:
    """What `who` gets from each of the three ways in, which must agree."""
    listed = api.as_(who).get(f"/v1/invoices/{scene.invoice_id}/attachments")
    got = api.as_(who).get(f"/v1/invoices/{scene.invoice_id}/attachments/{scene.sha256}")
    assert listed.status_code in (200, 404) and got.status_code == listed.status_code, who
    if listed.status_code == 404:
        assert listed.json()["code"] == got.json()["code"] == "NotFound"
    else:
        assert got.content == FILE
    matched = [m["invoice_id"] for m in verify(api, who, FILE)["matches"]]
    assert matched == ([scene.invoice_id] if listed.status_code == 200 else []), who
    return listed.status_code == 200


@pytest.fixture(scope="module")
def scene(api: Api) -> Scene:
    """tier1 registers an invoice on core with a file; core confirms; tier1 passes a piece to
    tier2 and asks for financing on the one it kept."""
    a = api.addresses
    onboard(api, "bank2", "FINANCIER")
    onboard(api, "bank3", "FINANCIER")
    r = api.as_("operator").post(
        "/v1/operator/cash/mint?wait=true", json={"account": a["bank3"], "amount": 10_000 * YUAN}
    )
    assert r.status_code == 202, r.text
    onboard(api, "outsider", "SUPPLIER")
    digest = uploaded(api, "tier1", FILE)
    r = register(api, "INV-SEEN-1", [(digest, "invoice")], amount=10_000)
    assert r.status_code == 202, r.text
    made = r.json()["invoice"]
    root = made["root_id"]
    assert api.as_("core").post(f"/v1/payables/{root}/confirm?wait=true").status_code == 202
    r = api.as_("tier1").post(
        f"/v1/pieces/{root}/split?wait=true",
        json={
            "parts": [
                {"to": a["tier1"], "amount": 6000 * YUAN},
                {"to": a["tier2"], "amount": 4000 * YUAN},
            ]
        },
    )
    assert r.status_code == 202, r.text
    kept, _ = r.json()["result"]["child_ids"]
    ask = {"piece_id": kept, "amount_wanted": 5000 * YUAN, "max_rate_bps": 900}
    assert api.as_("tier1").post("/v1/financing-requests", json=ask).status_code == 201
    api.addresses["kept"] = str(kept)
    return Scene(invoice_id=made["id"], sha256=digest)


#: Before the bank buys: every financier is shown the open request.
WHILE_OFFERED = {
    "core": True,  # the debtor
    "tier1": True,  # the original supplier (and a holder)
    "tier2": True,  # a current holder of a piece
    "bank": True,  # a financier shown the open request
    "bank2": True,  # so is every other financier, while it is open
    "bank3": True,
    "regulator": True,
    "auditor": True,
    "outsider": False,  # a supplier with no part in it
    "operator": False,  # administers the consortium, is no party to its receivables
}
#: After the bank bought the piece: the request is no longer open. The bank holds a piece;
#: bank3 made an offer that lost (the ledger keeps it); bank2 only saw the request.
AFTER_SALE = {**WHILE_OFFERED, "bank": True, "bank3": True, "bank2": False}


def test_every_party_sees_the_documents_while_a_request_is_open_and_no_one_else(
    api: Api, scene: Scene
) -> None:
    assert {who: sees(api, who, scene) for who in WHILE_OFFERED} == WHILE_OFFERED


def test_the_bank_that_bought_a_piece_sees_them_and_one_never_offered_it_does_not(
    api: Api, scene: Scene
) -> None:
    kept = int(api.addresses["kept"])
    r = api.as_("bank3").post("/v1/offers?wait=true", json={"piece_id": kept, "rate_bps": 850})
    assert r.status_code == 202, r.text
    r = api.as_("bank").post("/v1/offers?wait=true", json={"piece_id": kept, "rate_bps": 600})
    assert r.status_code == 202, r.text
    offer = r.json()["result"]["offer_id"]
    assert api.as_("tier1").post(f"/v1/offers/{offer}/accept?wait=true").status_code == 202
    assert {who: sees(api, who, scene) for who in AFTER_SALE} == AFTER_SALE


def test_an_invoice_that_does_not_exist_is_refused_as_one_not_seen(api: Api) -> None:
    r = api.as_("auditor").get(f"/v1/invoices/{10**9}/attachments")
    assert r.status_code == 404 and r.json()["code"] == "NotFound", r.text
