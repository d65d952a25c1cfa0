"""Pure parts of the console: money, dates and addresses as pages show them, and the Chinese
catalogue covering every text the pages and their code mark for translation."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any, cast

from babel.messages.extract import extract_from_dir
from fastapi import Request, Response

from backend.console import format as fmt
from backend.console import i18n
from backend.console.render import TEMPLATES
from backend.console.session import set_session
from backend.security import CsrfSigner

CONSOLE_DIR = TEMPLATES.parent


def test_money_shows_fen_as_yuan_with_separators() -> None:
    assert fmt.money(123_456_789) == "¥1,234,567.89"
    assert fmt.money(5) == "¥0.05"
    assert fmt.money(-100) == "-¥1.00"
    assert fmt.money(None) == "—"


def test_dates_show_the_utc_day() -> None:
    assert fmt.as_date(date(2026, 3, 1)) == "2026-03-01"
    assert fmt.as_date(datetime(2026, 3, 1, 23, 30, tzinfo=UTC)) == "2026-03-01"
    assert fmt.as_date(1_772_323_200) == "2026-03-01"
    assert fmt.as_date("2026-03-01T10:00:00Z") == "2026-03-01"
    assert fmt.as_datetime(datetime(2026, 3, 1, 8, 5, tzinfo=UTC)) == "2026-03-01 08:05 UTC"


def test_an_address_shows_its_name_short_and_opens_to_the_full_value() -> None:
    address = "0x" + "ab" * 20
    html = str(fmt.address(address, {address: "Acme <Parts>"}))
    assert "Acme &lt;Parts&gt;" in html  # escaped
    assert "<code>0xabab…abab</code>" in html
    assert f'<code class="full">{address}</code>' in html
    assert "<details" in html and f'<summary title="{address}">' in html
    assert str(fmt.address(None, {})) == "—"


def test_percent_from_basis_points() -> None:
    assert fmt.percent(425) == "4.25%"


def test_every_marked_text_has_a_chinese_translation() -> None:
    keywords = {"_": None, "gettext": None, "N_": None, "tr": (2,)}
    options = {"**/templates/**.html": {"trim_blocks": "true", "lstrip_blocks": "true"}}
    method_map = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
    found = {
        msg if isinstance(msg, str) else msg[0]
        for _, _, msg, _, _ in extract_from_dir(
            CONSOLE_DIR, method_map, options_map=options, keywords=keywords
        )
    }
    assert "Log out" in found  # the extraction sees the templates
    zh = i18n.translations("zh")
    untranslated = sorted(m for m in found if zh.gettext(m) == m)
    assert untranslated == [], f"add these to {i18n.catalogue_path('zh')}"


def test_an_unknown_language_falls_back_to_english() -> None:
    assert i18n.language_of("fr") == "en"
    assert i18n.language_of(None) == "en"
    assert i18n.translations("en").gettext("Log out") == "Log out"
    assert i18n.translations("zh").gettext("Log out") == "退出登录"


def test_the_session_cookie_is_secure_behind_https() -> None:
    def cookie_for(public_url: str) -> str:
        settings = SimpleNamespace(public_url=public_url)
        app = SimpleNamespace(state=SimpleNamespace(runtime=SimpleNamespace(settings=settings)))
        response = Response()
        set_session(cast(Request, cast(Any, SimpleNamespace(app=app))), response, "scf_k_s")
        return response.headers["set-cookie"]

    assert "Secure" in cookie_for("https://scf.example")
    assert "Secure" not in cookie_for("http://127.0.0.1:8000")
    assert "HttpOnly" in cookie_for("https://scf.example")


def test_csrf_tokens_belong_to_one_credential() -> None:
    signer = CsrfSigner.from_master(b"\x01" * 32)
    token = signer.token("scf_a_b")
    assert signer.matches("scf_a_b", token)
    assert not signer.matches("scf_a_c", token)
    assert not signer.matches("scf_a_b", token[:-1] + ("0" if token[-1] != "0" else "1"))
    assert not CsrfSigner.from_master(b"\x02" * 32).matches("scf_a_b", token)


def test_ledger_event_amounts_read_as_money() -> None:
    from backend.console.format import event_arg

    assert event_arg("faceValue", 80_000_000) == "¥800,000.00"
    assert event_arg("amounts", [50_000_000, 30_000_000]) == "¥500,000.00, ¥300,000.00"
    assert event_arg("childIds", [2, 3]) == "2, 3"
    assert event_arg("rootId", 1) == "1"
