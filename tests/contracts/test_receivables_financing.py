"""Financing: offers with the price in escrow, atomic piece-for-cash swaps, cancels and expiry."""

from __future__ import annotations

from typing import Any

from chain.enums import OfferStatus
from tests.contracts.helpers import (
    FINANCIER,
    Offer,
    call,
    cash,
    escrow,
    logs,
    offer,
    piece,
    reverts,
    root,
)
from tests.factories import DAY, STARTING_CASH, World

FACE = 1_000_000
PRICE = 985_000


def post_fn(world: World, piece_id: int, price: int, expiry: int) -> Any:
    return world.receivables.functions.postOffer(piece_id, price, expiry)


def give(world: World, piece_id: int, frm: str, to: str) -> None:
    amount = piece(world, piece_id).amount
    world.tx(
        world.members[frm],
        world.receivables.functions.safeTransferFrom(
            world.members[frm].address, world.members[to].address, piece_id, amount, b""
        ),
    )


# -- postOffer ------------------------------------------------------------------------------


def test_post_offer_moves_the_price_into_escrow(world: World) -> None:
    rid = world.issue(face=FACE)
    expiry = world.now() + 7 * DAY
    assert call(world, post_fn(world, rid, PRICE, expiry), account=world.bank) == 1
    receipt = world.tx(world.bank, post_fn(world, rid, PRICE, expiry))
    bank = world.bank.address
    assert logs(world, receipt) == [
        ("Transfer", {"from": bank, "to": world.receivables.address, "value": PRICE}),
        (
            "OfferPosted",
            {"offerId": 1, "pieceId": rid, "financier": bank, "price": PRICE, "expiry": expiry},
        ),
    ]
    assert offer(world, 1) == Offer(bank, expiry, OfferStatus.OPEN, rid, PRICE)
    assert (cash(world, bank), escrow(world)) == (STARTING_CASH - PRICE, PRICE)
    assert world.receivables.functions.lastIds().call() == [rid, 1]
    assert piece(world, rid).holder == world.supplier.address


def test_post_offer_accepts_full_price_and_expiry_at_the_due_date(world: World) -> None:
    rid = world.issue(face=FACE)
    due = root(world, rid).due_date
    world.tx(world.bank2, post_fn(world, rid, FACE, due))
    assert offer(world, 1) == Offer(world.bank2.address, due, OfferStatus.OPEN, rid, FACE)


def test_post_offer_refuses_callers_who_are_not_active_financiers(world: World) -> None:
    rid = world.issue(face=FACE)
    fn = post_fn(world, rid, PRICE, world.now() + DAY)
    with reverts(
        "MemberRegistryMissingRole", account=world.supplier2.address, anyOfRoles=FINANCIER
    ):
        world.tx(world.supplier2, fn)
    with reverts("MemberRegistryNotMember", account=world.outsider.address):
        world.tx(world.outsider, fn)
    world.tx(world.operator, world.registry.functions.suspend(world.bank2.address))
    with reverts("MemberRegistryMemberSuspended", account=world.bank2.address):
        world.tx(world.bank2, fn)


def test_post_offer_refuses_bad_price_or_expiry(world: World) -> None:
    rid = world.issue(face=FACE)
    due = root(world, rid).due_date
    later = world.now() + DAY
    with reverts("ReceivablesInvalidPrice", pieceId=rid, price=0):
        world.tx(world.bank, post_fn(world, rid, 0, later))
    with reverts("ReceivablesInvalidPrice", pieceId=rid, price=FACE + 1):
        world.tx(world.bank, post_fn(world, rid, FACE + 1, later))
    now = world.now()
    with reverts("ReceivablesInvalidExpiry", expiry=now):
        world.tx(world.bank, post_fn(world, rid, PRICE, now))
    with reverts("ReceivablesInvalidExpiry", expiry=due + 1):
        world.tx(world.bank, post_fn(world, rid, PRICE, due + 1))


def test_post_offer_refuses_a_financier_buying_its_own_piece(world: World) -> None:
    rid = world.issue(face=FACE)
    give(world, rid, "supplier", "bank")
    with reverts("ReceivablesSelfDealing", account=world.bank.address):
        world.tx(world.bank, post_fn(world, rid, PRICE, world.now() + DAY))


def test_post_offer_refuses_pieces_that_cannot_move(world: World) -> None:
    rid = world.issue(face=FACE)
    expiry = world.now() + DAY
    with reverts("ReceivablesPieceNotActive", pieceId=999):
        world.tx(world.bank, post_fn(world, 999, PRICE, expiry))
    pending = world.register(face=FACE)
    with reverts("ReceivablesPieceNotActive", pieceId=pending):
        world.tx(world.bank, post_fn(world, pending, PRICE, expiry))
    world.tx(world.regulator, world.receivables.functions.freezePiece(rid, "dispute"))
    with reverts("ReceivablesPieceFrozen", pieceId=rid):
        world.tx(world.bank, post_fn(world, rid, PRICE, expiry))
    other = world.issue(face=FACE, due_in=DAY)
    due = root(world, other).due_date
    world.travel_to(due)
    with reverts("ReceivablesPieceLocked", pieceId=other, dueDate=due):
        world.tx(world.bank, post_fn(world, other, PRICE, due + DAY))


def test_post_offer_refuses_a_financier_without_the_cash(world: World) -> None:
    big = 2 * STARTING_CASH
    rid = world.issue(face=big)
    with reverts(
        "ERC20InsufficientBalance", sender=world.bank.address, balance=STARTING_CASH, needed=big
    ):
        world.tx(world.bank, post_fn(world, rid, big, world.now() + DAY))


# -- acceptOffer ----------------------------------------------------------------------------


def test_accept_offer_swaps_piece_and_cash_atomically(world: World) -> None:
    rid = world.issue(face=FACE)
    oid = world.post_offer(rid, PRICE)
    receipt = world.tx(world.supplier, world.receivables.functions.acceptOffer(oid))
    s, bank = world.supplier.address, world.bank.address
    assert logs(world, receipt) == [
        ("Transfer", {"from": world.receivables.address, "to": s, "value": PRICE}),
        ("TransferSingle", {"operator": s, "from": s, "to": bank, "id": rid, "value": FACE}),
        (
            "OfferAccepted",
            {"offerId": oid, "pieceId": rid, "seller": s, "financier": bank, "price": PRICE},
        ),
    ]
    assert offer(world, oid).status == OfferStatus.ACCEPTED
    assert piece(world, rid).holder == bank
    assert (world.holding(world.bank, rid), world.holding(world.supplier, rid)) == (FACE, 0)
    assert cash(world, s) == STARTING_CASH + PRICE
    assert (cash(world, bank), escrow(world)) == (STARTING_CASH - PRICE, 0)


def test_an_offer_follows_its_piece_to_the_next_holder(world: World) -> None:
    rid = world.issue(face=FACE)
    oid = world.post_offer(rid, PRICE)
    give(world, rid, "supplier", "supplier2")
    with reverts("ReceivablesNotHolder", pieceId=rid, account=world.supplier.address):
        world.tx(world.supplier, world.receivables.functions.acceptOffer(oid))
    world.tx(world.supplier2, world.receivables.functions.acceptOffer(oid))
    assert piece(world, rid).holder == world.bank.address
    assert cash(world, world.supplier2.address) == STARTING_CASH + PRICE


def test_competing_offers_stay_open_until_cancelled(world: World) -> None:
    rid = world.issue(face=FACE)
    first = world.post_offer(rid, PRICE, financier="bank")
    second = world.post_offer(rid, PRICE + 1, financier="bank2")
    world.tx(world.supplier, world.receivables.functions.acceptOffer(second))
    assert offer(world, first).status == OfferStatus.OPEN
    with reverts("ReceivablesNotHolder", pieceId=rid, account=world.supplier.address):
        world.tx(world.supplier, world.receivables.functions.acceptOffer(first))
    world.tx(world.bank2, world.receivables.functions.acceptOffer(first))
    assert piece(world, rid).holder == world.bank.address
    assert cash(world, world.bank2.address) == STARTING_CASH - 1
    assert escrow(world) == 0


def test_accept_offer_refuses_offers_that_are_not_open(world: World) -> None:
    rid = world.issue(face=FACE)
    accept = world.receivables.functions.acceptOffer
    with reverts("ReceivablesUnknownOffer", offerId=42):
        world.tx(world.supplier, accept(42))
    cancelled = world.post_offer(rid, PRICE)
    world.tx(world.bank, world.receivables.functions.cancelOffer(cancelled))
    with reverts("ReceivablesOfferNotOpen", offerId=cancelled, status=OfferStatus.CANCELLED):
        world.tx(world.supplier, accept(cancelled))
    taken = world.post_offer(rid, PRICE)
    world.tx(world.supplier, accept(taken))
    with reverts("ReceivablesOfferNotOpen", offerId=taken, status=OfferStatus.ACCEPTED):
        world.tx(world.bank, accept(taken))


def test_accept_offer_refuses_an_expired_offer(world: World) -> None:
    rid = world.issue(face=FACE)
    oid = world.post_offer(rid, PRICE, expires_in=DAY)
    expiry = offer(world, oid).expiry
    world.travel_to(expiry)
    with reverts("ReceivablesOfferExpired", offerId=oid, expiry=expiry):
        world.tx(world.supplier, world.receivables.functions.acceptOffer(oid))


def test_accept_offer_refuses_when_the_piece_was_split_or_frozen(world: World) -> None:
    rid = world.issue(face=FACE)
    a = world.issue(face=FACE)
    on_split = world.post_offer(rid, PRICE)
    on_frozen = world.post_offer(a, PRICE)
    world.split(rid, [("supplier", FACE // 2), ("supplier2", FACE // 2)], holder="supplier")
    world.tx(world.regulator, world.receivables.functions.freezePiece(a, "dispute"))
    with reverts("ReceivablesPieceNotActive", pieceId=rid):
        world.tx(world.supplier, world.receivables.functions.acceptOffer(on_split))
    with reverts("ReceivablesPieceFrozen", pieceId=a):
        world.tx(world.supplier, world.receivables.functions.acceptOffer(on_frozen))


def test_accept_offer_refuses_the_financier_selling_to_itself(world: World) -> None:
    rid = world.issue(face=FACE)
    oid = world.post_offer(rid, PRICE)
    give(world, rid, "supplier", "bank")
    with reverts("ReceivablesSelfDealing", account=world.bank.address):
        world.tx(world.bank, world.receivables.functions.acceptOffer(oid))


def test_accept_offer_refuses_suspended_parties(world: World) -> None:
    rid = world.issue(face=FACE)
    oid = world.post_offer(rid, PRICE)
    suspend = world.registry.functions.suspend
    world.tx(world.operator, suspend(world.bank.address))
    with reverts("MemberRegistryMemberSuspended", account=world.bank.address):
        world.tx(world.supplier, world.receivables.functions.acceptOffer(oid))
    world.tx(world.operator, world.registry.functions.reactivate(world.bank.address))
    world.tx(world.operator, suspend(world.supplier.address))
    with reverts("MemberRegistryMemberSuspended", account=world.supplier.address):
        world.tx(world.supplier, world.receivables.functions.acceptOffer(oid))


# -- cancelOffer ----------------------------------------------------------------------------


def test_cancel_offer_refunds_the_financier_before_expiry(world: World) -> None:
    rid = world.issue(face=FACE)
    oid = world.post_offer(rid, PRICE)
    receipt = world.tx(world.bank, world.receivables.functions.cancelOffer(oid))
    bank = world.bank.address
    assert logs(world, receipt) == [
        ("Transfer", {"from": world.receivables.address, "to": bank, "value": PRICE}),
        (
            "OfferCancelled",
            {"offerId": oid, "pieceId": rid, "financier": bank, "refund": PRICE, "expired": False},
        ),
    ]
    assert offer(world, oid).status == OfferStatus.CANCELLED
    assert (cash(world, bank), escrow(world)) == (STARTING_CASH, 0)
    assert piece(world, rid).holder == world.supplier.address


def test_cancel_offer_before_expiry_is_for_the_active_financier_only(world: World) -> None:
    rid = world.issue(face=FACE)
    oid = world.post_offer(rid, PRICE)
    cancel = world.receivables.functions.cancelOffer(oid)
    for caller in ("bank2", "supplier", "outsider"):
        address = world.members[caller].address
        with reverts("ReceivablesNotFinancier", offerId=oid, caller=address):
            world.tx(world.members[caller], cancel)
    world.tx(world.operator, world.registry.functions.suspend(world.bank.address))
    with reverts("MemberRegistryMemberSuspended", account=world.bank.address):
        world.tx(world.bank, cancel)


def test_cancel_offer_refuses_offers_that_are_not_open(world: World) -> None:
    rid = world.issue(face=FACE)
    cancel = world.receivables.functions.cancelOffer
    with reverts("ReceivablesUnknownOffer", offerId=7):
        world.tx(world.bank, cancel(7))
    oid = world.post_offer(rid, PRICE)
    world.tx(world.bank, cancel(oid))
    with reverts("ReceivablesOfferNotOpen", offerId=oid, status=OfferStatus.CANCELLED):
        world.tx(world.bank, cancel(oid))
    taken = world.post_offer(rid, PRICE)
    world.tx(world.supplier, world.receivables.functions.acceptOffer(taken))
    with reverts("ReceivablesOfferNotOpen", offerId=taken, status=OfferStatus.ACCEPTED):
        world.tx(world.bank, cancel(taken))


def test_an_expired_offer_is_refunded_by_anyone(world: World) -> None:
    rid = world.issue(face=FACE)
    oid = world.post_offer(rid, PRICE, expires_in=DAY)
    world.travel_to(offer(world, oid).expiry)
    receipt = world.tx(world.outsider, world.receivables.functions.cancelOffer(oid))
    bank = world.bank.address
    assert logs(world, receipt)[-1] == (
        "OfferCancelled",
        {"offerId": oid, "pieceId": rid, "financier": bank, "refund": PRICE, "expired": True},
    )
    assert (cash(world, bank), escrow(world)) == (STARTING_CASH, 0)


def test_an_offer_on_a_frozen_piece_can_still_be_withdrawn(world: World) -> None:
    rid = world.issue(face=FACE)
    oid = world.post_offer(rid, PRICE)
    world.tx(world.regulator, world.receivables.functions.freezeRoot(rid, "dispute"))
    world.tx(world.bank, world.receivables.functions.cancelOffer(oid))
    assert (cash(world, world.bank.address), escrow(world)) == (STARTING_CASH, 0)


def test_an_expired_offer_is_not_refunded_while_paused(world: World) -> None:
    rid = world.issue(face=FACE)
    oid = world.post_offer(rid, PRICE, expires_in=DAY)
    world.travel_to(offer(world, oid).expiry)
    world.tx(world.operator, world.registry.functions.pause())
    with reverts("MemberRegistryPaused"):
        world.tx(world.supplier, world.receivables.functions.cancelOffer(oid))
    assert escrow(world) == PRICE
