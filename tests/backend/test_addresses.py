"""Addresses as people type them: any valid address is taken in bodies, paths and query
filters; a mixed-case one with a wrong checksum (a typo) is refused; answers are EIP-55."""

from __future__ import annotations

import pytest
from eth_utils.address import is_checksum_address

from chain.addresses import parse_address
from tests.backend.conftest import Api, invoice


def _typo(address: str) -> str:
    """The same address with the case of one letter flipped: a wrong EIP-55 checksum."""
    i = next(i for i, c in enumerate(address) if i > 1 and c.isalpha())
    return address[:i] + address[i].swapcase() + address[i + 1 :]


def test_parse_address_takes_any_single_case_and_refuses_a_wrong_checksum() -> None:
    eip55 = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    assert parse_address(eip55.lower()) == eip55
    assert parse_address("0x" + eip55[2:].upper()) == eip55
    assert parse_address(eip55) == eip55
    with pytest.raises(ValueError, match="wrong EIP-55 checksum"):
        parse_address(_typo(eip55))
    for bad in ("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beae", "5aaeb6053f3e94c9b9a0"):
        with pytest.raises(ValueError, match="is not an address"):
            parse_address(bad)


def test_a_lower_case_buyer_is_taken_and_a_mistyped_one_refused(api: Api) -> None:
    a = api.addresses
    body = invoice(a["tier1"], a["core"].lower(), "ADDR-LOW-1", 1_000)
    r = api.as_("tier1").post("/v1/invoices?wait=true", json=body)
    assert r.status_code == 202, r.text
    assert r.json()["invoice"]["buyer"] == a["core"]  # shown EIP-55
    typo = invoice(a["tier1"], _typo(a["core"]), "ADDR-TYPO-1", 1_000)
    r = api.as_("tier1").post("/v1/invoices", json=typo)
    assert r.status_code == 422, r.text
    assert "checksum" in r.text


def test_paths_take_a_lower_case_address_and_refuse_a_mistyped_one(api: Api) -> None:
    op, tier2 = api.as_("operator"), api.addresses["tier2"]
    r = op.get(f"/v1/operator/members/{tier2.lower()}")
    assert r.status_code == 200, r.text
    assert r.json()["address"] == tier2
    assert op.get(f"/v1/operator/members/{_typo(tier2)}").status_code == 422


@pytest.mark.parametrize(
    "url",
    [
        "/v1/audit/events?party={}",
        "/v1/audit/holdings?holder={}",
    ],
)
def test_query_filters_refuse_a_mistyped_address(api: Api, url: str) -> None:
    auditor, bank = api.as_("auditor"), api.addresses["bank"]
    assert auditor.get(url.format(bank.lower())).status_code == 200
    r = auditor.get(url.format(_typo(bank)))
    assert r.status_code == 422, r.text


def test_answers_show_addresses_in_eip55(api: Api) -> None:
    me = api.as_("bank").get("/v1/me").json()
    assert me["address"] == api.addresses["bank"] and is_checksum_address(me["address"])
    members = api.as_("auditor").get("/v1/members").json()
    assert members and all(is_checksum_address(m["address"]) for m in members)
    pieces = api.as_("auditor").get("/v1/pieces").json()
    assert all(is_checksum_address(p["holder"]) for p in pieces)
