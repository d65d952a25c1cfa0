"""Domain rules of issue 12: refusals the API gives before anything is sent to the ledger."""

from __future__ import annotations

from tests.backend.conftest import YUAN, Api, invoice


def test_transfer_of_a_piece_to_its_own_holder_is_refused_before_sending(api: Api) -> None:
    a = api.addresses
    r = api.as_("core").post(
        "/v1/payables?wait=true", json=invoice(a["tier1"], a["core"], "SELF-1", 5000 * YUAN)
    )
    assert r.status_code == 202, r.text
    root = r.json()["invoice"]["root_id"]
    r = api.as_("tier1").post(f"/v1/pieces/{root}/transfer", json={"to": a["tier1"]})
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["code"] == "TransferToSelf"
    assert body["details"]["pieceId"] == root


def test_a_second_open_financing_request_for_a_piece_is_refused_naming_the_open_one(
    api: Api,
) -> None:
    a = api.addresses
    r = api.as_("core").post(
        "/v1/payables?wait=true", json=invoice(a["tier1"], a["core"], "FIN-TWO-1", 5000 * YUAN)
    )
    assert r.status_code == 202, r.text
    root = r.json()["invoice"]["root_id"]
    ask = {"piece_id": root, "amount_wanted": 4000 * YUAN, "max_rate_bps": 500}
    first = api.as_("tier1").post("/v1/financing-requests", json=ask)
    assert first.status_code == 201, first.text
    r = api.as_("tier1").post("/v1/financing-requests", json=ask)
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "FinancingRequestOpen"
    assert r.json()["details"]["financing_request_id"] == first.json()["id"]
    # once the open one is cancelled, a new one may be made
    fid = first.json()["id"]
    assert api.as_("tier1").post(f"/v1/financing-requests/{fid}/cancel").status_code == 200
    assert api.as_("tier1").post("/v1/financing-requests", json=ask).status_code == 201


def test_an_offer_above_the_open_requests_maximum_rate_is_refused(api: Api) -> None:
    a = api.addresses
    r = api.as_("core").post(
        "/v1/payables?wait=true", json=invoice(a["tier1"], a["core"], "FIN-RATE-1", 5000 * YUAN)
    )
    assert r.status_code == 202, r.text
    root = r.json()["invoice"]["root_id"]
    ask = {"piece_id": root, "amount_wanted": 4000 * YUAN, "max_rate_bps": 500}
    fr = api.as_("tier1").post("/v1/financing-requests", json=ask)
    assert fr.status_code == 201, fr.text
    r = api.as_("bank").post("/v1/offers", json={"piece_id": root, "rate_bps": 800})
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "OfferAboveMaxRate"
    assert r.json()["details"]["financing_request_id"] == fr.json()["id"]
    assert r.json()["details"]["max_rate_bps"] == 500


def test_a_credit_limit_cut_below_usage_is_allowed_and_raises_an_alert(fresh_api: Api) -> None:
    from sqlmodel import Session, select

    from backend.models import Alert

    api = fresh_api
    a = api.addresses
    r = api.as_("core").post(
        "/v1/payables?wait=true", json=invoice(a["tier1"], a["core"], "CUT-1", 5000 * YUAN)
    )
    assert r.status_code == 202, r.text
    r = api.as_("operator").put(
        f"/v1/operator/members/{a['core']}/credit-limit?wait=true", json={"credit_limit": 100}
    )
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "mined"
    [warning] = r.json()["warnings"]
    assert warning["code"] == "CreditLimitBelowUsage"
    assert warning["details"]["credit_used"] == 5000 * YUAN
    assert a["core"] in warning["message"]  # named by its address, in EIP-55
    with Session(api.rt.engine) as session:
        alerts = session.exec(select(Alert).where(Alert.kind == "credit_limit_below_usage")).all()
    assert len(alerts) == 1
    assert alerts[0].details["credit_limit"] == 100
    assert alerts[0].details["credit_used"] == 5000 * YUAN
    assert alerts[0].details["tx_request_id"] == r.json()["id"]

    # a limit refused before it is sent (not a core enterprise) leaves no alert behind
    r = api.as_("operator").put(
        f"/v1/operator/members/{a['bank']}/credit-limit", json={"credit_limit": 1}
    )
    assert r.status_code == 409, r.text
    # a raise above usage is no warning
    r = api.as_("operator").put(
        f"/v1/operator/members/{a['core']}/credit-limit?wait=true",
        json={"credit_limit": 10_000 * YUAN},
    )
    assert r.status_code == 202 and r.json()["warnings"] == [], r.text
    with Session(api.rt.engine) as session:
        assert len(session.exec(select(Alert)).all()) == 1


def test_an_offer_says_which_financing_request_it_answers(api: Api) -> None:
    a = api.addresses
    tier1, bank = api.as_("tier1"), api.as_("bank")
    r = api.as_("core").post(
        "/v1/payables?wait=true", json=invoice(a["tier1"], a["core"], "FIN-ANS-1", 5000 * YUAN)
    )
    assert r.status_code == 202, r.text
    root = r.json()["invoice"]["root_id"]
    ask = {"piece_id": root, "amount_wanted": 4000 * YUAN, "max_rate_bps": 900}
    fr = tier1.post("/v1/financing-requests", json=ask).json()["id"]

    r = bank.post(
        "/v1/offers", json={"piece_id": root, "rate_bps": 500, "financing_request_id": 999}
    )
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "FinancingRequestNotOpen"
    assert r.json()["details"]["open_request_id"] == fr

    r = bank.post("/v1/offers?wait=true", json={"piece_id": root, "rate_bps": 500})
    assert r.status_code == 202, r.text
    assert r.json()["params"]["financing_request_id"] == fr  # the piece's open request
    offer_id = r.json()["result"]["offer_id"]
    assert bank.get(f"/v1/offers/{offer_id}").json()["financing_request_id"] == fr
    assert tier1.get(f"/v1/offers/{offer_id}").json()["financing_request_id"] == fr
    mine = {f["id"]: f for f in tier1.get("/v1/financing-requests").json()}
    assert mine[fr]["offer_ids"] == [offer_id]
    seen = {f["id"]: f for f in bank.get("/v1/financing-requests").json()}
    assert seen[fr]["offer_ids"] == [offer_id]  # its own offer
