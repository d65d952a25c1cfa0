"""The member directory (issue 14): names beside addresses, who sees whom, the credit code
that hashes to the ledger's entity id."""

from __future__ import annotations

from eth_utils.crypto import keccak

from tests.backend.conftest import YUAN, Api, invoice


def test_the_directory_credit_code_hashes_to_the_entity_id_on_the_ledger(api: Api) -> None:
    entries = api.as_("auditor").get("/v1/directory").json()
    by_address = {e["address"]: e for e in entries}
    for name in ("core", "tier1", "tier2", "bank", "regulator", "auditor"):
        entry = by_address[api.addresses[name]]
        _, _, on_chain, _ = api.rt.contracts.registry.functions.memberOf(api.addresses[name]).call()
        assert keccak(text=entry["credit_code"]) == on_chain
        assert entry["entity_id"] == "0x" + on_chain.hex()
    assert by_address[api.addresses["core"]]["name"] == "East China Motors"
    assert by_address[api.addresses["core"]]["legal_name"] == "华东汽车制造有限公司"


def test_the_operator_keeps_the_directory_and_the_credit_code_must_match_the_ledger(
    api: Api,
) -> None:
    a, op = api.addresses, api.as_("operator")
    url = f"/v1/operator/members/{a['bank']}/profile"
    r = op.put(url, json={"legal_name": "浦江银行", "short_name": "Pujiang Bank"})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "Pujiang Bank"
    r = op.put(url, json={"legal_name": "x", "credit_code": "SOMETHING-ELSE"})
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "CreditCodeFixed"
    assert api.as_("bank").put(url, json={"legal_name": "mine"}).status_code == 403

    # a member onboarded without an entry gets one only with the code the ledger holds
    r = op.post(
        "/v1/operator/members?wait=true", json={"legal_id": "USCC-late", "roles": ["SUPPLIER"]}
    )
    assert r.status_code == 202, r.text
    late = r.json()["address"]
    url = f"/v1/operator/members/{late}/profile"
    r = op.put(url, json={"legal_name": "迟到有限公司"})
    assert r.status_code == 422 and r.json()["code"] == "CreditCodeMissing", r.text
    r = op.put(url, json={"legal_name": "迟到有限公司", "credit_code": "USCC-wrong"})
    assert r.status_code == 422 and r.json()["code"] == "CreditCodeMismatch", r.text
    assert "USCC-wrong" in r.json()["message"]
    r = op.put(url, json={"legal_name": "迟到有限公司", "credit_code": "USCC-late"})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "迟到有限公司"


def test_a_member_sees_itself_and_its_counterparties_only_and_their_contacts_never(
    fresh_api: Api,
) -> None:
    api, a = fresh_api, fresh_api.addresses
    mine = api.as_("tier2").get("/v1/directory").json()
    assert [e["address"] for e in mine] == [a["tier2"]]
    assert mine[0]["contact_email"] == "tier2@example.com"  # its own contact
    r = api.as_("tier2").get(f"/v1/directory/{a['core']}")
    assert r.status_code == 404, r.text  # no business with the core enterprise yet

    r = api.as_("core").post(
        "/v1/payables?wait=true", json=invoice(a["tier2"], a["core"], "DIR-1", 100 * YUAN)
    )
    assert r.status_code == 202, r.text
    seen = {e["address"]: e for e in api.as_("tier2").get("/v1/directory").json()}
    assert set(seen) == {a["tier2"], a["core"]}
    assert seen[a["core"]]["name"] == "East China Motors"
    assert seen[a["core"]]["contact_email"] is None  # names for counterparties, not contacts
    assert api.as_("tier2").get(f"/v1/directory/{a['bank']}").status_code == 404
    # auditors and regulators see everyone, contacts included
    everyone = api.as_("regulator").get("/v1/directory").json()
    assert len(everyone) == 6
    assert all(e["contact_email"] for e in everyone)
