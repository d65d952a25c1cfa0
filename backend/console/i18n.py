"""Languages: English (the msgids) and Chinese, from the .po catalogues kept beside this
module, compiled in memory at start-up (no .mo files in the repository)."""

from __future__ import annotations

from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).parent / "locale"
COOKIE = "scf_lang"
DEFAULT = "en"
#: language code → its own name, as the switch shows it
LANGUAGES = {"en": "English", "zh": "中文"}


def N_(message: str) -> str:
    """Marks an English text kept in code for the catalogue; the page translates it when shown
    (with `translate`, which fills no `%` placeholders)."""
    return message


def language_of(cookie: str | None) -> str:
    return cookie if cookie in LANGUAGES else DEFAULT


def catalogue_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"


@cache
def translations(lang: str) -> NullTranslations:
    """The compiled catalogue of `lang` (English needs none: its msgids are the text)."""
    path = catalogue_path(lang)
    if lang == DEFAULT or not path.exists():
        return NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=lang)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(fp=compiled)
