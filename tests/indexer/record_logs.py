"""Re-record tests/indexer/data/lifecycle.json: raw logs of `run_lifecycle` on eth-tester.

Run: `.venv/bin/python -m tests.indexer.record_logs` (after changing the contracts or scenario).
"""

from __future__ import annotations

import json
from pathlib import Path

from chain.connection import connect
from chain.settings import ChainSettings
from indexer.fetch import Web3Source
from tests.factories import build_world
from tests.indexer.scenario import run_lifecycle

DATA = Path(__file__).parent / "data" / "lifecycle.json"


def main() -> None:
    with connect(ChainSettings(profile="tester")) as conn:
        world = build_world(conn)
        ids = run_lifecycle(world)
        dep = world.deployment
        addresses = [dep.registry.address, dep.token.address, dep.receivables.address]
        logs = Web3Source(conn.w3).get_logs(dep.start_block, conn.w3.eth.block_number, addresses)
        members = {name: acct.address.lower() for name, acct in world.members.items()}
    DATA.write_text(
        json.dumps(
            {
                "registry": addresses[0].lower(),
                "token": addresses[1].lower(),
                "receivables": addresses[2].lower(),
                "members": members,
                "ids": {k: v for k, v in vars(ids).items() if k != "notes"},
                "logs": logs,
            },
            indent=1,
        )
        + "\n"
    )
    print(f"{len(logs)} logs written to {DATA}")


if __name__ == "__main__":
    main()
