"""Receivables origination: register, confirm, issue, reject, cancel; invoice keys; credit."""

from __future__ import annotations

from typing import Any

import pytest
from eth_utils import keccak

from chain.consortium import entity_id
from chain.enums import PieceStatus, RootStatus
from tests.contracts.helpers import (
    CORE,
    SUPPLIER,
    ZERO_ADDRESS,
    Piece,
    Root,
    credit_used,
    logs,
    piece,
    reverts,
    root,
)
from tests.factories import DAY, MIN_PIECE, World

MAX_TENOR = 10 * 365 * DAY
DOC = keccak(text="invoice document")


def root_by_key(world: World, key: bytes) -> int:
    return int(world.receivables.functions.rootByInvoiceKey(key).call())


def register_fn(
    world: World,
    *,
    debtor: str = "core",
    face: int = 1_000,
    due: int | None = None,
    key: bytes | None = None,
) -> Any:
    return world.receivables.functions.register(
        world.members[debtor].address,
        face,
        world.now() + 30 * DAY if due is None else due,
        DOC,
        world.invoice_key() if key is None else key,
    )


def issue_fn(
    world: World,
    *,
    supplier: str = "supplier",
    face: int = 1_000,
    due: int | None = None,
    key: bytes | None = None,
) -> Any:
    return world.receivables.functions.issue(
        world.members[supplier].address,
        face,
        world.now() + 30 * DAY if due is None else due,
        DOC,
        world.invoice_key() if key is None else key,
    )


# -- register -------------------------------------------------------------------------------


def test_register_records_a_pending_root_without_minting(world: World) -> None:
    key = world.invoice_key()
    due = world.now() + 60 * DAY
    receipt = world.tx(world.supplier, register_fn(world, face=5_000, due=due, key=key))
    assert logs(world, receipt) == [
        (
            "ReceivableRegistered",
            {
                "rootId": 1,
                "supplier": world.supplier.address,
                "debtor": world.core.address,
                "faceValue": 5_000,
                "dueDate": due,
                "invoiceHash": DOC,
                "invoiceKey": key,
            },
        )
    ]
    assert root(world, 1) == Root(
        world.core.address,
        due,
        RootStatus.REGISTERED,
        False,
        1,
        world.supplier.address,
        1,
        0,
        0,
        5_000,
        0,
        0,
        0,
        DOC,
        key,
    )
    assert piece(world, 1) == Piece(
        world.supplier.address, 5_000, 1, 0, 0, PieceStatus.PENDING, 0, False, 0
    )
    assert world.holding(world.supplier, 1) == 0
    assert root_by_key(world, key) == 1
    assert credit_used(world, world.core) == 0
    assert world.receivables.functions.lastIds().call() == [1, 0]


def test_register_refuses_parties_without_the_right_standing(world: World) -> None:
    fn = register_fn(world)
    with reverts("MemberRegistryMissingRole", account=world.core.address, anyOfRoles=SUPPLIER):
        world.tx(world.core, fn)
    with reverts("MemberRegistryMemberSuspended", account=world.suspended.address):
        world.tx(world.suspended, fn)
    with reverts("MemberRegistryNotMember", account=world.outsider.address):
        world.tx(world.outsider, fn)
    with reverts("MemberRegistryMissingRole", account=world.supplier2.address, anyOfRoles=CORE):
        world.tx(world.supplier, register_fn(world, debtor="supplier2"))
    with reverts("MemberRegistryNotMember", account=world.outsider.address):
        world.tx(world.supplier, register_fn(world, debtor="outsider"))


def test_register_refuses_invalid_terms(world: World) -> None:
    supplier = world.supplier
    with reverts("ReceivablesAmountTooSmall", amount=MIN_PIECE - 1, minimum=MIN_PIECE):
        world.tx(supplier, register_fn(world, face=MIN_PIECE - 1))
    with reverts("ReceivablesAmountTooLarge", amount=2**96):
        world.tx(supplier, register_fn(world, face=2**96))
    now = world.now()
    with reverts("ReceivablesInvalidDueDate", dueDate=now):
        world.tx(supplier, register_fn(world, due=now))
    too_far = now + MAX_TENOR + DAY
    with reverts("ReceivablesInvalidDueDate", dueDate=too_far):
        world.tx(supplier, register_fn(world, due=too_far))
    with reverts("ReceivablesZeroInvoiceKey"):
        world.tx(supplier, register_fn(world, key=bytes(32)))


def test_register_and_issue_refuse_debtor_and_supplier_being_the_same(world: World) -> None:
    world.tx(world.operator, world.registry.functions.setRoles(world.core.address, CORE | SUPPLIER))
    with reverts("ReceivablesSelfDealing", account=world.core.address):
        world.tx(world.core, register_fn(world, debtor="core"))
    with reverts("ReceivablesSelfDealing", account=world.core.address):
        world.tx(world.core, issue_fn(world, supplier="core"))


def test_an_invoice_key_backs_only_one_live_receivable(world: World) -> None:
    key = world.invoice_key()
    registered = world.register(key=key)
    with reverts("ReceivablesInvoiceKeyUsed", invoiceKey=key, rootId=registered):
        world.tx(world.supplier2, register_fn(world, key=key))
    with reverts("ReceivablesInvoiceKeyUsed", invoiceKey=key, rootId=registered):
        world.tx(world.core2, issue_fn(world, key=key))
    world.tx(world.core, world.receivables.functions.confirm(registered))
    with reverts("ReceivablesInvoiceKeyUsed", invoiceKey=key, rootId=registered):
        world.tx(world.supplier, register_fn(world, key=key))


def test_rejection_and_cancellation_release_the_invoice_key(world: World) -> None:
    key = world.invoice_key()
    first = world.register(key=key)
    world.tx(world.core, world.receivables.functions.reject(first, "wrong amount"))
    assert root_by_key(world, key) == 0
    second = world.register(key=key)
    assert (second, root_by_key(world, key)) == (first + 1, second)
    world.tx(world.supplier, world.receivables.functions.cancel(second))
    assert root_by_key(world, key) == 0
    receipt = world.tx(world.core, issue_fn(world, key=key))
    assert root_by_key(world, key) == second + 1
    assert logs(world, receipt)[0][1]["invoiceKey"] == key


# -- confirm --------------------------------------------------------------------------------


def test_confirm_mints_the_root_piece_and_uses_credit(world: World) -> None:
    world.issue(debtor="core", face=2_000)
    rid = world.register(face=3_000)
    receipt = world.tx(world.core, world.receivables.functions.confirm(rid))
    assert logs(world, receipt) == [
        (
            "TransferSingle",
            {
                "operator": world.core.address,
                "from": ZERO_ADDRESS,
                "to": world.supplier.address,
                "id": rid,
                "value": 3_000,
            },
        ),
        ("ReceivableConfirmed", {"rootId": rid, "debtor": world.core.address, "creditUsed": 5_000}),
    ]
    assert root(world, rid).status == RootStatus.CONFIRMED
    assert piece(world, rid).status == PieceStatus.ACTIVE
    assert world.holding(world.supplier, rid) == 3_000
    assert credit_used(world, world.core) == 5_000
    assert credit_used(world, world.core2) == 0


def test_confirm_refuses_anyone_but_the_active_debtor(world: World) -> None:
    rid = world.register()
    confirm = world.receivables.functions.confirm(rid)
    with reverts("ReceivablesUnknownRoot", rootId=999):
        world.tx(world.core, world.receivables.functions.confirm(999))
    with reverts("ReceivablesNotDebtor", rootId=rid, caller=world.core2.address):
        world.tx(world.core2, confirm)
    with reverts("ReceivablesNotDebtor", rootId=rid, caller=world.supplier.address):
        world.tx(world.supplier, confirm)
    world.tx(world.operator, world.registry.functions.suspend(world.core.address))
    with reverts("MemberRegistryMemberSuspended", account=world.core.address):
        world.tx(world.core, confirm)


def test_confirm_refuses_when_the_supplier_was_suspended_since(world: World) -> None:
    rid = world.register()
    world.tx(world.operator, world.registry.functions.suspend(world.supplier.address))
    with reverts("MemberRegistryMemberSuspended", account=world.supplier.address):
        world.tx(world.core, world.receivables.functions.confirm(rid))


def test_confirm_refuses_a_root_not_registered(world: World) -> None:
    confirmed = world.issue()
    with reverts("ReceivablesInvalidStatus", rootId=confirmed, status=RootStatus.CONFIRMED):
        world.tx(world.core, world.receivables.functions.confirm(confirmed))
    rejected = world.register()
    world.tx(world.core, world.receivables.functions.reject(rejected, "no"))
    with reverts("ReceivablesInvalidStatus", rootId=rejected, status=RootStatus.REJECTED):
        world.tx(world.core, world.receivables.functions.confirm(rejected))


def test_confirm_refuses_once_the_due_date_is_reached(world: World) -> None:
    rid = world.register(due_in=DAY)
    due = root(world, rid).due_date
    world.travel_to(due)
    with reverts("ReceivablesInvalidDueDate", dueDate=due):
        world.tx(world.core, world.receivables.functions.confirm(rid))


# -- credit limit ---------------------------------------------------------------------------


def test_confirmation_stays_within_the_credit_limit(world: World) -> None:
    world.tx(world.operator, world.registry.functions.setCreditLimit(world.core.address, 1_500))
    world.issue(face=1_000)
    too_much = world.register(face=600)
    with reverts(
        "ReceivablesCreditLimitExceeded",
        debtor=world.core.address,
        creditLimit=1_500,
        creditUsed=1_000,
        amount=600,
    ):
        world.tx(world.core, world.receivables.functions.confirm(too_much))
    with reverts(
        "ReceivablesCreditLimitExceeded",
        debtor=world.core.address,
        creditLimit=1_500,
        creditUsed=1_000,
        amount=600,
    ):
        world.tx(world.core, issue_fn(world, face=600))
    exactly = world.register(face=500)
    world.tx(world.core, world.receivables.functions.confirm(exactly))
    assert credit_used(world, world.core) == 1_500


def test_lowering_the_limit_below_usage_blocks_only_new_confirmations(world: World) -> None:
    rid = world.issue(face=1_000)
    world.tx(world.operator, world.registry.functions.setCreditLimit(world.core.address, 500))
    world.split(rid, [("supplier", 400), ("supplier2", 600)], holder="supplier")
    world.tx(world.core, world.receivables.functions.repay(rid, 100))
    assert credit_used(world, world.core) == 900
    with reverts(
        "ReceivablesCreditLimitExceeded",
        debtor=world.core.address,
        creditLimit=500,
        creditUsed=900,
        amount=100,
    ):
        world.tx(world.core, issue_fn(world, face=100))
    world.issue(debtor="core2", face=100)


# -- issue ----------------------------------------------------------------------------------


def test_issue_creates_a_confirmed_root_in_one_step(world: World) -> None:
    key = world.invoice_key()
    due = world.now() + 45 * DAY
    receipt = world.tx(
        world.core, issue_fn(world, supplier="supplier2", face=7_000, due=due, key=key)
    )
    supplier2 = world.supplier2.address
    assert logs(world, receipt) == [
        (
            "ReceivableRegistered",
            {
                "rootId": 1,
                "supplier": supplier2,
                "debtor": world.core.address,
                "faceValue": 7_000,
                "dueDate": due,
                "invoiceHash": DOC,
                "invoiceKey": key,
            },
        ),
        (
            "TransferSingle",
            {
                "operator": world.core.address,
                "from": ZERO_ADDRESS,
                "to": supplier2,
                "id": 1,
                "value": 7_000,
            },
        ),
        ("ReceivableConfirmed", {"rootId": 1, "debtor": world.core.address, "creditUsed": 7_000}),
    ]
    assert root(world, 1) == Root(
        world.core.address,
        due,
        RootStatus.CONFIRMED,
        False,
        1,
        supplier2,
        1,
        0,
        0,
        7_000,
        0,
        0,
        0,
        DOC,
        key,
    )
    assert piece(world, 1) == Piece(supplier2, 7_000, 1, 0, 0, PieceStatus.ACTIVE, 0, False, 0)
    assert world.holding(world.supplier2, 1) == 7_000
    assert credit_used(world, world.core) == 7_000


def test_issue_refusals(world: World) -> None:
    core = world.core
    with reverts("MemberRegistryMissingRole", account=world.supplier.address, anyOfRoles=CORE):
        world.tx(world.supplier, issue_fn(world, supplier="supplier2"))
    with reverts("MemberRegistryMissingRole", account=world.bank.address, anyOfRoles=SUPPLIER):
        world.tx(core, issue_fn(world, supplier="bank"))
    with reverts("MemberRegistryMemberSuspended", account=world.suspended.address):
        world.tx(core, issue_fn(world, supplier="suspended"))
    with reverts("MemberRegistryNotMember", account=world.outsider.address):
        world.tx(world.outsider, issue_fn(world))
    with reverts("ReceivablesAmountTooSmall", amount=0, minimum=MIN_PIECE):
        world.tx(core, issue_fn(world, face=0))
    with reverts("ReceivablesAmountTooLarge", amount=2**96 + 5):
        world.tx(core, issue_fn(world, face=2**96 + 5))
    past = world.now() - DAY
    with reverts("ReceivablesInvalidDueDate", dueDate=past):
        world.tx(core, issue_fn(world, due=past))
    with reverts("ReceivablesZeroInvoiceKey"):
        world.tx(core, issue_fn(world, key=bytes(32)))


# -- reject / cancel ------------------------------------------------------------------------


def test_reject_voids_the_registration(world: World) -> None:
    rid = world.register()
    key = root(world, rid).invoice_key
    receipt = world.tx(world.core, world.receivables.functions.reject(rid, "goods not received"))
    assert logs(world, receipt) == [
        (
            "ReceivableRejected",
            {"rootId": rid, "debtor": world.core.address, "reason": "goods not received"},
        )
    ]
    assert root(world, rid).status == RootStatus.REJECTED
    assert piece(world, rid).status == PieceStatus.VOID
    assert root_by_key(world, key) == 0
    assert credit_used(world, world.core) == 0


def test_reject_refusals(world: World) -> None:
    rid = world.register()
    reject = world.receivables.functions.reject(rid, "no")
    with reverts("ReceivablesUnknownRoot", rootId=999):
        world.tx(world.core, world.receivables.functions.reject(999, "no"))
    with reverts("ReceivablesNotDebtor", rootId=rid, caller=world.supplier.address):
        world.tx(world.supplier, reject)
    confirmed = world.issue()
    with reverts("ReceivablesInvalidStatus", rootId=confirmed, status=RootStatus.CONFIRMED):
        world.tx(world.core, world.receivables.functions.reject(confirmed, "no"))
    world.tx(world.operator, world.registry.functions.suspend(world.core.address))
    with reverts("MemberRegistryMemberSuspended", account=world.core.address):
        world.tx(world.core, reject)


def test_cancel_withdraws_the_registration(world: World) -> None:
    rid = world.register()
    key = root(world, rid).invoice_key
    receipt = world.tx(world.supplier, world.receivables.functions.cancel(rid))
    assert logs(world, receipt) == [
        ("ReceivableCancelled", {"rootId": rid, "supplier": world.supplier.address})
    ]
    assert root(world, rid).status == RootStatus.CANCELLED
    assert piece(world, rid).status == PieceStatus.VOID
    assert root_by_key(world, key) == 0


def test_cancel_refusals(world: World) -> None:
    rid = world.register()
    cancel = world.receivables.functions.cancel(rid)
    with reverts("ReceivablesUnknownRoot", rootId=999):
        world.tx(world.supplier, world.receivables.functions.cancel(999))
    with reverts("ReceivablesNotSupplier", rootId=rid, caller=world.supplier2.address):
        world.tx(world.supplier2, cancel)
    with reverts("ReceivablesNotSupplier", rootId=rid, caller=world.core.address):
        world.tx(world.core, cancel)
    world.tx(world.operator, world.registry.functions.suspend(world.supplier.address))
    with reverts("MemberRegistryMemberSuspended", account=world.supplier.address):
        world.tx(world.supplier, cancel)
    world.tx(world.operator, world.registry.functions.reactivate(world.supplier.address))
    world.tx(world.supplier, cancel)
    with reverts("ReceivablesInvalidStatus", rootId=rid, status=RootStatus.CANCELLED):
        world.tx(world.supplier, cancel)


@pytest.mark.parametrize("action", ["reject", "cancel"])
def test_a_frozen_registration_cannot_be_voided(world: World, action: str) -> None:
    rid = world.register()
    world.tx(world.regulator, world.receivables.functions.freezeRoot(rid, "dispute"))
    with reverts("ReceivablesRootFrozen", rootId=rid):
        if action == "reject":
            world.tx(world.core, world.receivables.functions.reject(rid, "no"))
        else:
            world.tx(world.supplier, world.receivables.functions.cancel(rid))


# -- refuse ---------------------------------------------------------------------------------


def test_a_supplier_refuses_a_payable_issued_in_its_name_and_frees_its_invoice_number(
    world: World,
) -> None:
    # an unrelated core enterprise issues a payable numbered as the supplier's next invoice
    key = keccak(text="supplier entity ‖ INV-S1-0002")
    squat = world.issue(debtor="core2", face=100, key=key)
    with reverts("ReceivablesInvoiceKeyUsed", invoiceKey=key, rootId=squat):
        world.register(key=key)  # the genuine invoice is refused while the squat stands
    receipt = world.tx(world.supplier, world.receivables.functions.refuse(squat, "not ours"))
    s, core2 = world.supplier.address, world.core2.address
    assert logs(world, receipt) == [
        (
            "TransferSingle",
            {"operator": s, "from": s, "to": ZERO_ADDRESS, "id": squat, "value": 100},
        ),
        (
            "ReceivableRefused",
            {
                "rootId": squat,
                "supplier": s,
                "debtor": core2,
                "reason": "not ours",
                "creditUsed": 0,
            },
        ),
    ]
    assert root(world, squat).status == RootStatus.REFUSED
    assert piece(world, squat).status == PieceStatus.VOID
    assert world.holding(world.supplier, squat) == 0
    assert credit_used(world, world.core2) == 0
    assert root_by_key(world, key) == 0
    genuine = world.register(key=key)
    world.tx(world.core, world.receivables.functions.confirm(genuine))
    assert root_by_key(world, key) == genuine


def test_refuse_refusals(world: World) -> None:
    refuse = world.receivables.functions.refuse
    rid = world.issue(face=10_000)
    with reverts("ReceivablesNotSupplier", rootId=rid, caller=world.supplier2.address):
        world.tx(world.supplier2, refuse(rid, "x"))
    registered = world.register()
    with reverts("ReceivablesInvalidStatus", rootId=registered, status=RootStatus.REGISTERED):
        world.tx(world.supplier, refuse(registered, "x"))
    with reverts("ReceivablesUnknownRoot", rootId=999):
        world.tx(world.supplier, refuse(999, "x"))
    world.tx(world.core, world.receivables.functions.repay(rid, 1))
    with reverts("ReceivablesAlreadyRepaid", rootId=rid, repaid=1):
        world.tx(world.supplier, refuse(rid, "x"))

    split = world.issue(face=10_000)
    world.split(split, [("supplier", 5_000), ("supplier", 5_000)], holder="supplier")
    with reverts("ReceivablesPieceNotActive", pieceId=split):
        world.tx(world.supplier, refuse(split, "x"))

    sold = world.issue(face=10_000)
    world.tx(world.supplier, world.receivables.functions.acceptOffer(world.post_offer(sold, 9_000)))
    with reverts("ReceivablesNotHolder", pieceId=sold, account=world.supplier.address):
        world.tx(world.supplier, refuse(sold, "x"))

    frozen = world.issue(face=10_000)
    world.tx(world.regulator, world.receivables.functions.freezePiece(frozen, "dispute"))
    with reverts("ReceivablesPieceFrozen", pieceId=frozen):
        world.tx(world.supplier, refuse(frozen, "x"))

    due = world.issue(face=10_000, due_in=DAY)
    world.travel_to(root(world, due).due_date)
    with reverts("ReceivablesPieceLocked", pieceId=due, dueDate=root(world, due).due_date):
        world.tx(world.supplier, refuse(due, "x"))

    world.tx(world.operator, world.registry.functions.suspend(world.supplier.address))
    with reverts("MemberRegistryMemberSuspended", account=world.supplier.address):
        world.tx(world.supplier, refuse(frozen, "x"))


# -- reclaimInvoiceKey ------------------------------------------------------------------------


def seller_key(name: str, number: str) -> bytes:
    """The invoice key as the backend derives it: keccak(seller entity id ‖ invoice number)."""
    return keccak(entity_id(name) + number.encode())


def test_a_supplier_reclaims_its_invoice_key_from_another_suppliers_registration(
    world: World,
) -> None:
    key = seller_key("supplier", "INV-S1-0002")
    forged = world.register(supplier="supplier2", key=key)
    with reverts("ReceivablesInvoiceKeyUsed", invoiceKey=key, rootId=forged):
        world.register(key=key)
    fns = world.receivables.functions
    receipt = world.tx(world.supplier, fns.reclaimInvoiceKey(forged, "INV-S1-0002"))
    assert logs(world, receipt) == [
        (
            "InvoiceKeyReclaimed",
            {"rootId": forged, "invoiceKey": key, "seller": world.supplier.address, "voided": True},
        )
    ]
    assert root(world, forged).status == RootStatus.CANCELLED  # can no longer be confirmed
    genuine = world.register(key=key)
    assert root_by_key(world, key) == genuine


def test_reclaiming_a_key_from_a_confirmed_root_frees_the_key_only(world: World) -> None:
    key = seller_key("supplier", "INV-S1-0003")
    forged = world.issue(supplier="supplier2", debtor="core2", key=key)
    receipt = world.tx(
        world.supplier, world.receivables.functions.reclaimInvoiceKey(forged, "INV-S1-0003")
    )
    assert logs(world, receipt)[0][1]["voided"] is False
    assert (root(world, forged).status, root(world, forged).invoice_key) == (
        RootStatus.CONFIRMED,
        bytes(32),
    )
    assert root_by_key(world, key) == 0
    world.register(key=key)


def test_reclaim_invoice_key_refusals(world: World) -> None:
    fns = world.receivables.functions
    key = seller_key("supplier", "INV-S1-0004")
    forged = world.register(supplier="supplier2", key=key)
    with reverts("ReceivablesNotInvoiceSeller", rootId=forged, caller=world.supplier.address):
        world.tx(world.supplier, fns.reclaimInvoiceKey(forged, "INV-S1-0005"))
    with reverts("ReceivablesNotInvoiceSeller", rootId=forged, caller=world.supplier3.address):
        world.tx(world.supplier3, fns.reclaimInvoiceKey(forged, "INV-S1-0004"))
    with reverts("ReceivablesSelfDealing", account=world.supplier2.address):
        world.tx(world.supplier2, fns.reclaimInvoiceKey(forged, "INV-S1-0004"))
    with reverts("ReceivablesUnknownRoot", rootId=999):
        world.tx(world.supplier, fns.reclaimInvoiceKey(999, "INV-S1-0004"))
    with reverts("MemberRegistryMissingRole", account=world.core.address, anyOfRoles=SUPPLIER):
        world.tx(world.core, fns.reclaimInvoiceKey(forged, "INV-S1-0004"))
    world.tx(world.regulator, fns.freezeRoot(forged, "fraud"))
    with reverts("ReceivablesRootFrozen", rootId=forged):
        world.tx(world.supplier, fns.reclaimInvoiceKey(forged, "INV-S1-0004"))
    world.tx(world.regulator, fns.unfreezeRoot(forged, "cleared"))
    world.tx(world.supplier, fns.reclaimInvoiceKey(forged, "INV-S1-0004"))
    with reverts("ReceivablesNotInvoiceSeller", rootId=forged, caller=world.supplier.address):
        world.tx(world.supplier, fns.reclaimInvoiceKey(forged, "INV-S1-0004"))  # no longer held
