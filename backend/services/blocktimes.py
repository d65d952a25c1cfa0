"""The ledger's clock for reports: when each block was made, and which blocks a date period
covers. The mirror keeps no block timestamps, so they are read from the node, by block hash
(a hash names one block for ever, so an answer cached by hash stays right across reorgs)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from web3 import Web3
from web3.exceptions import BlockNotFound
from web3.providers.eth_tester import EthereumTesterProvider

from backend.errors import InvalidInput
from chain import rpc

#: Timestamps kept per process (a few MB): a member's statements ask for the same blocks again.
CACHE_SIZE = 200_000
#: Blocks asked for in one JSON-RPC batch.
BATCH = 500

_cache: OrderedDict[tuple[int, str], int] = OrderedDict()
_lock = threading.Lock()


def _remember(key: tuple[int, str], timestamp: int) -> None:
    with _lock:
        _cache[key] = timestamp
        _cache.move_to_end(key)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)


class BlockClock:
    """Block timestamps of one chain, through its web3 connection."""

    def __init__(self, w3: Web3, chain_id: int) -> None:
        self.w3 = w3
        self.chain_id = chain_id

    def _batched(self) -> bool:
        provider = self.w3.provider
        return not isinstance(provider, EthereumTesterProvider) and rpc.supports_batches(provider)

    def times(self, block_hashes: Iterable[str]) -> dict[str, int]:
        """The timestamp of each block (by hash); a block the node no longer has (rolled back
        since the mirror read it) is left out."""
        out: dict[str, int] = {}
        missing: list[str] = []
        with _lock:
            for h in set(block_hashes):
                ts = _cache.get((self.chain_id, h))
                if ts is None:
                    missing.append(h)
                else:
                    out[h] = ts
        if not missing:
            return out
        if self._batched():
            for i in range(0, len(missing), BATCH):
                chunk = missing[i : i + BATCH]
                answers = rpc.batch(
                    self.w3.provider, [("eth_getBlockByHash", [h, False]) for h in chunk]
                )
                for h, answer in zip(chunk, answers, strict=True):
                    block = answer.get("result")
                    if block:
                        out[h] = int(block["timestamp"], 16)
        else:
            for h in missing:
                found = self._by_hash(h)
                if found is not None:
                    out[h] = found
        for h in missing:
            if h in out:
                _remember((self.chain_id, h), out[h])
        return out

    def _by_hash(self, block_hash: str) -> int | None:
        try:
            block: Any = self.w3.eth.get_block(block_hash)  # type: ignore[arg-type]
        except BlockNotFound:
            return None
        return int(block["timestamp"])

    def at(self, number: int) -> int:
        return int(self.w3.eth.get_block(number)["timestamp"])

    def first_block_at_or_after(self, moment: int, *, head: int) -> int:
        """The first block up to `head` stamped at or after `moment` (head + 1 if none):
        timestamps never go down along the chain, so a bisection finds it."""
        lo, hi = 0, head + 1
        while lo < hi:
            mid = (lo + hi) // 2
            if self.at(mid) >= moment:
                hi = mid
            else:
                lo = mid + 1
        return lo


def day_start(day: date) -> int:
    """The first second of `day` (UTC), as a block timestamp."""
    return int(datetime.combine(day, time.min, tzinfo=UTC).timestamp())


def block_range_of_days(
    clock: BlockClock, *, first: date, last: date, head: int
) -> tuple[int, int]:
    """The blocks stamped from the start of `first` to the end of `last` (UTC days), up to
    `head`; an empty range (from > to) when no block falls in the period."""
    if last < first:
        raise InvalidInput(
            f"the period ends ({last.isoformat()}) before it starts ({first.isoformat()})",
            code="PeriodReversed",
            details={"from": first.isoformat(), "to": last.isoformat()},
        )
    start = clock.first_block_at_or_after(day_start(first), head=head)
    end = clock.first_block_at_or_after(day_start(last + timedelta(days=1)), head=head) - 1
    return start, end


def iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).isoformat().replace("+00:00", "Z")
