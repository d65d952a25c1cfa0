"""One receivable through its whole life: the quick end-to-end check of the three contracts."""

from __future__ import annotations

from chain.enums import RootStatus
from tests.factories import World


def test_receivable_lifecycle_pays_every_holder_pro_rata(world: World) -> None:
    root = world.register(face=1_000_000)
    world.tx(world.core, world.receivables.functions.confirm(root))
    kept, passed = world.split(
        root, [("supplier", 600_000), ("supplier2", 400_000)], holder="supplier"
    )
    offer = world.post_offer(passed, 390_000, financier="bank")
    world.tx(world.supplier2, world.receivables.functions.acceptOffer(offer))
    world.tx(world.core, world.receivables.functions.repay(root, 1_000_000))
    world.travel_to(world.root(root)[1])
    before = {n: world.cash(world.members[n]) for n in ("supplier", "bank")}
    world.tx(world.operator, world.receivables.functions.distribute(root, 10))
    assert world.cash(world.supplier) - before["supplier"] == 600_000
    assert world.cash(world.bank) - before["bank"] == 400_000
    assert world.root(root)[2] == RootStatus.SETTLED
    assert world.receivables.functions.creditUsedOf(world.core.address).call() == 0
    assert world.holding(world.supplier, kept) == 600_000
    assert world.holding(world.bank, passed) == 400_000
