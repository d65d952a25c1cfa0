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
    with Session(api.rt.engine) as session:
        alerts = session.exec(select(Alert).where(Alert.kind == "credit_limit_below_usage")).all()
    assert len(alerts) == 1
    assert alerts[0].details["credit_limit"] == 100
    assert alerts[0].details["credit_used"] == 5000 * YUAN
