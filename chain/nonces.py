"""Per-signer nonce sequences shared by every thread that sends through one connection."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class NonceManager:
    """One lock and one cached next nonce per address, resynced from the node's pending count."""

    def __init__(self, fetch_pending: Callable[[str], int]) -> None:
        self._fetch = fetch_pending
        self._guard = threading.Lock()
        self._locks: dict[str, threading.RLock] = {}
        self._next: dict[str, int] = {}

    def lock_for(self, address: str) -> threading.RLock:
        """The lock to hold while allocating, signing and submitting for `address`."""
        with self._guard:
            return self._locks.setdefault(address, threading.RLock())

    def peek(self, address: str) -> int:
        """Next nonce for `address`; caller must hold `lock_for(address)`."""
        if address not in self._next:
            self._next[address] = self._fetch(address)
        return self._next[address]

    def advance(self, address: str, used: int) -> None:
        """Record that `used` was accepted by the node; caller must hold the lock."""
        self._next[address] = used + 1

    def resync(self, address: str) -> int:
        """Forget the cached nonce and reload it from the node."""
        with self.lock_for(address):
            self._next[address] = self._fetch(address)
            log.info("nonce resynced", extra={"address": address, "nonce": self._next[address]})
            return self._next[address]

    def reset(self) -> None:
        """Drop every cached nonce (after a snapshot revert or a reorg)."""
        with self._guard:
            self._next.clear()
