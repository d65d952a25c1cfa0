"""COPY text formatting of derived rows (the store's hot path)."""

from __future__ import annotations

import json

from indexer.store import _copy_line, _key_json


def test_copy_line_writes_nulls_flags_and_numbers_plainly() -> None:
    assert _copy_line((1, "0xab", None, True, False, 10**30)) == (
        "1\t0xab\t\\N\tt\tf\t1000000000000000000000000000000"
    )


def test_copy_line_escapes_a_backslash_even_beside_a_null() -> None:
    assert _copy_line((None, "a\\N", "tab\there")) == "\\N\ta\\\\N\ttab\\there"


def test_undo_keys_are_the_json_of_the_key() -> None:
    for key in (7, "0x" + "ab" * 20, 'odd "key"'):
        assert json.loads(_key_json(key)) == key
