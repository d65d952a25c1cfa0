"""COPY text formatting of derived rows (the store's hot path)."""

from __future__ import annotations

import json

from indexer.models import metadata
from indexer.store import _copy_line, _key_json, _row_formatter


def test_copy_line_writes_nulls_flags_and_numbers_plainly() -> None:
    assert _copy_line((1, "0xab", None, True, False, 10**30)) == (
        "1\t0xab\t\\N\tt\tf\t1000000000000000000000000000000"
    )


def test_copy_line_escapes_a_backslash_even_beside_a_null() -> None:
    assert _copy_line((None, "a\\N", "tab\there")) == "\\N\ta\\\\N\ttab\\there"


def test_undo_keys_are_the_json_of_the_key() -> None:
    for key in (7, "0x" + "ab" * 20, 'odd "key"'):
        assert json.loads(_key_json(key)) == key


def test_generated_row_formatter_matches_the_careful_path() -> None:
    names = ("offer_id", "piece_id", "financier", "price", "expiry", "status", "seller",
             "expired", "posted_block", "closed_block")  # fmt: skip
    fmt = _row_formatter(metadata.tables["offer"], names, 7)
    base = {"offer_id": 1, "piece_id": 2, "financier": "0xab", "price": 10**30, "expiry": 5,
            "status": 1, "seller": None, "expired": False, "posted_block": 3,
            "closed_block": None}  # fmt: skip
    odd = [{}, {"seller": "a\\N"}, {"financier": "tab\there\nand\\"}, {"expired": True},
           {"expired": None, "seller": "0xcd", "closed_block": 9}]  # fmt: skip
    for change in odd:
        row = {**base, **change}
        assert fmt(row) == _copy_line((7, *[row[c] for c in names]))
    assert fmt(base) == "7\t1\t2\t0xab\t" + str(10**30) + "\t5\t1\t\\N\tf\t3\t\\N"
