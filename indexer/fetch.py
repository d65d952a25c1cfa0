"""Talking to the node: logs in adaptive block ranges, block headers, retries with backoff.

Two sources give the same raw shapes (JSON-RPC hex strings): `RpcSource` sends raw JSON-RPC
through the web3 provider (no result formatters: they cost more than decoding), `Web3Source`
goes through `w3.eth` for providers that need formatted parameters (eth-tester).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, TypeVar

import requests
from web3 import Web3
from web3.providers import HTTPProvider
from web3.providers.eth_tester import EthereumTesterProvider
from web3.types import RPCEndpoint

from chain import rpc
from indexer.decode import RawLog
from indexer.errors import FetchError
from indexer.settings import IndexerSettings

log = logging.getLogger(__name__)
T = TypeVar("T")


class Header(NamedTuple):
    number: int
    hash: str
    parent_hash: str


class RpcError(Exception):
    """The node answered with an error (possibly "too many results" or "range too large")."""


class TransientError(Exception):
    """The node could not be reached or failed on its side; worth retrying as is."""


class ChainSource(Protocol):
    def chain_id(self) -> int: ...

    def head(self) -> int: ...

    def get_logs(
        self, from_block: int, to_block: int, addresses: Sequence[str]
    ) -> list[RawLog]: ...

    def headers(self, numbers: Sequence[int]) -> list[Header | None]: ...


def _hex(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, int):
        return hex(value)
    return str(value)


class RpcSource:
    """Raw JSON-RPC over an HTTP provider."""

    def __init__(self, w3: Web3, *, header_batch: int = 200) -> None:
        self.w3 = w3
        self.provider = w3.provider
        self.header_batch = header_batch

    def _request(self, method: str, params: list[Any]) -> Any:
        try:
            resp = self.provider.make_request(RPCEndpoint(method), params)
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if status == 429 or status >= 500:
                raise TransientError(f"{method}: HTTP {status}") from exc
            raise RpcError(f"{method}: HTTP {status}") from exc
        except (requests.ConnectionError, requests.Timeout, OSError) as exc:
            raise TransientError(f"{method}: {exc}") from exc
        error = resp.get("error")
        if error:
            raise RpcError(f"{method}: {error}")
        return resp.get("result")

    def chain_id(self) -> int:
        return int(self._request("eth_chainId", []), 16)

    def head(self) -> int:
        return int(self._request("eth_blockNumber", []), 16)

    def get_logs(self, from_block: int, to_block: int, addresses: Sequence[str]) -> list[RawLog]:
        params = {
            "fromBlock": hex(from_block),
            "toBlock": hex(to_block),
            "address": list(addresses),
        }
        result = self._request("eth_getLogs", [params])
        if not isinstance(result, list):
            raise RpcError(f"eth_getLogs returned {type(result).__name__}")
        return result

    def headers(self, numbers: Sequence[int]) -> list[Header | None]:
        out: list[Header | None] = []
        batches = rpc.supports_batches(self.provider)
        for i in range(0, len(numbers), self.header_batch):
            chunk = numbers[i : i + self.header_batch]
            if not batches or len(chunk) == 1:
                out.extend(
                    _header(self._request("eth_getBlockByNumber", [hex(n), False])) for n in chunk
                )
                continue
            calls = [("eth_getBlockByNumber", [hex(n), False]) for n in chunk]
            try:
                resps = rpc.batch(self.provider, calls)
            except (requests.ConnectionError, requests.Timeout, OSError) as exc:
                raise TransientError(f"header batch: {exc}") from exc
            except rpc.BatchRefused as exc:
                raise RpcError(f"header {exc}") from exc
            for resp in resps:
                if resp.get("error"):
                    raise RpcError(f"eth_getBlockByNumber: {resp['error']}")
                out.append(_header(resp.get("result")))
        return out


def _header(block: Any) -> Header | None:
    if not block:
        return None
    return Header(
        int(_hex(block["number"]), 16),
        _hex(block["hash"]).lower(),
        _hex(block["parentHash"]).lower(),
    )


class Web3Source:
    """Through `w3.eth` (formatted requests): eth-tester, or anything without raw JSON-RPC."""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3

    def _guard(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except (requests.ConnectionError, requests.Timeout, OSError) as exc:
            raise TransientError(str(exc)) from exc
        except Exception as exc:
            raise RpcError(str(exc)) from exc

    def chain_id(self) -> int:
        return int(self._guard(lambda: self.w3.eth.chain_id))

    def head(self) -> int:
        return int(self._guard(lambda: self.w3.eth.block_number))

    def get_logs(self, from_block: int, to_block: int, addresses: Sequence[str]) -> list[RawLog]:
        checksummed = [Web3.to_checksum_address(a) for a in addresses]
        logs = self._guard(
            lambda: self.w3.eth.get_logs(
                {"fromBlock": from_block, "toBlock": to_block, "address": checksummed}
            )
        )
        out: list[RawLog] = [
            {
                "blockNumber": hex(lg["blockNumber"]),
                "blockHash": _hex(lg["blockHash"]),
                "transactionHash": _hex(lg["transactionHash"]),
                "transactionIndex": hex(lg["transactionIndex"]),
                "logIndex": hex(lg["logIndex"]),
                "address": str(lg["address"]),
                "topics": [_hex(t) for t in lg["topics"]],
                "data": _hex(lg["data"]),
            }
            for lg in logs
        ]
        out.sort(key=lambda r: (int(r["blockNumber"], 16), int(r["logIndex"], 16)))
        return out

    def headers(self, numbers: Sequence[int]) -> list[Header | None]:
        out: list[Header | None] = []
        for n in numbers:
            try:
                block = self._guard(lambda n=n: self.w3.eth.get_block(n))  # type: ignore[misc]
            except RpcError:
                block = None  # eth-tester raises for blocks beyond the head
            out.append(_header(block) if block else None)
        return out


def source_for(w3: Web3) -> ChainSource:
    """Raw JSON-RPC when the provider speaks it over HTTP, else the formatted web3 path."""
    if isinstance(w3.provider, HTTPProvider):
        return RpcSource(w3)
    if isinstance(w3.provider, EthereumTesterProvider):
        return Web3Source(w3)
    return Web3Source(w3)


@dataclass
class Fetched:
    """Logs of blocks `from_block..to_block` (all of them, in chain order)."""

    from_block: int
    to_block: int
    logs: list[RawLog]
    seconds: float


class AdaptiveFetcher:
    """eth_getLogs over a block range that grows while answers are small and shrinks on errors.

    Nodes word their limits differently ("query returned more than 10000 results", "block range
    too large", "response size exceeded", HTTP 413...), so any error answer on a multi-block
    range halves it; transport failures and errors on a single block are retried with
    exponential backoff, up to `max_retries`.
    """

    def __init__(
        self,
        source: ChainSource,
        addresses: Sequence[str],
        settings: IndexerSettings,
        *,
        max_range: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.source = source
        self.addresses = list(addresses)
        self.settings = settings
        self.max_range = max(
            1, min(max_range or settings.max_block_range, settings.max_block_range)
        )
        self.range = max(
            settings.min_block_range, min(settings.initial_block_range, self.max_range)
        )
        self._sleep = sleep
        # Largest span not known to be refused; probed upwards again after a run of successes.
        self._ceiling = self.max_range
        self._successes = 0

    def retrying(self, what: str, fn: Callable[[], T]) -> T:
        """Call `fn`, retrying transient failures and error answers with backoff."""
        delay = self.settings.backoff_seconds
        for attempt in range(self.settings.max_retries + 1):
            try:
                return fn()
            except (TransientError, RpcError) as exc:
                if attempt == self.settings.max_retries:
                    raise FetchError(f"{what} failed after {attempt + 1} attempts: {exc}") from exc
                log.warning("%s failed, retrying in %.2fs: %s", what, delay, exc)
                self._sleep(delay)
                delay = min(delay * 2, self.settings.backoff_max_seconds)
        raise AssertionError("unreachable")

    def fetch(self, start: int, end: int) -> Fetched:
        """Logs from `start` up to at most `end`; the range actually covered is returned."""
        if end < start:
            raise ValueError(f"empty range {start}..{end}")
        delay = self.settings.backoff_seconds
        failures = 0
        while True:
            to = min(end, start + self.range - 1)
            t0 = time.perf_counter()
            try:
                logs = self.source.get_logs(start, to, self.addresses)
            except (RpcError, TransientError) as exc:
                shrinkable = isinstance(exc, RpcError) or _looks_like_size(exc)
                if shrinkable and to > start:
                    self._ceiling = max(self.settings.min_block_range, to - start)
                    self._successes = 0
                    self.range = max(self.settings.min_block_range, (to - start + 1) // 2)
                    log.info(
                        "log range shrunk",
                        extra={"from_block": start, "to_block": to, "range": self.range},
                    )
                    if self.range < to - start + 1:
                        continue
                failures += 1
                if failures > self.settings.max_retries:
                    raise FetchError(f"eth_getLogs {start}..{to} kept failing: {exc}") from exc
                log.warning(
                    "eth_getLogs %d..%d failed, retrying in %.2fs: %s", start, to, delay, exc
                )
                self._sleep(delay)
                delay = min(delay * 2, self.settings.backoff_max_seconds)
                continue
            seconds = time.perf_counter() - t0
            target = self.settings.target_batch_events
            span = to - start + 1
            if len(logs) > target and span > 1:
                self.range = max(self.settings.min_block_range, span // 2)
            elif len(logs) < target // 2 and span >= self.range:
                # Grow towards the target density, at most 4x per batch, below known refusals.
                self._successes += 1
                if self._successes % 32 == 0:
                    self._ceiling = min(self.max_range, self._ceiling * 2)
                factor = min(4, max(2, target // max(len(logs), 1)))
                self.range = max(self.range, min(self._ceiling, self.range * factor))
            return Fetched(start, to, logs, seconds)

    def headers(self, numbers: Sequence[int]) -> list[Header | None]:
        return self.retrying("block headers", lambda: self.source.headers(numbers))

    def head(self) -> int:
        return self.retrying("eth_blockNumber", self.source.head)


def _looks_like_size(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "timed out" in text or "timeout" in text
