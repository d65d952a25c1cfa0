"""Benchmark: what the names beside addresses (`backend.api.names`) cost a JSON answer.

    .venv/bin/python -m scripts.bench_names [--pieces 100] [--rounds 200]

Two embedded deployments in one process, seeded alike (a consortium with directory entries and
`--pieces` confirmed payables held by one supplier): one app as `scf serve` builds it, one with
the names middleware taken out, the baseline. Their answers are timed in alternation, request by
request, so that the machine's changing speed falls on both alike: `GET /v1/me` (one address),
`GET /v1/pieces?limit=100` (two addresses a row) and `GET /v1/offers` (no row: nothing to name).
p50 and p90 in milliseconds, per app, and the difference.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Iterator
from contextlib import ExitStack

from backend.api.names import NamesBesideAddresses
from backend.settings import BackendSettings
from tests.backend.conftest import YUAN, Api, invoice, make_api


def _deployment(stack: ExitStack, *, names: bool, pieces: int) -> Api:
    settings = BackendSettings(profile="embedded", wait_timeout_seconds=30)
    gen = make_api(settings, strip=() if names else (NamesBesideAddresses,))
    api = stack.enter_context(_entered(gen))
    a = api.addresses
    core = api.as_("core")
    for i in range(pieces):
        r = core.post(
            "/v1/payables?wait=true",
            json=invoice(a["tier1"], a["core"], f"BENCH-N-{i}", 100 * YUAN),
        )
        assert r.status_code == 202, r.text
    return api


class _entered:
    def __init__(self, gen: Iterator[Api]) -> None:
        self.gen = gen

    def __enter__(self) -> Api:
        return next(self.gen)

    def __exit__(self, *exc: object) -> None:
        for _ in self.gen:
            pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pieces", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    urls = ["/v1/me", "/v1/pieces?limit=100", "/v1/offers"]
    with ExitStack() as stack:
        named = _deployment(stack, names=True, pieces=args.pieces)
        plain = _deployment(stack, names=False, pieces=args.pieces)
        assert "holder_name" in named.as_("tier1").get("/v1/pieces?limit=1").json()[0]
        assert "holder_name" not in plain.as_("tier1").get("/v1/pieces?limit=1").json()[0]
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.rounds):
            for url in urls:
                for label, api in (("names", named), ("baseline", plain)):
                    client = api.as_("tier1")
                    start = time.perf_counter()
                    r = client.get(url)
                    elapsed = (time.perf_counter() - start) * 1000
                    assert r.status_code == 200, r.text
                    times.setdefault((url, label), []).append(elapsed)
    print(f"{'answer':28} {'baseline p50/p90':>18} {'names p50/p90':>16} {'p50 diff':>9}")
    for url in urls:
        base, with_names = times[(url, "baseline")], times[(url, "names")]

        def p(xs: list[float], q: int) -> float:
            return statistics.quantiles(xs, n=10)[q // 10 - 1] if q != 50 else statistics.median(xs)

        print(
            f"{url:28} {p(base, 50):8.2f}/{p(base, 90):<8.2f}  {p(with_names, 50):7.2f}/"
            f"{p(with_names, 90):<8.2f} {p(with_names, 50) - p(base, 50):+8.2f}"
        )


if __name__ == "__main__":
    main()
