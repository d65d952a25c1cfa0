"""Adaptive log ranges, retries and fork detection against scripted fake nodes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from indexer.decode import RawLog
from indexer.errors import FetchError
from indexer.fetch import AdaptiveFetcher, Header, RpcError, TransientError
from indexer.reorg import broken_link, find_common_ancestor
from indexer.settings import IndexerSettings


class FakeNode:
    """One log per block; refuses ranges wider than `limit` with `message`."""

    def __init__(self, *, limit: int = 10**9, message: str = "", failures: int = 0) -> None:
        self.limit = limit
        self.message = message
        self.failures = failures
        self.calls: list[tuple[int, int]] = []

    def chain_id(self) -> int:
        return 1

    def head(self) -> int:
        return 10_000

    def get_logs(self, from_block: int, to_block: int, addresses: Sequence[str]) -> list[RawLog]:
        self.calls.append((from_block, to_block))
        if self.failures:
            self.failures -= 1
            raise TransientError("connection reset by peer")
        if to_block - from_block + 1 > self.limit:
            raise RpcError(self.message)
        return [{"blockNumber": hex(n)} for n in range(from_block, to_block + 1)]

    def headers(self, numbers: Sequence[int]) -> list[Header | None]:
        return [Header(n, f"0x{n:064x}", f"0x{n - 1:064x}") for n in numbers]


def _fetcher(node: Any, **kw: Any) -> tuple[AdaptiveFetcher, list[float]]:
    sleeps: list[float] = []
    settings = IndexerSettings(
        initial_block_range=kw.pop("initial", 100), backoff_seconds=0.01, **kw
    )
    return AdaptiveFetcher(node, ["0x" + "11" * 20], settings, sleep=sleeps.append), sleeps


@pytest.mark.parametrize(
    "message",
    [
        "{'code': -32005, 'message': 'query returned more than 10000 results'}",
        "{'code': -32602, 'message': 'block range is too wide'}",
        "{'code': -32000, 'message': 'exceed maximum block range: 50'}",
        "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range",
        "something nobody has worded before",
    ],
)
def test_range_shrinks_on_any_error_wording_and_covers_every_block(message: str) -> None:
    node = FakeNode(limit=7, message=message)
    fetcher, _ = _fetcher(node)
    covered: list[int] = []
    start = 1
    while start <= 50:
        got = fetcher.fetch(start, 50)
        covered.extend(int(lg["blockNumber"], 16) for lg in got.logs)
        start = got.to_block + 1
    assert covered == list(range(1, 51))
    refused = sum(1 for a, b in node.calls if b - a + 1 > 7)
    assert refused <= len(node.calls) // 2  # mostly answered, not thrashing


def test_range_grows_while_answers_are_small() -> None:
    fetcher, _ = _fetcher(FakeNode(), initial=10, target_batch_events=1_000_000)
    fetcher.fetch(1, 10_000)
    fetcher.fetch(11, 10_000)
    assert fetcher.range == 160  # x4 per batch while far below the target


def test_range_shrinks_when_a_batch_returns_too_many_logs() -> None:
    fetcher, _ = _fetcher(FakeNode(), initial=1000, target_batch_events=100)
    got = fetcher.fetch(1, 10_000)
    assert len(got.logs) == 1000
    assert fetcher.range == 500


def test_transient_failures_are_retried_with_exponential_backoff() -> None:
    node = FakeNode(failures=3)
    fetcher, sleeps = _fetcher(node)
    got = fetcher.fetch(1, 10)
    assert got.to_block == 10
    assert sleeps == [0.01, 0.02, 0.04]


def test_gives_up_after_max_retries() -> None:
    fetcher, sleeps = _fetcher(FakeNode(failures=100), max_retries=3)
    with pytest.raises(FetchError, match="kept failing"):
        fetcher.fetch(1, 10)
    assert len(sleeps) == 3


def test_single_block_errors_back_off_instead_of_shrinking_forever() -> None:
    node = FakeNode(limit=0, message="internal error")
    fetcher, sleeps = _fetcher(node, max_retries=2)
    with pytest.raises(FetchError):
        fetcher.fetch(5, 5)
    assert node.calls == [(5, 5)] * 3
    assert sleeps == [0.01, 0.02]


def _h(n: int, fork: str = "a") -> Header:
    return Header(n, f"0x{fork}{n}", f"0x{fork}{n - 1}")


def test_common_ancestor_is_the_newest_kept_block_still_on_chain() -> None:
    stored = [(n, f"0xa{n}") for n in range(20, 9, -1)]
    canonical = {n: _h(n, "a" if n <= 14 else "b") for n in range(0, 30)}
    found = find_common_ancestor(stored, lambda ns: [canonical.get(n) for n in ns], chunk=4)
    assert found == (14, "0xa14")


def test_no_common_ancestor_within_the_kept_blocks() -> None:
    stored = [(n, f"0xa{n}") for n in range(20, 9, -1)]
    assert find_common_ancestor(stored, lambda ns: [_h(n, "b") for n in ns]) is None


def test_broken_link_finds_a_header_that_does_not_extend_its_parent() -> None:
    chain = [_h(5), _h(6), _h(7)]
    assert broken_link("0xa4", chain) is None
    assert broken_link("0xb4", chain) == 0
    assert broken_link(None, [_h(5), _h(6, "b"), _h(7)]) == 1
