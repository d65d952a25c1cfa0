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
