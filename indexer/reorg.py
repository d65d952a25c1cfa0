"""Fork detection and the common-ancestor search (pure over injected header lookups)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from indexer.fetch import Header

HeaderLookup = Callable[[Sequence[int]], list[Header | None]]


def find_common_ancestor(
    stored: Sequence[tuple[int, str]], canonical: HeaderLookup, *, chunk: int = 32
) -> tuple[int, str] | None:
    """The newest kept block whose hash is still the chain's at that height, or None.

    `stored` is newest first. A kept block that matches implies every older block matches too
    (each hash commits to its parent), so the first match is the common ancestor.
    """
    for i in range(0, len(stored), chunk):
        part = stored[i : i + chunk]
        headers = canonical([n for n, _ in part])
        for (number, kept), header in zip(part, headers, strict=True):
            if header is not None and header.hash == kept:
                return number, kept
    return None


def broken_link(prev_hash: str | None, headers: Sequence[Header]) -> int | None:
    """First position where consecutive headers do not chain (parent hash), or None.

    Position 0 is checked against `prev_hash` (the block before the first header), if known.
    """
    for i, h in enumerate(headers):
        if i == 0:
            if prev_hash is not None and h.parent_hash != prev_hash:
                return 0
        elif h.number == headers[i - 1].number + 1 and h.parent_hash != headers[i - 1].hash:
            return i
    return None
