"""A deployment settles in one currency (SCF_SETTLEMENT_CURRENCY, CNY by default): an invoice
in any other is refused, naming both."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from backend.errors import InvalidInput
from backend.schemas import InvoiceIn
from backend.services.invoicing import settled_currency
from backend.settings import BackendSettings
from tests.backend.conftest import YUAN, Api, invoice


@pytest.mark.parametrize("currency", ["USD", "XYZ"])
def test_an_invoice_in_another_currency_than_the_ledgers_is_refused(
    api: Api, currency: str
) -> None:
    a = api.addresses
    body = {
        **invoice(a["tier1"], a["core"], f"INV-CUR-{currency}", 100 * YUAN),
        "currency": currency,
    }
    resp = api.as_("tier1").post("/v1/invoices?wait=true", json=body)
    assert resp.status_code == 422, resp.text
    err = resp.json()
    assert err["code"] == "CurrencyNotSettled"
    assert "CNY" in err["message"] and currency in err["message"]
    assert err["details"] == {"currency": currency, "settlement_currency": "CNY"}
    batch = api.as_("tier1").post("/v1/invoices/batch", json={"invoices": [body]})
    assert batch.json()["results"][0]["error"]["code"] == "CurrencyNotSettled", batch.text


def test_an_invoice_without_a_currency_is_in_the_ledgers(api: Api) -> None:
    a = api.addresses
    body = invoice(a["tier1"], a["core"], "INV-CUR-NONE", 100 * YUAN)
    del body["currency"]
    resp = api.as_("tier1").post("/v1/invoices?wait=true", json=body)
    assert resp.status_code == 202, resp.text
    assert resp.json()["invoice"]["currency"] == "CNY"


def test_the_settlement_currency_is_the_deployments() -> None:
    assert BackendSettings().settlement_currency == "CNY"
    hkd = InvoiceIn.model_validate(
        {
            "number": "INV-1",
            "seller": "0x" + "11" * 20,
            "buyer": "0x" + "22" * 20,
            "amount": 100,
            "currency": "HKD",
            "issue_date": date.today().isoformat(),
            "due_date": (date.today() + timedelta(days=90)).isoformat(),
        }
    )
    assert settled_currency(hkd, "HKD").currency == "HKD"
    with pytest.raises(InvalidInput, match="settles in CNY only; the invoice is in HKD"):
        settled_currency(hkd, "CNY")
