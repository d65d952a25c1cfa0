"""Settlement: repayment into escrow, pro-rata distribution in batches, claims, overdue."""

from __future__ import annotations

from typing import Any

from chain.enums import RootStatus
from tests.contracts.helpers import (
    OPERATOR,
    call,
    cash,
    credit_used,
    escrow,
    logs,
    piece,
    reverts,
    root,
)
from tests.factories import DAY, GRACE_PERIOD, STARTING_CASH, World

FACE = 1_000_000


def repay(world: World, root_id: int, amount: int, debtor: str = "core") -> Any:
    return world.tx(world.members[debtor], world.receivables.functions.repay(root_id, amount))


def distribute(world: World, root_id: int, max_pieces: int = 10, caller: str = "operator") -> Any:
    return world.tx(
        world.members[caller], world.receivables.functions.distribute(root_id, max_pieces)
    )


def owed(world: World, piece_id: int) -> int:
    return int(world.receivables.functions.owedTo(piece_id).call())


def paid(world: World, receipt: object) -> list[tuple[int, str, int, int]]:
    """(pieceId, holder, amount, paidOut) of each PiecePaid in `receipt`, in order."""
    return [
        (a["pieceId"], a["holder"], a["amount"], a["paidOut"])
        for name, a in logs(world, receipt)  # type: ignore[arg-type]
        if name == "PiecePaid"
    ]


def to_due(world: World, root_id: int) -> int:
    due = root(world, root_id).due_date
    world.travel_to(due)
    return due


# -- repay ----------------------------------------------------------------------------------


def test_repay_escrows_the_payment_and_releases_credit(world: World) -> None:
    rid = world.issue(face=FACE)
    world.issue(face=500)
    receipt = repay(world, rid, 400_000)
    core = world.core.address
    assert logs(world, receipt) == [
        ("Transfer", {"from": core, "to": world.receivables.address, "value": 400_000}),
        (
            "Repaid",
            {
                "rootId": rid,
                "debtor": core,
                "amount": 400_000,
                "totalRepaid": 400_000,
                "creditUsed": 600_500,
            },
        ),
    ]
    state = root(world, rid)
    assert (state.repaid, state.cursor, state.status) == (400_000, rid, RootStatus.CONFIRMED)
    assert credit_used(world, world.core) == 600_500
    assert (cash(world, core), escrow(world)) == (STARTING_CASH - 400_000, 400_000)
    assert owed(world, rid) == 400_000


def test_repay_in_several_payments_never_beyond_the_face_value(world: World) -> None:
    rid = world.issue(face=FACE)
    repay(world, rid, 300_000)
    with reverts(
        "ReceivablesRepaymentExceedsOutstanding", rootId=rid, outstanding=700_000, amount=700_001
    ):
        repay(world, rid, 700_001)
    receipt = repay(world, rid, 700_000)
    assert logs(world, receipt)[-1][1]["totalRepaid"] == FACE
    assert logs(world, receipt)[-1][1]["creditUsed"] == 0
    with reverts("ReceivablesRepaymentExceedsOutstanding", rootId=rid, outstanding=0, amount=1):
        repay(world, rid, 1)
    assert credit_used(world, world.core) == 0


def test_repay_refusals(world: World) -> None:
    rid = world.issue(face=FACE)
    with reverts("ReceivablesZeroAmount"):
        repay(world, rid, 0)
    with reverts("ReceivablesNotDebtor", rootId=rid, caller=world.core2.address):
        repay(world, rid, 1, debtor="core2")
    with reverts("ReceivablesUnknownRoot", rootId=999):
        repay(world, 999, 1)
    registered = world.register(face=FACE)
    with reverts("ReceivablesInvalidStatus", rootId=registered, status=RootStatus.REGISTERED):
        repay(world, registered, 1)


def test_a_suspended_debtor_can_still_repay_and_its_holders_are_paid(world: World) -> None:
    rid = world.issue(face=FACE)
    a, b = world.split(rid, [("supplier", 600_000), ("bank", 400_000)], holder="supplier")
    world.tx(world.operator, world.registry.functions.suspend(world.core.address))
    with reverts("MemberRegistryMemberSuspended", account=world.core.address):
        world.issue(face=FACE)  # suspended: it can take on no new debt
    repay(world, rid, 400_000)
    repay(world, rid, 600_000)
    assert credit_used(world, world.core) == 0
    to_due(world, rid)
    receipt = distribute(world, rid)
    assert paid(world, receipt) == [
        (b, world.bank.address, 400_000, 400_000),
        (a, world.supplier.address, 600_000, 600_000),
    ]
    assert (root(world, rid).status, escrow(world)) == (RootStatus.SETTLED, 0)


def test_repay_refuses_a_debtor_without_the_cash(world: World) -> None:
    big = 2 * STARTING_CASH
    rid = world.issue(face=big)
    with reverts(
        "ERC20InsufficientBalance", sender=world.core.address, balance=STARTING_CASH, needed=big
    ):
        repay(world, rid, big)


# -- distribute -----------------------------------------------------------------------------


def test_distribute_pays_every_live_piece_pro_rata_and_settles(world: World) -> None:
    rid = world.issue(face=FACE)
    a, b, c = world.split(
        rid, [("supplier", 600_000), ("supplier2", 300_000), ("bank", 100_000)], holder="supplier"
    )
    repay(world, rid, FACE)
    to_due(world, rid)
    before = {n: cash(world, world.members[n].address) for n in ("supplier", "supplier2", "bank")}
    fn = world.receivables.functions.distribute(rid, 10)
    assert call(world, fn, account=world.outsider) == FACE
    receipt = world.tx(world.outsider, fn)
    s, s2, bank = world.supplier.address, world.supplier2.address, world.bank.address
    ledger = world.receivables.address
    assert logs(world, receipt) == [
        ("Transfer", {"from": ledger, "to": bank, "value": 100_000}),
        (
            "PiecePaid",
            {"pieceId": c, "rootId": rid, "holder": bank, "amount": 100_000, "paidOut": 100_000},
        ),
        ("Transfer", {"from": ledger, "to": s2, "value": 300_000}),
        (
            "PiecePaid",
            {"pieceId": b, "rootId": rid, "holder": s2, "amount": 300_000, "paidOut": 300_000},
        ),
        ("Transfer", {"from": ledger, "to": s, "value": 600_000}),
        (
            "PiecePaid",
            {"pieceId": a, "rootId": rid, "holder": s, "amount": 600_000, "paidOut": 600_000},
        ),
        ("Distributed", {"rootId": rid, "piecesVisited": 4, "amount": FACE, "nextCursor": 0}),
        ("ReceivableSettled", {"rootId": rid}),
    ]
    assert cash(world, s) - before["supplier"] == 600_000
    assert cash(world, s2) - before["supplier2"] == 300_000
    assert cash(world, bank) - before["bank"] == 100_000
    state = root(world, rid)
    assert (state.status, state.paid_out, state.cursor) == (RootStatus.SETTLED, FACE, 0)
    assert [piece(world, p).paid_out for p in (a, b, c)] == [600_000, 300_000, 100_000]
    assert world.holding(world.supplier, a) == 600_000  # paid pieces keep their balance
    assert escrow(world) == 0
    with reverts("ReceivablesInvalidStatus", rootId=rid, status=RootStatus.SETTLED):
        distribute(world, rid)
    with reverts("ReceivablesInvalidStatus", rootId=rid, status=RootStatus.SETTLED):
        repay(world, rid, 1)
    key = state.invoice_key
    assert world.receivables.functions.rootByInvoiceKey(key).call() == rid


def test_distribute_works_in_batches_from_the_cursor(world: World) -> None:
    rid = world.issue(face=FACE)
    a, b, c = world.split(
        rid,
        [("supplier", 500_000), ("supplier2", 300_000), ("supplier3", 200_000)],
        holder="supplier",
    )
    repay(world, rid, FACE)
    to_due(world, rid)
    receipt = distribute(world, rid, 2)
    assert paid(world, receipt) == [(c, world.supplier3.address, 200_000, 200_000)]
    assert logs(world, receipt)[-1] == (
        "Distributed",
        {"rootId": rid, "piecesVisited": 2, "amount": 200_000, "nextCursor": b},
    )
    assert root(world, rid).cursor == b
    receipt = distribute(world, rid, 1)
    assert paid(world, receipt) == [(b, world.supplier2.address, 300_000, 300_000)]
    assert root(world, rid).cursor == a
    receipt = distribute(world, rid, 5)
    assert logs(world, receipt)[-2:] == [
        ("Distributed", {"rootId": rid, "piecesVisited": 1, "amount": 500_000, "nextCursor": 0}),
        ("ReceivableSettled", {"rootId": rid}),
    ]


def test_distribute_refusals(world: World) -> None:
    rid = world.issue(face=FACE, due_in=DAY)
    registered = world.register(face=FACE)
    due = root(world, rid).due_date
    with reverts("ReceivablesNotDue", rootId=rid, dueDate=due):
        distribute(world, rid)
    to_due(world, rid)
    with reverts("ReceivablesNothingToDistribute", rootId=rid):
        distribute(world, rid)
    repay(world, rid, 1_000)
    with reverts("ReceivablesZeroAmount"):
        distribute(world, rid, 0)
    distribute(world, rid)
    with reverts("ReceivablesNothingToDistribute", rootId=rid):
        distribute(world, rid)
    with reverts("ReceivablesInvalidStatus", rootId=registered, status=RootStatus.REGISTERED):
        distribute(world, registered)


def test_distribute_refuses_an_unknown_root_as_unknown(world: World) -> None:
    with reverts("ReceivablesUnknownRoot", rootId=999):
        distribute(world, 999)


def test_partial_repayments_round_down_per_piece_and_settle_exactly(world: World) -> None:
    rid = world.issue(face=1_000)
    a, b, c = world.split(
        rid, [("supplier", 333), ("supplier2", 333), ("supplier3", 334)], holder="supplier"
    )
    repay(world, rid, 500)
    to_due(world, rid)
    s, s2, s3 = world.supplier.address, world.supplier2.address, world.supplier3.address
    receipt = distribute(world, rid)
    assert paid(world, receipt) == [(c, s3, 167, 167), (b, s2, 166, 166), (a, s, 166, 166)]
    state = root(world, rid)
    assert (state.paid_out, state.status, state.cursor) == (499, RootStatus.CONFIRMED, 0)
    assert escrow(world) == 1  # the rounding remainder stays in escrow
    assert [owed(world, p) for p in (a, b, c)] == [0, 0, 0]
    repay(world, rid, 500)
    receipt = distribute(world, rid)
    assert paid(world, receipt) == [(c, s3, 167, 334), (b, s2, 167, 333), (a, s, 167, 333)]
    assert logs(world, receipt)[-1] == ("ReceivableSettled", {"rootId": rid})
    assert root(world, rid).paid_out == 1_000
    assert escrow(world) == 0
    assert cash(world, s3) == 334


# -- claim ----------------------------------------------------------------------------------


def test_claim_pulls_what_a_piece_is_owed_now(world: World) -> None:
    rid = world.issue(face=FACE)
    a, b = world.split(rid, [("supplier", 600_000), ("supplier2", 400_000)], holder="supplier")
    repay(world, rid, 500_000)
    to_due(world, rid)
    claim = world.receivables.functions.claim
    assert call(world, claim(b), account=world.supplier2) == 200_000
    receipt = world.tx(world.supplier2, claim(b))
    s2 = world.supplier2.address
    assert logs(world, receipt) == [
        ("Transfer", {"from": world.receivables.address, "to": s2, "value": 200_000}),
        (
            "PiecePaid",
            {"pieceId": b, "rootId": rid, "holder": s2, "amount": 200_000, "paidOut": 200_000},
        ),
    ]
    assert (owed(world, b), root(world, rid).paid_out) == (0, 200_000)
    with reverts("ReceivablesNothingToClaim", pieceId=b):
        world.tx(world.supplier2, claim(b))
    receipt = distribute(world, rid)
    assert paid(world, receipt) == [(a, world.supplier.address, 300_000, 300_000)]
    repay(world, rid, 500_000)
    world.tx(world.supplier, claim(a))
    receipt = world.tx(world.supplier2, claim(b))
    assert logs(world, receipt)[-1] == ("ReceivableSettled", {"rootId": rid})
    state = root(world, rid)
    assert (state.status, state.paid_out, state.cursor) == (RootStatus.SETTLED, FACE, 0)
    with reverts("ReceivablesInvalidStatus", rootId=rid, status=RootStatus.SETTLED):
        world.tx(world.supplier2, claim(b))


def test_claim_refusals(world: World) -> None:
    rid = world.issue(face=FACE, due_in=DAY)
    a, _ = world.split(rid, [("supplier", 600_000), ("supplier2", 400_000)], holder="supplier")
    pending = world.register(face=FACE)
    claim = world.receivables.functions.claim
    due = root(world, rid).due_date
    with reverts("ReceivablesNotDue", rootId=rid, dueDate=due):
        world.tx(world.supplier, claim(a))
    to_due(world, rid)
    with reverts("ReceivablesNothingToClaim", pieceId=a):
        world.tx(world.supplier, claim(a))
    repay(world, rid, FACE)
    with reverts("ReceivablesNotHolder", pieceId=a, account=world.supplier2.address):
        world.tx(world.supplier2, claim(a))
    with reverts("ReceivablesPieceNotActive", pieceId=rid):
        world.tx(world.supplier, claim(rid))
    with reverts("ReceivablesPieceNotActive", pieceId=pending):
        world.tx(world.supplier, claim(pending))
    world.tx(world.operator, world.registry.functions.suspend(world.supplier.address))
    with reverts("MemberRegistryMemberSuspended", account=world.supplier.address):
        world.tx(world.supplier, claim(a))


def test_suspended_holders_are_still_paid_by_distribution(world: World) -> None:
    rid = world.issue(face=FACE)
    repay(world, rid, FACE)
    to_due(world, rid)
    world.tx(world.operator, world.registry.functions.suspend(world.supplier.address))
    distribute(world, rid)
    assert cash(world, world.supplier.address) == STARTING_CASH + FACE
    assert root(world, rid).status == RootStatus.SETTLED


def test_frozen_pieces_are_skipped_then_paid_after_unfreezing(world: World) -> None:
    rid = world.issue(face=FACE)
    a, b = world.split(rid, [("supplier", 600_000), ("supplier2", 400_000)], holder="supplier")
    repay(world, rid, FACE)
    world.tx(world.regulator, world.receivables.functions.freezePiece(b, "dispute"))
    to_due(world, rid)
    receipt = distribute(world, rid)
    assert paid(world, receipt) == [(a, world.supplier.address, 600_000, 600_000)]
    assert logs(world, receipt)[-1] == (
        "Distributed",
        {"rootId": rid, "piecesVisited": 3, "amount": 600_000, "nextCursor": 0},
    )
    assert root(world, rid).status == RootStatus.CONFIRMED
    with reverts("ReceivablesPieceFrozen", pieceId=b):
        world.tx(world.supplier2, world.receivables.functions.claim(b))
    with reverts("ReceivablesNothingToDistribute", rootId=rid):
        distribute(world, rid)
    world.tx(world.regulator, world.receivables.functions.unfreezePiece(b, "resolved"))
    assert root(world, rid).cursor == rid
    receipt = distribute(world, rid)
    assert paid(world, receipt) == [(b, world.supplier2.address, 400_000, 400_000)]
    assert root(world, rid).status == RootStatus.SETTLED


# -- markOverdue ----------------------------------------------------------------------------


def test_mark_overdue_after_the_grace_period_with_money_owed(world: World) -> None:
    rid = world.issue(face=FACE)
    repay(world, rid, 300_000)
    due = root(world, rid).due_date
    world.travel_to(due + GRACE_PERIOD - 60)
    with reverts("ReceivablesNotOverdue", rootId=rid):
        world.tx(world.outsider, world.receivables.functions.markOverdue(rid))
    world.travel_to(due + GRACE_PERIOD + 1)
    receipt = world.tx(world.outsider, world.receivables.functions.markOverdue(rid))
    assert logs(world, receipt) == [("ReceivableOverdue", {"rootId": rid, "outstanding": 700_000})]
    assert root(world, rid).status == RootStatus.OVERDUE
    with reverts("ReceivablesInvalidStatus", rootId=rid, status=RootStatus.OVERDUE):
        world.tx(world.outsider, world.receivables.functions.markOverdue(rid))


def test_an_overdue_root_is_settled_when_paid_late(world: World) -> None:
    rid = world.issue(face=FACE)
    a, b = world.split(rid, [("supplier", 500_000), ("bank", 500_000)], holder="supplier")
    repay(world, rid, 200_000)
    world.travel_to(root(world, rid).due_date + GRACE_PERIOD + 1)
    world.tx(world.operator, world.receivables.functions.markOverdue(rid))
    world.tx(world.bank, world.receivables.functions.claim(b))
    receipt = repay(world, rid, 800_000)
    assert logs(world, receipt)[-1][1]["creditUsed"] == 0
    assert root(world, rid).status == RootStatus.OVERDUE
    receipt = distribute(world, rid)
    assert paid(world, receipt) == [
        (b, world.bank.address, 400_000, 500_000),
        (a, world.supplier.address, 500_000, 500_000),
    ]
    assert root(world, rid).status == RootStatus.SETTLED


def test_mark_overdue_refusals(world: World) -> None:
    paid_up = world.issue(face=FACE, due_in=DAY)
    registered = world.register(face=FACE, due_in=DAY)
    repay(world, paid_up, FACE)
    world.travel_to(root(world, paid_up).due_date + GRACE_PERIOD + 1)
    mark = world.receivables.functions.markOverdue
    with reverts("ReceivablesNotOverdue", rootId=paid_up):
        world.tx(world.operator, mark(paid_up))
    with reverts("ReceivablesUnknownRoot", rootId=999):
        world.tx(world.operator, mark(999))
    with reverts("ReceivablesInvalidStatus", rootId=registered, status=RootStatus.REGISTERED):
        world.tx(world.operator, mark(registered))
    distribute(world, paid_up)
    with reverts("ReceivablesInvalidStatus", rootId=paid_up, status=RootStatus.SETTLED):
        world.tx(world.operator, mark(paid_up))


# -- rounding remainders and close ----------------------------------------------------------


def overdue(world: World, root_id: int) -> None:
    world.travel_to(root(world, root_id).due_date + GRACE_PERIOD + 1)
    world.tx(world.operator, world.receivables.functions.markOverdue(root_id))


def test_close_sweeps_the_rounding_remainder_to_the_holder_paid_last(world: World) -> None:
    rid = world.issue(face=301)
    a, b, c = world.split(
        rid, [("supplier", 100), ("supplier2", 100), ("supplier3", 101)], holder="supplier"
    )
    repay(world, rid, 100)
    to_due(world, rid)
    s, s2, s3 = world.supplier.address, world.supplier2.address, world.supplier3.address
    receipt = distribute(world, rid)
    assert paid(world, receipt) == [(c, s3, 33, 33), (b, s2, 33, 33), (a, s, 33, 33)]
    assert escrow(world) == 1  # the remainder waits for the rest of the repayment
    overdue(world, rid)
    before = cash(world, s)
    receipt = world.tx(world.operator, world.receivables.functions.close(rid))
    assert logs(world, receipt) == [
        ("Transfer", {"from": world.receivables.address, "to": s, "value": 1}),
        (
            "ReceivableClosed",
            {
                "rootId": rid,
                "operator": world.operator.address,
                "outstanding": 201,
                "remainder": 1,
                "remainderTo": s,
            },
        ),
    ]
    assert cash(world, s) == before + 1
    assert escrow(world) == 0
    state = root(world, rid)
    assert (state.status, state.paid_out, state.repaid) == (RootStatus.CLOSED, 100, 100)
    assert credit_used(world, world.core) == 201  # still owed, off the ledger
    with reverts("ReceivablesInvalidStatus", rootId=rid, status=RootStatus.CLOSED):
        repay(world, rid, 1)
    with reverts("ReceivablesInvalidStatus", rootId=rid, status=RootStatus.CLOSED):
        world.tx(world.supplier, world.receivables.functions.claim(a))


def test_close_returns_the_repayment_to_the_debtor_when_no_piece_was_paid_a_unit(
    world: World,
) -> None:
    rid = world.issue(face=FACE)
    world.split(rid, [("supplier", 500_000), ("supplier2", 500_000)], holder="supplier")
    repay(world, rid, 1)
    overdue(world, rid)
    distribute(world, rid)  # each piece is owed half a unit: nothing paid
    core = world.core.address
    before = cash(world, core)
    receipt = world.tx(world.operator, world.receivables.functions.close(rid))
    assert logs(world, receipt)[-1][1]["remainderTo"] == core
    assert (cash(world, core), escrow(world)) == (before + 1, 0)


def test_close_of_a_root_nothing_was_repaid_on_moves_no_cash(world: World) -> None:
    rid = world.issue(face=FACE)
    overdue(world, rid)
    receipt = world.tx(world.operator, world.receivables.functions.close(rid))
    assert [name for name, _ in logs(world, receipt)] == ["ReceivableClosed"]
    assert root(world, rid).status == RootStatus.CLOSED


def test_close_refusals(world: World) -> None:
    fns = world.receivables.functions
    rid = world.issue(face=FACE)
    _, b = world.split(rid, [("supplier", 600_000), ("bank", 400_000)], holder="supplier")
    with reverts("ReceivablesInvalidStatus", rootId=rid, status=RootStatus.CONFIRMED):
        world.tx(world.operator, fns.close(rid))
    with reverts("ReceivablesUnknownRoot", rootId=999):
        world.tx(world.operator, fns.close(999))
    repay(world, rid, 300_000)
    overdue(world, rid)
    with reverts("MemberRegistryMissingRole", account=world.regulator.address, anyOfRoles=OPERATOR):
        world.tx(world.regulator, fns.close(rid))
    with reverts("ReceivablesDistributionPending", rootId=rid, cursor=rid):
        world.tx(world.operator, fns.close(rid))
    world.tx(world.regulator, fns.freezePiece(b, "dispute"))
    distribute(world, rid)
    assert root(world, rid).cursor == 0
    with reverts("ReceivablesPiecesFrozen", rootId=rid, frozenPieces=1):
        world.tx(world.operator, fns.close(rid))
    world.tx(world.regulator, fns.freezeRoot(rid, "court"))
    with reverts("ReceivablesRootFrozen", rootId=rid):
        world.tx(world.operator, fns.close(rid))
    world.tx(world.regulator, fns.unfreezeRoot(rid, "lifted"))
    world.tx(world.regulator, fns.unfreezePiece(b, "resolved"))
    assert root(world, rid).frozen_pieces == 0
    distribute(world, rid)  # b is paid what it was owed while frozen
    world.tx(world.operator, fns.close(rid))
    assert escrow(world) == 0
