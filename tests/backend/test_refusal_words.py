"""A refusal names things, not numbers, and reads the same whether the API predicted it from
the mirror or the chain returned it."""

from __future__ import annotations

import string

import pytest

from backend.errors import from_revert
from backend.txn.actions import build_call
from chain.artifacts import combined_error_abi
from chain.errors import ContractRevert
from chain.refusals import MESSAGES, explain
from tests.backend.conftest import Api, invoice


def test_every_contract_error_has_a_sentence_using_only_its_own_arguments() -> None:
    for error in combined_error_abi():
        assert error["name"] in MESSAGES, error["name"]
        fields = {f for _, f, _, _ in string.Formatter().parse(MESSAGES[error["name"]]) if f}
        assert fields <= {i["name"] for i in error["inputs"]}, error["name"]


def test_statuses_and_roles_are_named_and_no_python_repr_shows() -> None:
    message, details = explain(
        "MemberRegistryMissingRole",
        {"account": "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", "anyOfRoles": 12},
    )
    assert details["anyOfRoles"] == ["SUPPLIER", "FINANCIER"]
    assert (
        message == "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed needs the role SUPPLIER or FINANCIER"
    )
    message, details = explain(
        "MemberRegistryEntityIdUsed", {"entityId": b"\x01" * 32, "account": "0x" + "ab" * 20}
    )
    assert "(" not in message and "'" not in message


def _cancelled_offer(api: Api) -> tuple[int, int]:
    a = api.addresses
    tier1, core, bank = api.as_("tier1"), api.as_("core"), api.as_("bank")
    r = tier1.post("/v1/invoices?wait=true", json=invoice(a["tier1"], a["core"], "WORDS-1", 9_000))
    root = r.json()["invoice"]["root_id"]
    assert core.post(f"/v1/payables/{root}/confirm?wait=true").status_code == 202
    (piece,) = tier1.get("/v1/pieces", params={"root_id": root}).json()
    ask = {"piece_id": piece["piece_id"], "amount_wanted": 8_000, "max_rate_bps": 900}
    assert tier1.post("/v1/financing-requests", json=ask).status_code == 201
    r = bank.post("/v1/offers?wait=true", json={"piece_id": piece["piece_id"], "rate_bps": 500})
    assert r.status_code == 202, r.text
    offer = r.json()["result"]["offer_id"]
    assert bank.post(f"/v1/offers/{offer}/cancel?wait=true").status_code == 202
    return root, offer


def test_a_refusal_reads_the_same_predicted_or_from_the_chain(api: Api) -> None:
    _, offer = _cancelled_offer(api)
    predicted = api.as_("tier1").post(f"/v1/offers/{offer}/accept")
    assert predicted.status_code == 409
    body = predicted.json()
    assert body["code"] == "ReceivablesOfferNotOpen"
    assert body["message"] == f"offer {offer} is not open: it is cancelled"
    assert body["details"] == {"offerId": offer, "status": "cancelled"}

    rt = api.rt
    fn = build_call(rt, "offer.accept", {"offer_id": offer})
    with pytest.raises(ContractRevert) as refused:  # the chain's own answer, for the holder
        rt.sender.prepare(fn, account=rt.account_for(api.addresses["tier1"].lower()))
    from_chain = from_revert(refused.value)
    assert (from_chain.code, from_chain.message, from_chain.details) == (
        body["code"],
        body["message"],
        body["details"],
    )


def test_a_role_refusal_names_the_roles(api: Api) -> None:
    r = api.as_("tier1").post("/v1/offers", json={"piece_id": 1, "rate_bps": 500})
    assert r.status_code == 403
    assert r.json()["details"] == {"roles": ["FINANCIER"]}
    assert r.json()["message"] == "needs the role FINANCIER"
