"""Ledger workloads for the indexer tests: one scripted lifecycle touching every event, and a
seeded random workload."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from chain.errors import ContractRevert
from tests.factories import DAY, GRACE_PERIOD, World


@dataclass
class Lifecycle:
    """Ids created by `run_lifecycle`, for assertions."""

    r1: int = 0
    c1: int = 0
    c2: int = 0
    r2: int = 0
    r3: int = 0
    r4: int = 0
    r5: int = 0
    r6: int = 0
    o1: int = 0
    o2: int = 0
    notes: dict[str, Any] = field(default_factory=dict)


def run_lifecycle(w: World) -> Lifecycle:
    """Every event kind of the three contracts at least once (URI aside: nothing emits it)."""
    rc, tok, reg = w.receivables.functions, w.token.functions, w.registry.functions
    ids = Lifecycle()
    # origination: confirm, reject, cancel, issue
    ids.r1 = w.register(face=1_000_000, due_in=90 * DAY)
    w.tx(w.core, rc.confirm(ids.r1))
    ids.r2 = w.register(face=2_000)
    w.tx(w.core, rc.reject(ids.r2, "wrong amount"))
    ids.r3 = w.register(face=3_000, supplier="supplier2")
    w.tx(w.supplier2, rc.cancel(ids.r3))
    ids.r4 = w.issue(face=500_000, due_in=30 * DAY)
    ids.r5 = w.issue(face=300_000, due_in=60 * DAY, debtor="core2")
    # pieces: split, single and batch transfers, approval
    ids.c1, ids.c2 = w.split(
        ids.r1, [("supplier", 600_000), ("supplier2", 400_000)], holder="supplier"
    )
    w.tx(
        w.supplier,
        rc.safeTransferFrom(w.supplier.address, w.supplier3.address, ids.c1, 600_000, b""),
    )
    w.tx(
        w.supplier,
        rc.safeBatchTransferFrom(
            w.supplier.address, w.supplier2.address, [ids.r4, ids.r5], [500_000, 300_000], b""
        ),
    )
    w.tx(w.supplier3, rc.setApprovalForAll(w.bank.address, True))
    # financing: accepted and cancelled offers
    ids.o1 = w.post_offer(ids.c2, 390_000, financier="bank")
    w.tx(w.supplier2, rc.acceptOffer(ids.o1))
    ids.o2 = w.post_offer(ids.c1, 580_000, financier="bank2")
    w.tx(w.bank2, rc.cancelOffer(ids.o2))
    # supervision and administration
    w.tx(w.regulator, rc.freezePiece(ids.r4, "dispute"))
    w.tx(w.regulator, rc.unfreezePiece(ids.r4, "resolved"))
    w.tx(w.regulator, rc.freezeRoot(ids.r1, "audit"))
    w.tx(w.regulator, rc.unfreezeRoot(ids.r1, "audit done"))
    w.tx(w.operator, reg.pause())
    w.tx(w.operator, reg.unpause())
    w.tx(w.operator, reg.reactivate(w.suspended.address))
    w.tx(w.operator, reg.setRoles(w.bank2.address, 0b1000 | 0b100000))
    w.tx(w.operator, reg.setCreditLimit(w.core2.address, 5 * 10**11))
    w.tx(w.operator, rc.setLimits(4, 100, GRACE_PERIOD, 50))
    w.tx(w.bank, tok.transfer(w.supplier.address, 12_345))
    w.tx(w.bank, tok.approve(w.supplier.address, 1))
    w.tx(w.operator, tok.burn(w.supplier.address, 345))
    # settlement of r1: two repayments, a distribution in two passes
    w.tx(w.core, rc.repay(ids.r1, 400_000))
    w.tx(w.core, rc.repay(ids.r1, 600_000))
    # r4 falls due first: overdue, partly repaid, its holder claims
    w.travel_to(w.root(ids.r4)[1] + GRACE_PERIOD + 1)
    w.tx(w.operator, rc.markOverdue(ids.r4))
    w.tx(w.core, rc.repay(ids.r4, 200_000))
    w.tx(w.supplier2, rc.claim(ids.r4))
    w.travel_to(w.root(ids.r1)[1])
    w.tx(w.operator, rc.distribute(ids.r1, 1))
    w.tx(w.operator, rc.distribute(ids.r1, 10))
    # r4 is never repaid in full: its pass completed, the operator closes it
    w.tx(w.operator, rc.distribute(ids.r4, 10))
    w.tx(w.operator, rc.close(ids.r4))
    # a payable issued to a supplier that never agreed to it: refused
    ids.r6 = w.issue(face=7_000, supplier="supplier3", debtor="core2")
    w.tx(w.supplier3, rc.refuse(ids.r6, "not our invoice"))
    return ids


def run_random(w: World, *, seed: int, steps: int) -> dict[str, int]:
    """A seeded mix of valid and refused operations; returns how many of each succeeded."""
    rng = random.Random(seed)
    rc = w.receivables.functions
    holders = ["supplier", "supplier2", "supplier3", "bank", "bank2"]
    done: dict[str, int] = {}
    roots: list[int] = []

    def live_pieces() -> list[tuple[int, str, int]]:
        last = w.receivables.functions.lastIds().call()[0]
        out = []
        by_addr = {w.members[n].address: n for n in holders}
        for pid in range(1, last + 1):
            p = w.piece(pid)
            if p[5] == 2 and p[0] in by_addr:
                out.append((pid, by_addr[p[0]], p[1]))
        return out

    for _ in range(steps):
        op = rng.choice(
            ["issue", "issue", "split", "transfer", "offer", "accept", "cancel", "repay"]
        )
        try:
            if op == "issue":
                roots.append(
                    w.issue(
                        supplier=rng.choice(["supplier", "supplier2", "supplier3"]),
                        debtor=rng.choice(["core", "core2"]),
                        face=rng.randrange(10_000, 1_000_000),
                        due_in=rng.randrange(30, 120) * DAY,
                    )
                )
            elif op == "split":
                pid, holder, amount = rng.choice(live_pieces())
                a = rng.randrange(100, amount - 100) if amount > 300 else 100
                w.split(
                    pid,
                    [(rng.choice(holders), a), (rng.choice(holders), amount - a)],
                    holder=holder,
                )
            elif op == "transfer":
                pid, holder, amount = rng.choice(live_pieces())
                to = rng.choice([h for h in holders if h != holder])
                w.tx(
                    w.members[holder],
                    rc.safeTransferFrom(
                        w.members[holder].address, w.members[to].address, pid, amount, b""
                    ),
                )
            elif op == "offer":
                pid, holder, amount = rng.choice(live_pieces())
                fin = rng.choice([f for f in ("bank", "bank2") if f != holder])
                w.post_offer(pid, max(1, amount * 97 // 100), financier=fin)
            elif op in ("accept", "cancel"):
                last_offer = rc.lastIds().call()[1]
                if last_offer == 0:
                    continue
                oid = rng.randrange(1, last_offer + 1)
                offer = w.offer(oid)
                if op == "cancel":
                    fin = next(n for n in ("bank", "bank2") if w.members[n].address == offer[0])
                    w.tx(w.members[fin], rc.cancelOffer(oid))
                else:
                    holder_addr = w.piece(offer[3])[0]
                    holder = next(n for n in holders if w.members[n].address == holder_addr)
                    w.tx(w.members[holder], rc.acceptOffer(oid))
            elif op == "repay" and roots:
                rid = rng.choice(roots)
                root = w.root(rid)
                debtor = next(n for n in ("core", "core2") if w.members[n].address == root[0])
                w.tx(w.members[debtor], rc.repay(rid, max(1, (root[7] - root[8]) // 2)))
        except (ContractRevert, IndexError, StopIteration, ValueError):
            continue
        done[op] = done.get(op, 0) + 1
    return done
