"""Supervision: regulators freeze roots and pieces, operators pause the ledger and set limits."""

from __future__ import annotations

from typing import Any

from chain.deploy import deploy_contract
from chain.enums import RootStatus
from tests.contracts.helpers import (
    OPERATOR,
    REGULATOR,
    ZERO_ADDRESS,
    logs,
    piece,
    reverts,
    root,
)
from tests.factories import DAY, GRACE_PERIOD, MAX_DEPTH, MAX_LIVE_PIECES, MIN_PIECE, World

LIMITS = (MAX_DEPTH, MIN_PIECE, GRACE_PERIOD, MAX_LIVE_PIECES)

FACE = 1_000_000


def transfer_fn(world: World, frm: str, to: str, piece_id: int) -> Any:
    return world.receivables.functions.safeTransferFrom(
        world.members[frm].address,
        world.members[to].address,
        piece_id,
        piece(world, piece_id).amount,
        b"",
    )


# -- freezeRoot / unfreezeRoot --------------------------------------------------------------


def test_freezing_a_root_stops_all_its_pieces_until_unfrozen(world: World) -> None:
    rid = world.issue(face=FACE)
    a, b = world.split(rid, [("supplier", 600_000), ("supplier2", 400_000)], holder="supplier")
    oid = world.post_offer(b, 390_000)
    fns = world.receivables.functions
    regulator = world.regulator.address
    receipt = world.tx(world.regulator, fns.freezeRoot(rid, "court order 17"))
    assert logs(world, receipt) == [
        ("RootFrozen", {"rootId": rid, "regulator": regulator, "reason": "court order 17"})
    ]
    assert root(world, rid).frozen is True
    with reverts("ReceivablesPieceFrozen", pieceId=a):
        world.tx(world.supplier, transfer_fn(world, "supplier", "supplier3", a))
    with reverts("ReceivablesPieceFrozen", pieceId=a):
        world.tx(
            world.supplier,
            fns.split(a, [world.supplier.address, world.supplier3.address], [300_000, 300_000]),
        )
    with reverts("ReceivablesPieceFrozen", pieceId=a):
        world.tx(world.bank2, fns.postOffer(a, 1, world.now() + DAY))
    with reverts("ReceivablesPieceFrozen", pieceId=b):
        world.tx(world.supplier2, fns.acceptOffer(oid))
    receipt = world.tx(world.regulator, fns.unfreezeRoot(rid, "lifted"))
    assert logs(world, receipt) == [
        ("RootUnfrozen", {"rootId": rid, "regulator": regulator, "reason": "lifted"})
    ]
    assert root(world, rid).frozen is False
    world.tx(world.supplier2, fns.acceptOffer(oid))
    assert piece(world, b).holder == world.bank.address


def test_a_frozen_registration_cannot_be_confirmed(world: World) -> None:
    rid = world.register(face=FACE)
    world.tx(world.regulator, world.receivables.functions.freezeRoot(rid, "dispute"))
    with reverts("ReceivablesRootFrozen", rootId=rid):
        world.tx(world.core, world.receivables.functions.confirm(rid))


def test_a_frozen_root_is_neither_distributed_nor_claimed_until_unfrozen(world: World) -> None:
    rid = world.issue(face=FACE)
    fns = world.receivables.functions
    world.tx(world.core, fns.repay(rid, 400_000))
    world.travel_to(root(world, rid).due_date)
    world.tx(world.operator, fns.distribute(rid, 10))
    assert root(world, rid).cursor == 0
    world.tx(world.regulator, fns.freezeRoot(rid, "dispute"))
    world.tx(world.core, fns.repay(rid, 600_000))
    with reverts("ReceivablesRootFrozen", rootId=rid):
        world.tx(world.operator, fns.distribute(rid, 10))
    with reverts("ReceivablesPieceFrozen", pieceId=rid):
        world.tx(world.supplier, fns.claim(rid))
    world.tx(world.regulator, fns.unfreezeRoot(rid, "lifted"))
    assert root(world, rid).cursor == rid
    world.tx(world.operator, fns.distribute(rid, 10))
    assert root(world, rid).status == RootStatus.SETTLED


def test_freeze_root_refusals(world: World) -> None:
    rid = world.issue(face=FACE)
    fns = world.receivables.functions
    with reverts("MemberRegistryMissingRole", account=world.operator.address, anyOfRoles=REGULATOR):
        world.tx(world.operator, fns.freezeRoot(rid, "x"))
    with reverts("MemberRegistryNotMember", account=world.outsider.address):
        world.tx(world.outsider, fns.freezeRoot(rid, "x"))
    with reverts("ReceivablesUnknownRoot", rootId=999):
        world.tx(world.regulator, fns.freezeRoot(999, "x"))
    with reverts("ReceivablesRootNotFrozen", rootId=rid):
        world.tx(world.regulator, fns.unfreezeRoot(rid, "x"))
    world.tx(world.regulator, fns.freezeRoot(rid, "x"))
    with reverts("ReceivablesRootAlreadyFrozen", rootId=rid):
        world.tx(world.regulator, fns.freezeRoot(rid, "again"))
    with reverts("MemberRegistryMissingRole", account=world.auditor.address, anyOfRoles=REGULATOR):
        world.tx(world.auditor, fns.unfreezeRoot(rid, "x"))
    with reverts("ReceivablesUnknownRoot", rootId=999):
        world.tx(world.regulator, fns.unfreezeRoot(999, "x"))
    world.tx(world.operator, world.registry.functions.suspend(world.regulator.address))
    with reverts("MemberRegistryMemberSuspended", account=world.regulator.address):
        world.tx(world.regulator, fns.unfreezeRoot(rid, "x"))


# -- freezePiece / unfreezePiece ------------------------------------------------------------


def test_freezing_a_piece_stops_only_that_piece(world: World) -> None:
    rid = world.issue(face=FACE)
    a, b = world.split(rid, [("supplier", 600_000), ("supplier2", 400_000)], holder="supplier")
    fns = world.receivables.functions
    regulator = world.regulator.address
    receipt = world.tx(world.regulator, fns.freezePiece(a, "attachment"))
    assert logs(world, receipt) == [
        (
            "PieceFrozen",
            {"pieceId": a, "rootId": rid, "regulator": regulator, "reason": "attachment"},
        )
    ]
    assert piece(world, a).frozen is True
    with reverts("ReceivablesPieceFrozen", pieceId=a):
        world.tx(world.supplier, transfer_fn(world, "supplier", "supplier3", a))
    world.tx(world.supplier2, transfer_fn(world, "supplier2", "supplier3", b))
    receipt = world.tx(world.regulator, fns.unfreezePiece(a, "released"))
    assert logs(world, receipt) == [
        (
            "PieceUnfrozen",
            {"pieceId": a, "rootId": rid, "regulator": regulator, "reason": "released"},
        )
    ]
    assert piece(world, a).frozen is False
    world.tx(world.supplier, transfer_fn(world, "supplier", "supplier3", a))


def test_freeze_piece_refusals(world: World) -> None:
    rid = world.issue(face=FACE)
    pending = world.register(face=FACE)
    fns = world.receivables.functions
    with reverts("MemberRegistryMissingRole", account=world.core.address, anyOfRoles=REGULATOR):
        world.tx(world.core, fns.freezePiece(rid, "x"))
    with reverts("ReceivablesPieceNotActive", pieceId=pending):
        world.tx(world.regulator, fns.freezePiece(pending, "x"))
    with reverts("ReceivablesPieceNotActive", pieceId=999):
        world.tx(world.regulator, fns.freezePiece(999, "x"))
    with reverts("ReceivablesPieceNotFrozen", pieceId=rid):
        world.tx(world.regulator, fns.unfreezePiece(rid, "x"))
    world.tx(world.regulator, fns.freezePiece(rid, "x"))
    with reverts("ReceivablesPieceAlreadyFrozen", pieceId=rid):
        world.tx(world.regulator, fns.freezePiece(rid, "x"))
    with reverts("MemberRegistryNotMember", account=world.outsider.address):
        world.tx(world.outsider, fns.unfreezePiece(rid, "x"))
    world.tx(world.regulator, fns.unfreezePiece(rid, "x"))
    world.split(rid, [("supplier", 500_000), ("supplier2", 500_000)], holder="supplier")
    with reverts("ReceivablesPieceNotActive", pieceId=rid):
        world.tx(world.regulator, fns.freezePiece(rid, "x"))
    with reverts("ReceivablesPieceNotActive", pieceId=rid):
        world.tx(world.regulator, fns.unfreezePiece(rid, "x"))


# -- pause ----------------------------------------------------------------------------------


def test_pause_blocks_every_movement_and_state_change_but_not_supervision(world: World) -> None:
    fns = world.receivables.functions
    token = world.token.functions
    s, s2 = world.supplier.address, world.supplier2.address
    registered = world.register(face=FACE)
    live = world.issue(face=FACE)
    due_soon = world.issue(face=FACE, due_in=2 * DAY)
    late = world.issue(face=FACE, due_in=DAY)
    open_offer = world.post_offer(live, 900_000, expires_in=30 * DAY)
    stale_offer = world.post_offer(live, 800_000, financier="bank2", expires_in=DAY)
    world.tx(world.core, fns.repay(due_soon, 500_000))
    world.travel_to(root(world, late).due_date + GRACE_PERIOD + 1)
    world.tx(world.operator, fns.markOverdue(late))
    world.travel_to(root(world, due_soon).due_date + GRACE_PERIOD + 1)
    world.tx(world.bank, token.approve(s2, 10))
    world.tx(world.operator, world.registry.functions.pause())

    due = world.now() + 30 * DAY
    refused = [
        (world.supplier, fns.register(world.core.address, FACE, due, bytes(32), b"k" * 32)),
        (world.core, fns.issue(s, FACE, due, bytes(32), b"k" * 32)),
        (world.core, fns.confirm(registered)),
        (world.core, fns.reject(registered, "no")),
        (world.supplier, fns.cancel(registered)),
        (world.supplier, fns.refuse(live, "not ours")),
        (world.supplier, fns.split(live, [s, s2], [500_000, 500_000])),
        (world.supplier, fns.safeTransferFrom(s, s2, live, FACE, b"")),
        (world.supplier, fns.safeBatchTransferFrom(s, s2, [live], [FACE], b"")),
        (world.bank2, fns.postOffer(live, 1, due)),
        (world.supplier, fns.acceptOffer(open_offer)),
        (world.bank, fns.cancelOffer(open_offer)),
        (world.outsider, fns.cancelOffer(stale_offer)),
        (world.core, fns.repay(due_soon, 1)),
        (world.outsider, fns.distribute(due_soon, 10)),
        (world.supplier, fns.claim(due_soon)),
        (world.outsider, fns.markOverdue(due_soon)),
        (world.operator, fns.close(late)),
        (world.operator, token.mint(s, 1)),
        (world.operator, token.burn(s, 1)),
        (world.supplier, token.transfer(s2, 1)),
        (world.supplier2, token.transferFrom(world.bank.address, s, 1)),
    ]
    for account, fn in refused:
        with reverts("MemberRegistryPaused"):
            world.tx(account, fn)

    world.tx(world.regulator, fns.freezeRoot(live, "while paused"))
    world.tx(world.regulator, fns.unfreezeRoot(live, "while paused"))
    world.tx(world.regulator, fns.freezePiece(live, "while paused"))
    world.tx(world.regulator, fns.unfreezePiece(live, "while paused"))
    world.tx(world.operator, fns.setLimits(*LIMITS))

    world.tx(world.operator, world.registry.functions.unpause())
    world.tx(world.outsider, fns.markOverdue(due_soon))
    world.tx(world.supplier, fns.acceptOffer(open_offer))
    assert piece(world, live).holder == world.bank.address


# -- setLimits ------------------------------------------------------------------------------


def test_set_limits_changes_depth_minimum_grace_and_piece_cap(world: World) -> None:
    fns = world.receivables.functions
    receipt = world.tx(world.operator, fns.setLimits(1, 500, DAY, 7))
    assert logs(world, receipt) == [
        (
            "LimitsChanged",
            {"maxDepth": 1, "minPieceAmount": 500, "gracePeriod": DAY, "maxLivePieces": 7},
        )
    ]
    assert fns.limits().call() == (1, 500, DAY, 7)
    rid = world.issue(face=1_000)
    with reverts("ReceivablesAmountTooSmall", amount=400, minimum=500):
        world.split(rid, [("supplier", 400), ("supplier2", 600)], holder="supplier")
    a, _ = world.split(rid, [("supplier", 500), ("supplier2", 500)], holder="supplier")
    with reverts("ReceivablesMaxDepthReached", pieceId=a, maxDepth=1):
        world.split(a, [("supplier", 250), ("supplier2", 250)], holder="supplier")
    with reverts("ReceivablesAmountTooSmall", amount=499, minimum=500):
        world.issue(face=499)
    world.travel_to(root(world, rid).due_date + DAY + 1)
    world.tx(world.operator, fns.markOverdue(rid))
    assert root(world, rid).status == RootStatus.OVERDUE


def test_a_max_depth_of_zero_forbids_splitting(world: World) -> None:
    world.tx(
        world.operator,
        world.receivables.functions.setLimits(0, MIN_PIECE, GRACE_PERIOD, MAX_LIVE_PIECES),
    )
    rid = world.issue(face=1_000)
    with reverts("ReceivablesMaxDepthReached", pieceId=rid, maxDepth=0):
        world.split(rid, [("supplier", 500), ("supplier2", 500)], holder="supplier")


def test_set_limits_refusals(world: World) -> None:
    fns = world.receivables.functions
    with reverts("ReceivablesInvalidLimits"):
        world.tx(world.operator, fns.setLimits(MAX_DEPTH, 0, GRACE_PERIOD, MAX_LIVE_PIECES))
    with reverts("ReceivablesInvalidLimits"):
        world.tx(world.operator, fns.setLimits(MAX_DEPTH, MIN_PIECE, GRACE_PERIOD, 0))
    with reverts("MemberRegistryMissingRole", account=world.regulator.address, anyOfRoles=OPERATOR):
        world.tx(world.regulator, fns.setLimits(*LIMITS))
    with reverts("MemberRegistryNotMember", account=world.outsider.address):
        world.tx(world.outsider, fns.setLimits(*LIMITS))
    assert fns.limits().call() == LIMITS


def test_constructor_refuses_zero_addresses_and_invalid_limits(world: World) -> None:
    registry, token = world.registry.address, world.token.address
    for args, error in (
        ((ZERO_ADDRESS, token, 4, 100, DAY, 10), "ReceivablesZeroAddress"),
        ((registry, ZERO_ADDRESS, 4, 100, DAY, 10), "ReceivablesZeroAddress"),
        ((registry, token, 4, 0, DAY, 10), "ReceivablesInvalidLimits"),
        ((registry, token, 4, 100, DAY, 0), "ReceivablesInvalidLimits"),
    ):
        with reverts(error):
            deploy_contract(world.conn, world.sender, "Receivables", *args, account=world.operator)
    assert world.receivables.functions.registry().call() == registry
    assert world.receivables.functions.token().call() == token


# -- the live-piece cap -----------------------------------------------------------------------


def test_splits_stop_at_the_live_piece_cap(world: World) -> None:
    fns = world.receivables.functions
    world.tx(world.operator, fns.setLimits(MAX_DEPTH, MIN_PIECE, GRACE_PERIOD, 5))
    rid = world.issue(face=10_000)
    a, b, c = world.split(
        rid, [("supplier", 4_000), ("supplier", 3_000), ("supplier2", 3_000)], holder="supplier"
    )
    assert root(world, rid).live_pieces == 3
    with reverts("ReceivablesTooManyPieces", rootId=rid, livePieces=6, maxLivePieces=5):
        world.split(a, [("supplier", 1_000)] * 4, holder="supplier")
    a1, _ = world.split(a, [("supplier", 2_000), ("supplier", 2_000)], holder="supplier")
    assert root(world, rid).live_pieces == 4
    world.split(b, [("supplier", 1_500), ("supplier3", 1_500)], holder="supplier")
    assert root(world, rid).live_pieces == 5
    with reverts("ReceivablesTooManyPieces", rootId=rid, livePieces=6, maxLivePieces=5):
        world.split(c, [("supplier2", 1_500), ("supplier3", 1_500)], holder="supplier2")
    # the cap is per receivable: another one splits freely
    other = world.issue(face=10_000)
    world.split(other, [("supplier", 5_000), ("supplier2", 5_000)], holder="supplier")
    # lowering the cap below a root's count stops only its further splits; whole moves go on
    world.tx(world.operator, fns.setLimits(MAX_DEPTH, MIN_PIECE, GRACE_PERIOD, 2))
    move = fns.safeTransferFrom(world.supplier2.address, world.supplier3.address, c, 3_000, b"")
    world.tx(world.supplier2, move)
    with reverts("ReceivablesTooManyPieces", rootId=rid, livePieces=6, maxLivePieces=2):
        world.split(a1, [("supplier", 1_000), ("supplier", 1_000)], holder="supplier")


def test_the_cap_bounds_a_distribution_pass_to_fewer_than_twice_as_many_pieces(
    world: World,
) -> None:
    fns = world.receivables.functions
    cap = 6
    world.tx(world.operator, fns.setLimits(MAX_DEPTH, MIN_PIECE, GRACE_PERIOD, cap))
    rid = world.issue(face=64_000)
    frontier = [rid]
    while root(world, rid).live_pieces < cap:  # split in two until the cap refuses
        pid = frontier.pop(0)
        half = piece(world, pid).amount // 2
        frontier += world.split(pid, [("supplier", half), ("supplier", half)], holder="supplier")
    with reverts("ReceivablesTooManyPieces", rootId=rid, livePieces=cap + 1, maxLivePieces=cap):
        world.split(frontier[0], [("supplier", 1_000)] * 2, holder="supplier")
    world.tx(world.core, fns.repay(rid, 64_000))
    world.travel_to(root(world, rid).due_date)
    receipt = world.tx(world.operator, fns.distribute(rid, 1_000))
    (distributed,) = world.events(receipt, "Distributed")
    assert distributed["piecesVisited"] == 2 * cap - 1  # the live pieces and their retired parents
    assert root(world, rid).status == RootStatus.SETTLED
