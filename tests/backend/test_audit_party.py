"""The auditor's party filter: exactly the events naming an address, paged by event id."""

from __future__ import annotations

from typing import Any

from tests.backend.conftest import Api

ZERO = "0x" + "00" * 20


def _named(args: dict[str, Any]) -> set[str]:
    """The addresses an event's arguments name (arrays included)."""
    out: set[str] = set()
    for value in args.values():
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, str) and v.startswith("0x") and len(v) == 42 and v != ZERO:
                out.add(v.lower())
    return out


def test_party_filter_returns_exactly_the_events_naming_the_party(api: Api) -> None:
    auditor = api.as_("auditor")
    every = auditor.get("/v1/audit/events?limit=500").json()["items"]
    for name in ("tier1", "bank", "core"):
        address = api.addresses[name]  # checksummed: the filter is case-insensitive
        wanted = [e for e in every if address.lower() in _named(e["args"])]
        assert wanted, name
        page = auditor.get("/v1/audit/events", params={"party": address, "limit": 500}).json()
        assert page["items"] == wanted and page["next_cursor"] is None
        got, cursor = [], 0
        for _ in range(len(wanted) + 1):
            page = auditor.get(
                "/v1/audit/events", params={"party": address, "limit": 1, "cursor": cursor}
            ).json()
            got += page["items"]
            if page["next_cursor"] is None:
                break
            cursor = page["next_cursor"]
        assert got == wanted, name
        added = auditor.get(
            "/v1/audit/events", params={"party": address, "event": "MemberAdded"}
        ).json()["items"]
        assert [e["args"]["account"] for e in added] == [address.lower()]


def test_party_filter_with_a_block_range(api: Api) -> None:
    auditor = api.as_("auditor")
    address = api.addresses["tier1"]
    mine = auditor.get("/v1/audit/events", params={"party": address, "limit": 500}).json()
    blocks = [e["block_number"] for e in mine["items"]]
    lo = blocks[-1]
    ranged = auditor.get(
        "/v1/audit/events", params={"party": address, "from_block": lo, "to_block": lo}
    ).json()["items"]
    assert ranged == [e for e in mine["items"] if e["block_number"] == lo]


def test_party_filter_for_an_address_named_nowhere(api: Api) -> None:
    auditor = api.as_("auditor")
    page = auditor.get("/v1/audit/events", params={"party": "0x" + "12" * 20}).json()
    assert page["items"] == [] and page["next_cursor"] is None
