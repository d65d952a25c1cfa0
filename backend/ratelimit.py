"""Rate limits and the failed-login lock-out, on the `limits` package: its Redis storage when a
Redis broker is configured (shared by every API process), memory storage otherwise."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

from limits import RateLimitItem, parse
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

from backend.errors import TooManyRequests
from backend.settings import BackendSettings


@dataclass
class Limiter:
    storage: Storage
    auth_per_client: RateLimitItem
    auth_per_address: RateLimitItem
    lockout: RateLimitItem
    writes_per_member: RateLimitItem
    writes_per_client: RateLimitItem
    max_waiting: int
    _waiting: threading.BoundedSemaphore = field(init=False)

    def __post_init__(self) -> None:
        self._waiting = threading.BoundedSemaphore(self.max_waiting)

    def wait_slot(self) -> None:
        """Take one of this process's slots for a waiting request (give it back with
        `release_wait_slot`); none free: a 429 before anything is done."""
        if not self._waiting.acquire(blocking=False):
            raise TooManyRequests(
                f"{self.max_waiting} requests are already waiting: retry, or leave out ?wait=true "
                "and follow the transaction",
                code="TooManyWaiting",
                retry_after=1,
            )

    def release_wait_slot(self) -> None:
        self._waiting.release()

    @classmethod
    def from_settings(cls, settings: BackendSettings) -> Limiter:
        redis = not settings.eager and settings.broker_url.startswith(("redis://", "rediss://"))
        storage = storage_from_string(settings.broker_url if redis else "memory://")
        assert isinstance(storage, Storage)
        return cls(
            storage,
            parse(settings.rate_limit_auth_per_client),
            parse(settings.rate_limit_auth_per_address),
            parse(f"{settings.login_lockout_failures}/{settings.login_lockout_seconds} seconds"),
            parse(settings.rate_limit_writes_per_member),
            parse(settings.rate_limit_writes_per_client),
            settings.max_waiting_requests,
        )

    def hit(self, item: RateLimitItem, *key: str, code: str, what: str) -> None:
        """Count one request against `item`; past it, a 429 with how long to wait."""
        window = MovingWindowRateLimiter(self.storage)
        if not window.hit(item, *key):
            raise TooManyRequests(
                f"too many {what}: at most {item}",
                code=code,
                retry_after=self._wait(window, item, key),
            )

    def check_lockout(self, client: str) -> None:
        window = FixedWindowRateLimiter(self.storage)
        if not window.test(self.lockout, "login-failed", client):
            raise TooManyRequests(
                "too many failed logins from this address: try again later",
                code="LoginLockedOut",
                retry_after=self._wait(window, self.lockout, ("login-failed", client)),
            )

    def login_failed(self, client: str) -> None:
        FixedWindowRateLimiter(self.storage).hit(self.lockout, "login-failed", client)

    @staticmethod
    def _wait(
        window: FixedWindowRateLimiter | MovingWindowRateLimiter,
        item: RateLimitItem,
        key: tuple[str, ...],
    ) -> int:
        reset = window.get_window_stats(item, *key).reset_time
        return max(1, math.ceil(reset - time.time()))
