"""Invoice keys: one invoice written two ways (case, full width, spaces, separators) is one key,
so it goes onto the ledger once."""

from __future__ import annotations

import string
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.services.documents import invoice_key, invoice_number_key
from tests.backend.conftest import YUAN, Api, invoice

ENTITY = "0x" + "ab" * 32

#: How real invoice numbers vary between systems: ASCII and Unicode hyphens and dashes,
#: full-width forms, slashes, dots, underscores, colons, spaces of every width, invisibles.
SEPARATORS = [
    "-", "\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2015", "\u2212", "\uff0d", "\ufe63",
    "/", "\uff0f", "\\", "_", "\uff3f", ".", "\uff0e", "\u3002", ":", "\uff1a", "\u00b7",
    "\u30fb", " ", "\u00a0", "\u3000", "\t", "\u200b", "#", "",
]  # fmt: skip

segment = st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=8)
spaces = st.text(alphabet=" \u3000\u00a0\t", max_size=3)


def full_width(text: str) -> str:
    """The text as a Chinese input method types it: ASCII letters and digits full width."""
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in text)


@st.composite
def written_two_ways(draw: st.DrawFn) -> tuple[str, str]:
    """One invoice number, and the same number as another system writes it."""
    parts = draw(st.lists(segment, min_size=1, max_size=5))
    plain = "-".join(parts)
    seps = [draw(st.sampled_from(SEPARATORS)) for _ in parts[1:]]
    other = parts[0] + "".join(s + p for s, p in zip(seps, parts[1:], strict=True))
    other = "".join(c.swapcase() if draw(st.booleans()) else c for c in other)
    if draw(st.booleans()):
        other = full_width(other)
    return plain, draw(spaces) + other + draw(spaces)


@given(written_two_ways())
def test_one_invoice_written_two_ways_is_one_key(pair: tuple[str, str]) -> None:
    plain, other = pair
    assert invoice_key(ENTITY, other) == invoice_key(ENTITY, plain), pair


@given(segment, segment)
def test_invoices_whose_letters_or_digits_differ_have_different_keys(a: str, b: str) -> None:
    if a.lower() != b.lower():
        assert invoice_key(ENTITY, a) != invoice_key(ENTITY, b)


@given(st.text(max_size=64))
def test_the_key_form_of_a_number_is_its_own_key_form(number: str) -> None:
    once = invoice_number_key(number)
    assert invoice_number_key(once) == once
    assert all(unicodedata.category(c)[0] in "LNM" for c in once), once


def test_the_key_form_keeps_letters_and_digits_only() -> None:
    assert invoice_number_key(f"  {full_width('INV')}\uff0d{full_width('2026')}\uff0f0001 ") == (
        "inv20260001"
    )
    assert invoice_number_key("INV-BAD-DUP") == invoice_number_key("INV-BAD-dup") == "invbaddup"
    assert invoice_number_key("发票 No.044031900111\u201312345678") == "发票no04403190011112345678"


def test_the_seller_is_part_of_the_key() -> None:
    assert invoice_key(ENTITY, "INV-1") != invoice_key("0x" + "cd" * 32, "INV-1")


@pytest.mark.parametrize(
    "again",
    [
        "INV-BAD-dup",
        "inv bad dup",
        " INV/BAD/DUP ",
        full_width("INV\uff0dBAD\uff0dDUP"),
        "INV\u2013BAD_DUP",
    ],
)
def test_an_invoice_registered_again_in_another_spelling_is_refused(api: Api, again: str) -> None:
    a = api.addresses
    tier1 = api.as_("tier1")
    first = tier1.post(
        "/v1/invoices?wait=true", json=invoice(a["tier1"], a["core"], "INV-BAD-DUP", 10_000 * YUAN)
    )
    assert first.status_code in (202, 409), first.text  # 409 once an earlier case registered it
    resp = tier1.post(
        "/v1/invoices?wait=true", json=invoice(a["tier1"], a["core"], again, 10_000 * YUAN)
    )
    assert resp.status_code == 409, resp.text
    assert resp.json()["code"] == "ReceivablesInvoiceKeyUsed"


@pytest.mark.parametrize(
    ("number", "message"),
    [("--/--", "no letter or digit"), ("INV\n001", "control")],
)
def test_an_invoice_number_without_letters_or_with_control_characters_is_refused(
    api: Api, number: str, message: str
) -> None:
    a = api.addresses
    resp = api.as_("tier1").post(
        "/v1/invoices", json=invoice(a["tier1"], a["core"], number, 10_000 * YUAN)
    )
    assert resp.status_code == 422, resp.text
    assert message in resp.text
