"""Pieces: split with provenance, whole-piece ERC-1155 transfers, and balanceOf semantics."""

from __future__ import annotations

from typing import Any

import pytest

from chain.consortium import entity_id
from chain.enums import PieceStatus
from tests.contracts.helpers import (
    HOLDER,
    SUPPLIER,
    ZERO_ADDRESS,
    Piece,
    call,
    logs,
    piece,
    reverts,
    root,
)
from tests.factories import MAX_DEPTH, MIN_PIECE, World


def split_fn(world: World, piece_id: int, parts: list[tuple[str, int]]) -> Any:
    return world.receivables.functions.split(
        piece_id, [world.members[n].address for n, _ in parts], [a for _, a in parts]
    )


def transfer_fn(world: World, frm: str, to: str, piece_id: int, value: int) -> Any:
    return world.receivables.functions.safeTransferFrom(
        world.members[frm].address, world.members[to].address, piece_id, value, b""
    )


def batch_fn(world: World, frm: str, to: str, ids: list[int], values: list[int]) -> Any:
    return world.receivables.functions.safeBatchTransferFrom(
        world.members[frm].address, world.members[to].address, ids, values, b""
    )


def walk(world: World, start: int) -> list[int]:
    """Piece ids of a root's list from `start`, following `next`."""
    ids = []
    while start:
        ids.append(start)
        start = piece(world, start).next
    return ids


# -- split ----------------------------------------------------------------------------------


def test_split_replaces_a_piece_by_children_that_remember_it(world: World) -> None:
    rid = world.issue(face=1_000)
    parts = [("supplier", 600), ("supplier2", 300), ("bank", 100)]
    assert call(world, split_fn(world, rid, parts), account=world.supplier) == [2, 3, 4]
    receipt = world.tx(world.supplier, split_fn(world, rid, parts))
    s, s2, bank = world.supplier.address, world.supplier2.address, world.bank.address
    single = "TransferSingle"
    assert logs(world, receipt) == [
        (single, {"operator": s, "from": s, "to": ZERO_ADDRESS, "id": rid, "value": 1_000}),
        (single, {"operator": s, "from": ZERO_ADDRESS, "to": s, "id": 2, "value": 600}),
        (single, {"operator": s, "from": ZERO_ADDRESS, "to": s2, "id": 3, "value": 300}),
        (single, {"operator": s, "from": ZERO_ADDRESS, "to": bank, "id": 4, "value": 100}),
        (
            "PieceSplit",
            {
                "parentId": rid,
                "rootId": rid,
                "childIds": [2, 3, 4],
                "holders": [s, s2, bank],
                "amounts": [600, 300, 100],
            },
        ),
    ]
    assert piece(world, rid) == Piece(s, 1_000, rid, 0, 4, PieceStatus.SPLIT, 0, False, 0)
    assert piece(world, 2) == Piece(s, 600, rid, rid, 0, PieceStatus.ACTIVE, 1, False, 0)
    assert piece(world, 3) == Piece(s2, 300, rid, rid, 2, PieceStatus.ACTIVE, 1, False, 0)
    assert piece(world, 4) == Piece(bank, 100, rid, rid, 3, PieceStatus.ACTIVE, 1, False, 0)
    assert world.receivables.functions.lastIds().call() == [4, 0]
    assert root(world, rid).head == rid


def test_split_of_a_child_links_grandchildren_into_the_roots_list(world: World) -> None:
    rid = world.issue(face=1_000)
    a, b = world.split(rid, [("supplier", 500), ("supplier2", 500)], holder="supplier")
    c, d = world.split(a, [("supplier3", 200), ("bank", 300)], holder="supplier")
    assert walk(world, root(world, rid).head) == [rid, b, a, d, c]
    assert (piece(world, c).parent_id, piece(world, c).depth) == (a, 2)
    assert (piece(world, d).parent_id, piece(world, d).root_id) == (a, rid)
    assert piece(world, a).status == PieceStatus.SPLIT


def test_split_allows_the_maximum_depth_and_refuses_beyond(world: World) -> None:
    pid = world.issue(face=100 * 2**MAX_DEPTH)
    for depth in range(1, MAX_DEPTH + 1):
        amount = piece(world, pid).amount // 2
        pid, _ = world.split(pid, [("supplier", amount), ("supplier2", amount)], holder="supplier")
        assert piece(world, pid).depth == depth
    with reverts("ReceivablesMaxDepthReached", pieceId=pid, maxDepth=MAX_DEPTH):
        world.tx(world.supplier, split_fn(world, pid, [("supplier", 50), ("supplier2", 50)]))


def test_split_refuses_bad_child_lists(world: World) -> None:
    rid = world.issue(face=1_000)
    holders = [world.supplier.address, world.supplier2.address]
    fns = world.receivables.functions
    with reverts("ReceivablesSplitLengthMismatch", holders=2, amounts=3):
        world.tx(world.supplier, fns.split(rid, holders, [300, 300, 400]))
    with reverts("ReceivablesSplitChildCount", count=1):
        world.tx(world.supplier, fns.split(rid, holders[:1], [1_000]))
    with reverts("ReceivablesSplitChildCount", count=0):
        world.tx(world.supplier, fns.split(rid, [], []))
    with reverts("ReceivablesSplitChildCount", count=33):
        world.tx(world.supplier, fns.split(rid, holders[:1] * 33, [100] * 33))


def test_split_into_the_maximum_of_32_children(world: World) -> None:
    rid = world.issue(face=32 * MIN_PIECE)
    children = world.split(rid, [("supplier2", MIN_PIECE)] * 32, holder="supplier")
    assert children == list(range(rid + 1, rid + 33))
    assert walk(world, rid) == [rid, *reversed(children)]
    assert world.holding(world.supplier2, children[-1]) == MIN_PIECE


def test_split_rejects_amounts_not_summing_to_parent(world: World) -> None:
    rid = world.issue(face=1_000)
    cases = [([400, 500], 900), ([600, 500], 1_100), ([600, 600, 100], 1_200)]
    for amounts, reported in cases:
        parts = list(zip(["supplier", "supplier2", "supplier3"], amounts, strict=False))
        with reverts("ReceivablesSplitSumMismatch", pieceId=rid, amount=1_000, sum=reported):
            world.tx(world.supplier, split_fn(world, rid, parts))


def test_split_refuses_children_below_the_minimum_piece(world: World) -> None:
    rid = world.issue(face=1_000)
    with reverts("ReceivablesAmountTooSmall", amount=MIN_PIECE - 1, minimum=MIN_PIECE):
        world.tx(world.supplier, split_fn(world, rid, [("supplier", 901), ("supplier2", 99)]))
    with reverts("ReceivablesAmountTooSmall", amount=0, minimum=MIN_PIECE):
        world.tx(world.supplier, split_fn(world, rid, [("supplier", 0), ("supplier2", 1_000)]))


def test_split_refuses_anyone_but_the_active_holder(world: World) -> None:
    rid = world.issue(face=1_000)
    parts = [("supplier", 500), ("supplier2", 500)]
    with reverts("ReceivablesNotHolder", pieceId=rid, account=world.supplier2.address):
        world.tx(world.supplier2, split_fn(world, rid, parts))
    world.tx(world.operator, world.registry.functions.suspend(world.supplier.address))
    with reverts("MemberRegistryMemberSuspended", account=world.supplier.address):
        world.tx(world.supplier, split_fn(world, rid, [("supplier2", 500), ("bank", 500)]))


@pytest.mark.parametrize(
    ("recipient", "error", "extra"),
    [
        ("outsider", "MemberRegistryNotMember", {}),
        ("suspended", "MemberRegistryMemberSuspended", {}),
        ("core", "MemberRegistryMissingRole", {"anyOfRoles": HOLDER}),
        ("auditor", "MemberRegistryMissingRole", {"anyOfRoles": HOLDER}),
    ],
)
def test_split_refuses_children_for_those_who_cannot_hold(
    world: World, recipient: str, error: str, extra: dict[str, int]
) -> None:
    rid = world.issue(face=1_000)
    with reverts(error, account=world.members[recipient].address, **extra):
        world.tx(world.supplier, split_fn(world, rid, [("supplier2", 500), (recipient, 500)]))


def test_split_refuses_pieces_that_are_not_active(world: World) -> None:
    pending = world.register(face=1_000)
    parts = [("supplier", 500), ("supplier2", 500)]
    with reverts("ReceivablesPieceNotActive", pieceId=pending):
        world.tx(world.supplier, split_fn(world, pending, parts))
    with reverts("ReceivablesPieceNotActive", pieceId=999):
        world.tx(world.supplier, split_fn(world, 999, parts))
    rid = world.issue(face=1_000)
    world.split(rid, parts, holder="supplier")
    with reverts("ReceivablesPieceNotActive", pieceId=rid):
        world.tx(world.supplier, split_fn(world, rid, parts))


def test_split_refuses_frozen_and_locked_pieces(world: World) -> None:
    rid = world.issue(face=1_000)
    parts = [("supplier", 500), ("supplier2", 500)]
    world.tx(world.regulator, world.receivables.functions.freezePiece(rid, "dispute"))
    with reverts("ReceivablesPieceFrozen", pieceId=rid):
        world.tx(world.supplier, split_fn(world, rid, parts))
    world.tx(world.regulator, world.receivables.functions.unfreezePiece(rid, "resolved"))
    due = root(world, rid).due_date
    world.travel_to(due)
    with reverts("ReceivablesPieceLocked", pieceId=rid, dueDate=due):
        world.tx(world.supplier, split_fn(world, rid, parts))


# -- safeTransferFrom / safeBatchTransferFrom ------------------------------------------------


def test_safe_transfer_moves_a_whole_piece(world: World) -> None:
    rid = world.issue(face=1_000)
    receipt = world.tx(world.supplier, transfer_fn(world, "supplier", "supplier2", rid, 1_000))
    s, s2 = world.supplier.address, world.supplier2.address
    assert logs(world, receipt) == [
        ("TransferSingle", {"operator": s, "from": s, "to": s2, "id": rid, "value": 1_000})
    ]
    assert piece(world, rid).holder == s2
    assert (world.holding(world.supplier, rid), world.holding(world.supplier2, rid)) == (0, 1_000)
    world.tx(world.supplier2, transfer_fn(world, "supplier2", "bank", rid, 1_000))
    assert piece(world, rid).holder == world.bank.address


@pytest.mark.parametrize("value", [0, 999, 1_001])
def test_safe_transfer_refuses_part_of_a_piece(world: World, value: int) -> None:
    rid = world.issue(face=1_000)
    with reverts("ReceivablesPartialTransfer", pieceId=rid, amount=1_000, value=value):
        world.tx(world.supplier, transfer_fn(world, "supplier", "supplier2", rid, value))


def test_safe_transfer_refuses_a_sender_who_does_not_hold_the_piece(world: World) -> None:
    rid = world.issue(face=1_000, supplier="supplier2")
    with reverts("ReceivablesNotHolder", pieceId=rid, account=world.supplier.address):
        world.tx(world.supplier, transfer_fn(world, "supplier", "supplier3", rid, 1_000))


def test_safe_transfer_by_an_operator_needs_approval_for_all(world: World) -> None:
    rid = world.issue(face=1_000)
    s, s2 = world.supplier.address, world.supplier2.address
    fn = transfer_fn(world, "supplier", "supplier3", rid, 1_000)
    with reverts("ERC1155MissingApprovalForAll", operator=s2, owner=s):
        world.tx(world.supplier2, fn)
    receipt = world.tx(world.supplier, world.receivables.functions.setApprovalForAll(s2, True))
    assert logs(world, receipt) == [
        ("ApprovalForAll", {"account": s, "operator": s2, "approved": True})
    ]
    assert world.receivables.functions.isApprovedForAll(s, s2).call() is True
    receipt = world.tx(world.supplier2, fn)
    assert logs(world, receipt)[0][1]["operator"] == s2
    assert piece(world, rid).holder == world.supplier3.address
    world.tx(world.supplier, world.receivables.functions.setApprovalForAll(s2, False))
    other = world.issue(face=1_000)
    with reverts("ERC1155MissingApprovalForAll", operator=s2, owner=s):
        world.tx(world.supplier2, transfer_fn(world, "supplier", "supplier3", other, 1_000))


def test_set_approval_for_all_refuses_the_zero_operator(world: World) -> None:
    with reverts("ERC1155InvalidOperator", operator=ZERO_ADDRESS):
        world.tx(world.supplier, world.receivables.functions.setApprovalForAll(ZERO_ADDRESS, True))


def test_safe_transfer_refuses_an_operator_who_is_not_a_member(world: World) -> None:
    rid = world.issue(face=1_000)
    world.tx(
        world.supplier,
        world.receivables.functions.setApprovalForAll(world.outsider.address, True),
    )
    with reverts("MemberRegistryNotMember", account=world.outsider.address):
        world.tx(world.outsider, transfer_fn(world, "supplier", "supplier2", rid, 1_000))


def test_safe_transfer_refuses_the_zero_receiver(world: World) -> None:
    rid = world.issue(face=1_000)
    fn = world.receivables.functions.safeTransferFrom(
        world.supplier.address, ZERO_ADDRESS, rid, 1_000, b""
    )
    with reverts("ERC1155InvalidReceiver", receiver=ZERO_ADDRESS):
        world.tx(world.supplier, fn)


@pytest.mark.parametrize(
    ("recipient", "error", "extra"),
    [
        ("outsider", "MemberRegistryNotMember", {}),
        ("suspended", "MemberRegistryMemberSuspended", {}),
        ("core", "MemberRegistryMissingRole", {"anyOfRoles": HOLDER}),
    ],
)
def test_safe_transfer_refuses_recipients_who_cannot_hold(
    world: World, recipient: str, error: str, extra: dict[str, int]
) -> None:
    rid = world.issue(face=1_000)
    with reverts(error, account=world.members[recipient].address, **extra):
        world.tx(world.supplier, transfer_fn(world, "supplier", recipient, rid, 1_000))


def test_safe_transfer_refuses_a_suspended_holder(world: World) -> None:
    rid = world.issue(face=1_000)
    world.tx(world.operator, world.registry.functions.suspend(world.supplier.address))
    with reverts("MemberRegistryMemberSuspended", account=world.supplier.address):
        world.tx(world.supplier, transfer_fn(world, "supplier", "supplier2", rid, 1_000))


def test_safe_transfer_to_a_contract_member_without_receiver_hook_is_refused(
    world: World,
) -> None:
    rid = world.issue(face=1_000)
    contract = world.registry.address
    world.tx(
        world.operator,
        world.registry.functions.addMember(contract, SUPPLIER, entity_id("contract"), 0),
    )
    fn = world.receivables.functions.safeTransferFrom(
        world.supplier.address, contract, rid, 1_000, b""
    )
    with reverts("ERC1155InvalidReceiver", receiver=contract):
        world.tx(world.supplier, fn)


def test_safe_transfer_refuses_pieces_that_are_not_active(world: World) -> None:
    pending = world.register(face=1_000)
    with reverts("ReceivablesPieceNotActive", pieceId=pending):
        world.tx(world.supplier, transfer_fn(world, "supplier", "supplier2", pending, 1_000))
    rid = world.issue(face=1_000)
    world.split(rid, [("supplier", 500), ("supplier2", 500)], holder="supplier")
    with reverts("ReceivablesPieceNotActive", pieceId=rid):
        world.tx(world.supplier, transfer_fn(world, "supplier", "supplier2", rid, 1_000))
    with reverts("ReceivablesPieceNotActive", pieceId=999):
        world.tx(world.supplier, transfer_fn(world, "supplier", "supplier2", 999, 0))


def test_safe_transfer_refuses_frozen_pieces_and_pieces_of_frozen_roots(world: World) -> None:
    rid = world.issue(face=1_000)
    a, b = world.split(rid, [("supplier", 500), ("supplier", 500)], holder="supplier")
    fns = world.receivables.functions
    world.tx(world.regulator, fns.freezePiece(a, "dispute"))
    with reverts("ReceivablesPieceFrozen", pieceId=a):
        world.tx(world.supplier, transfer_fn(world, "supplier", "supplier2", a, 500))
    world.tx(world.supplier, transfer_fn(world, "supplier", "supplier2", b, 500))
    world.tx(world.regulator, fns.freezeRoot(rid, "dispute"))
    with reverts("ReceivablesPieceFrozen", pieceId=b):
        world.tx(world.supplier2, transfer_fn(world, "supplier2", "supplier", b, 500))


def test_safe_transfer_refuses_a_piece_locked_at_its_due_date(world: World) -> None:
    rid = world.issue(face=1_000)
    due = root(world, rid).due_date
    world.travel_to(due)
    with reverts("ReceivablesPieceLocked", pieceId=rid, dueDate=due):
        world.tx(world.supplier, transfer_fn(world, "supplier", "supplier2", rid, 1_000))
    with reverts("ReceivablesPieceLocked", pieceId=rid, dueDate=due):
        world.tx(world.supplier, batch_fn(world, "supplier", "supplier2", [rid], [1_000]))


def test_safe_batch_transfer_moves_several_whole_pieces(world: World) -> None:
    rid = world.issue(face=1_000)
    a, b = world.split(rid, [("supplier", 600), ("supplier", 400)], holder="supplier")
    receipt = world.tx(world.supplier, batch_fn(world, "supplier", "supplier2", [a, b], [600, 400]))
    s, s2 = world.supplier.address, world.supplier2.address
    assert logs(world, receipt) == [
        (
            "TransferBatch",
            {"operator": s, "from": s, "to": s2, "ids": [a, b], "values": [600, 400]},
        )
    ]
    assert (piece(world, a).holder, piece(world, b).holder) == (s2, s2)
    receipt = world.tx(world.supplier2, batch_fn(world, "supplier2", "bank", [a], [600]))
    assert logs(world, receipt) == [
        (
            "TransferSingle",
            {"operator": s2, "from": s2, "to": world.bank.address, "id": a, "value": 600},
        )
    ]


def test_safe_batch_transfer_is_all_or_nothing(world: World) -> None:
    rid = world.issue(face=1_000)
    a, b, c = world.split(
        rid, [("supplier", 500), ("supplier", 400), ("bank", 100)], holder="supplier"
    )
    with reverts("ReceivablesPartialTransfer", pieceId=b, amount=400, value=399):
        world.tx(world.supplier, batch_fn(world, "supplier", "supplier2", [a, b], [500, 399]))
    with reverts("ReceivablesNotHolder", pieceId=c, account=world.supplier.address):
        world.tx(world.supplier, batch_fn(world, "supplier", "supplier2", [a, c], [500, 100]))
    with reverts("ReceivablesNotHolder", pieceId=a, account=world.supplier.address):
        world.tx(world.supplier, batch_fn(world, "supplier", "supplier2", [a, a], [500, 500]))
    with reverts("MemberRegistryNotMember", account=world.outsider.address):
        world.tx(world.supplier, batch_fn(world, "supplier", "outsider", [a, b], [500, 400]))
    assert (piece(world, a).holder, piece(world, b).holder) == (world.supplier.address,) * 2


@pytest.mark.parametrize("values", [[500], [500, 500, 1]], ids=["fewer-values", "extra-values"])
def test_safe_batch_transfer_refuses_mismatched_arrays(world: World, values: list[int]) -> None:
    rid = world.issue(face=1_000)
    a, b = world.split(rid, [("supplier", 500), ("supplier", 500)], holder="supplier")
    with reverts("ERC1155InvalidArrayLength", idsLength=2, valuesLength=len(values)):
        world.tx(world.supplier, batch_fn(world, "supplier", "supplier2", [a, b], values))


# -- balanceOf ------------------------------------------------------------------------------


def test_balance_of_is_the_amount_for_the_holder_of_an_active_piece_only(world: World) -> None:
    balance = world.receivables.functions.balanceOf
    pending = world.register(face=1_000)
    assert balance(world.supplier.address, pending).call() == 0
    rid = world.issue(face=1_000)
    assert balance(world.supplier.address, rid).call() == 1_000
    assert balance(world.supplier2.address, rid).call() == 0
    a, b = world.split(rid, [("supplier", 700), ("supplier2", 300)], holder="supplier")
    assert balance(world.supplier.address, rid).call() == 0
    addresses = [world.supplier.address, world.supplier2.address, world.supplier.address]
    batch = world.receivables.functions.balanceOfBatch(addresses, [a, b, b]).call()
    assert batch == [700, 300, 0]
    assert balance(world.supplier.address, 999).call() == 0
    with reverts("ERC1155InvalidArrayLength", idsLength=1, valuesLength=2):
        call(world, world.receivables.functions.balanceOfBatch(addresses[:2], [a]))


def test_supports_the_erc1155_interfaces(world: World) -> None:
    supports = world.receivables.functions.supportsInterface
    assert supports(bytes.fromhex("d9b67a26")).call() is True  # ERC-1155
    assert supports(bytes.fromhex("01ffc9a7")).call() is True  # ERC-165
    assert supports(bytes.fromhex("ffffffff")).call() is False
