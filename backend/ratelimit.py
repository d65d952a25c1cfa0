"""Rate limits and the failed-login lock-out, on the `limits` package: its Redis storage when a
Redis broker is configured (shared by every API process), memory storage otherwise."""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from dataclasses import dataclass, field

from limits import RateLimitItem, parse
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

from backend.errors import TooManyRequests
from backend.settings import BackendSettings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_address(peer: str | None, forwarded_for: list[str], trusted: tuple[Network, ...]) -> str:
    """The address the limits count: the connection's peer, unless it is a trusted proxy; then
    the rightmost X-Forwarded-For entry that is not a trusted proxy (each proxy appends the
    peer it saw, so entries left of the last untrusted one may be forged by the client)."""
    if peer is None:
        return "unknown"
    if not _trusted(peer, trusted):
        return peer
    hops = [h.strip() for value in forwarded_for for h in value.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop
    return hops[0] if hops else peer


def _trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


@dataclass
class Limiter:
    storage: Storage
    auth_per_client: RateLimitItem
    auth_per_address: RateLimitItem
    lockout: RateLimitItem
    member_lockout: RateLimitItem
    writes_per_member: RateLimitItem
    writes_per_client: RateLimitItem
    max_waiting: int
    trusted_proxies: tuple[Network, ...] = ()
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
            parse(
                f"{settings.login_lockout_failures_per_member}/"
                f"{settings.login_lockout_seconds} seconds"
            ),
            parse(settings.rate_limit_writes_per_member),
            parse(settings.rate_limit_writes_per_client),
            settings.max_waiting_requests,
            tuple(ipaddress.ip_network(p, strict=False) for p in settings.trusted_proxies),
        )

    def client(self, peer: str | None, forwarded_for: list[str]) -> str:
        return client_address(peer, forwarded_for, self.trusted_proxies)

    def hit(self, item: RateLimitItem, *key: str, code: str, what: str) -> None:
        """Count one request against `item`; past it, a 429 with how long to wait."""
        window = MovingWindowRateLimiter(self.storage)
        if not window.hit(item, *key):
            raise TooManyRequests(
                f"too many {what}: at most {item}",
                code=code,
                retry_after=self._wait(window, item, key),
            )

    def check_lockout(self, client: str, member: str | None = None) -> None:
        """Refused (429) while `client`, or the member address logging in, is locked out."""
        window = FixedWindowRateLimiter(self.storage)
        if not window.test(self.lockout, "login-failed", client):
            raise TooManyRequests(
                "too many failed logins from this address: try again later",
                code="LoginLockedOut",
                retry_after=self._wait(window, self.lockout, ("login-failed", client)),
            )
        if member is not None and not window.test(
            self.member_lockout, "login-failed-member", member
        ):
            raise TooManyRequests(
                f"too many failed logins for {member}, from any address: try again later",
                code="MemberLoginLockedOut",
                retry_after=self._wait(
                    window, self.member_lockout, ("login-failed-member", member)
                ),
            )

    def login_failed(self, client: str, member: str | None = None) -> None:
        window = FixedWindowRateLimiter(self.storage)
        window.hit(self.lockout, "login-failed", client)
        if member is not None:
            window.hit(self.member_lockout, "login-failed-member", member)

    @staticmethod
    def _wait(
        window: FixedWindowRateLimiter | MovingWindowRateLimiter,
        item: RateLimitItem,
        key: tuple[str, ...],
    ) -> int:
        reset = window.get_window_stats(item, *key).reset_time
        return max(1, math.ceil(reset - time.time()))
