"""SettlementToken: permissioned cash that only members hold and move, with ledger escrow."""

from __future__ import annotations

import pytest
from web3.contract import Contract

from chain.deploy import deploy_contract
from tests.contracts.helpers import (
    OPERATOR,
    ZERO_ADDRESS,
    cash,
    escrow,
    logs,
    reverts,
)
from tests.factories import DAY, STARTING_CASH, World


@pytest.fixture
def fresh_token(world: World) -> Contract:
    """A second token on the same registry, with no ledger wired yet."""
    deployed = deploy_contract(
        world.conn, world.sender, "SettlementToken", world.registry.address, account=world.operator
    )
    return world.conn.w3.eth.contract(address=deployed.address, abi=world.token.abi)


def test_token_describes_itself(world: World) -> None:
    token = world.token.functions
    assert token.decimals().call() == 2
    assert (token.name().call(), token.symbol().call()) == ("SCF Settlement Token", "SCFC")
    assert token.ledger().call() == world.receivables.address
    assert token.registry().call() == world.registry.address


def test_constructor_refuses_a_zero_registry(world: World) -> None:
    with reverts("SettlementTokenZeroAddress"):
        deploy_contract(
            world.conn, world.sender, "SettlementToken", ZERO_ADDRESS, account=world.operator
        )


# -- setLedger / escrowFrom -----------------------------------------------------------------


def test_set_ledger_wires_the_ledger_once(world: World, fresh_token: Contract) -> None:
    ledger = world.receivables.address
    assert fresh_token.functions.ledger().call() == ZERO_ADDRESS
    with reverts("SettlementTokenZeroAddress"):
        world.tx(world.operator, fresh_token.functions.setLedger(ZERO_ADDRESS))
    receipt = world.tx(world.operator, fresh_token.functions.setLedger(ledger))
    assert logs(world, receipt, fresh_token) == [("LedgerSet", {"ledger": ledger})]
    assert fresh_token.functions.ledger().call() == ledger
    with reverts("SettlementTokenLedgerAlreadySet", ledger=ledger):
        world.tx(world.operator, fresh_token.functions.setLedger(world.bank.address))


def test_set_ledger_refuses_non_operators(world: World) -> None:
    token = world.token.functions
    with reverts("MemberRegistryMissingRole", account=world.core.address, anyOfRoles=OPERATOR):
        world.tx(world.core, token.setLedger(world.core.address))
    with reverts("MemberRegistryNotMember", account=world.outsider.address):
        world.tx(world.outsider, token.setLedger(world.outsider.address))


def test_set_ledger_refuses_a_second_wiring(world: World) -> None:
    with reverts("SettlementTokenLedgerAlreadySet", ledger=world.receivables.address):
        world.tx(world.operator, world.token.functions.setLedger(world.bank.address))


def test_escrow_from_refuses_any_caller_but_the_ledger(world: World, fresh_token: Contract) -> None:
    with reverts("SettlementTokenNotLedger", caller=world.bank.address):
        world.tx(world.bank, world.token.functions.escrowFrom(world.bank.address, 1))
    # With no ledger wired, nobody is the ledger.
    with reverts("SettlementTokenNotLedger", caller=world.operator.address):
        world.tx(world.operator, fresh_token.functions.escrowFrom(world.bank.address, 1))


# -- mint / burn ----------------------------------------------------------------------------


def test_mint_issues_cash_to_an_active_member(world: World) -> None:
    supply = world.token.functions.totalSupply().call()
    receipt = world.tx(world.operator, world.token.functions.mint(world.supplier3.address, 500))
    assert logs(world, receipt) == [
        ("Transfer", {"from": ZERO_ADDRESS, "to": world.supplier3.address, "value": 500})
    ]
    assert cash(world, world.supplier3.address) == 500
    assert world.token.functions.totalSupply().call() == supply + 500


def test_mint_refusals(world: World) -> None:
    token = world.token.functions
    with reverts("MemberRegistryMissingRole", account=world.bank.address, anyOfRoles=OPERATOR):
        world.tx(world.bank, token.mint(world.bank.address, 1))
    with reverts("MemberRegistryMemberSuspended", account=world.suspended.address):
        world.tx(world.operator, token.mint(world.suspended.address, 1))
    with reverts("MemberRegistryNotMember", account=world.outsider.address):
        world.tx(world.operator, token.mint(world.outsider.address, 1))
    with reverts("MemberRegistryNotMember", account=world.receivables.address):
        world.tx(world.operator, token.mint(world.receivables.address, 1))
    with reverts("ERC20InvalidReceiver", receiver=ZERO_ADDRESS):
        world.tx(world.operator, token.mint(ZERO_ADDRESS, 1))


def test_burn_redeems_a_members_cash(world: World) -> None:
    receipt = world.tx(world.operator, world.token.functions.burn(world.bank.address, 700))
    assert logs(world, receipt) == [
        ("Transfer", {"from": world.bank.address, "to": ZERO_ADDRESS, "value": 700})
    ]
    assert cash(world, world.bank.address) == STARTING_CASH - 700


def test_burn_refusals(world: World) -> None:
    token = world.token.functions
    with reverts("MemberRegistryMissingRole", account=world.core.address, anyOfRoles=OPERATOR):
        world.tx(world.core, token.burn(world.core.address, 1))
    with reverts("ERC20InsufficientBalance", sender=world.supplier3.address, balance=0, needed=1):
        world.tx(world.operator, token.burn(world.supplier3.address, 1))
    with reverts("ERC20InvalidSender", sender=ZERO_ADDRESS):
        world.tx(world.operator, token.burn(ZERO_ADDRESS, 1))


def test_burn_refuses_the_escrow_held_by_the_ledger(world: World) -> None:
    root = world.issue(face=1_000)
    world.post_offer(root, 900)
    with reverts("SettlementTokenEscrowNotBurnable", ledger=world.receivables.address):
        world.tx(world.operator, world.token.functions.burn(world.receivables.address, 900))


# -- transfers ------------------------------------------------------------------------------


def test_transfer_moves_cash_between_active_members(world: World) -> None:
    receipt = world.tx(world.supplier, world.token.functions.transfer(world.supplier3.address, 250))
    assert logs(world, receipt) == [
        (
            "Transfer",
            {"from": world.supplier.address, "to": world.supplier3.address, "value": 250},
        )
    ]
    assert cash(world, world.supplier.address) == STARTING_CASH - 250
    assert cash(world, world.supplier3.address) == 250


def test_transfer_refusals(world: World) -> None:
    token = world.token.functions
    supplier = world.supplier
    with reverts("MemberRegistryMemberSuspended", account=world.suspended.address):
        world.tx(supplier, token.transfer(world.suspended.address, 1))
    with reverts("MemberRegistryNotMember", account=world.outsider.address):
        world.tx(supplier, token.transfer(world.outsider.address, 1))
    with reverts("ERC20InvalidReceiver", receiver=ZERO_ADDRESS):
        world.tx(supplier, token.transfer(ZERO_ADDRESS, 1))
    with reverts("SettlementTokenDirectEscrowTransfer", **{"from": supplier.address}):
        world.tx(supplier, token.transfer(world.receivables.address, 1))
    with reverts(
        "ERC20InsufficientBalance",
        sender=supplier.address,
        balance=STARTING_CASH,
        needed=STARTING_CASH + 1,
    ):
        world.tx(supplier, token.transfer(world.supplier2.address, STARTING_CASH + 1))


def test_transfer_refuses_a_suspended_sender(world: World) -> None:
    world.tx(world.operator, world.registry.functions.suspend(world.supplier.address))
    with reverts("MemberRegistryMemberSuspended", account=world.supplier.address):
        world.tx(world.supplier, world.token.functions.transfer(world.supplier2.address, 1))


def test_transfer_from_spends_an_allowance(world: World) -> None:
    token = world.token.functions
    bank, spender, to = world.bank.address, world.supplier2.address, world.supplier3.address
    receipt = world.tx(world.bank, token.approve(spender, 200))
    assert logs(world, receipt) == [("Approval", {"owner": bank, "spender": spender, "value": 200})]
    receipt = world.tx(world.supplier2, token.transferFrom(bank, to, 150))
    assert logs(world, receipt) == [("Transfer", {"from": bank, "to": to, "value": 150})]
    assert token.allowance(bank, spender).call() == 50
    assert (cash(world, bank), cash(world, to)) == (STARTING_CASH - 150, 150)
    with reverts("ERC20InsufficientAllowance", spender=spender, allowance=50, needed=51):
        world.tx(world.supplier2, token.transferFrom(bank, to, 51))


def test_transfer_from_cannot_push_cash_into_escrow(world: World) -> None:
    token = world.token.functions
    world.tx(world.bank, token.approve(world.supplier2.address, 200))
    with reverts("SettlementTokenDirectEscrowTransfer", **{"from": world.bank.address}):
        world.tx(
            world.supplier2,
            token.transferFrom(world.bank.address, world.receivables.address, 100),
        )


def test_approve_refuses_the_zero_spender(world: World) -> None:
    with reverts("ERC20InvalidSpender", spender=ZERO_ADDRESS):
        world.tx(world.bank, world.token.functions.approve(ZERO_ADDRESS, 1))


def test_transfer_from_refuses_a_spender_who_is_not_a_member(world: World) -> None:
    token = world.token.functions
    world.tx(world.bank, token.approve(world.outsider.address, 100))
    with reverts("MemberRegistryNotMember", account=world.outsider.address):
        world.tx(
            world.outsider, token.transferFrom(world.bank.address, world.supplier.address, 100)
        )


def test_cash_refuses_every_movement_while_paused(world: World) -> None:
    token = world.token.functions
    world.tx(world.bank, token.approve(world.supplier2.address, 100))
    world.tx(world.operator, world.registry.functions.pause())
    for account, fn in (
        (world.operator, token.mint(world.bank.address, 1)),
        (world.operator, token.burn(world.bank.address, 1)),
        (world.bank, token.transfer(world.supplier.address, 1)),
        (world.supplier2, token.transferFrom(world.bank.address, world.supplier.address, 1)),
    ):
        with reverts("MemberRegistryPaused"):
            world.tx(account, fn)
    assert cash(world, world.bank.address) == STARTING_CASH


def test_ledger_payouts_reach_suspended_members(world: World) -> None:
    """Money owed is not withheld by a suspension: an expired offer's refund still arrives."""
    root = world.issue(face=1_000)
    offer_id = world.post_offer(root, 900, expires_in=DAY)
    world.tx(world.operator, world.registry.functions.suspend(world.bank.address))
    world.travel_to(world.now() + DAY)
    world.tx(world.supplier, world.receivables.functions.cancelOffer(offer_id))
    assert cash(world, world.bank.address) == STARTING_CASH
    assert escrow(world) == 0
    with reverts("MemberRegistryMissingRole", account=world.core.address, anyOfRoles=OPERATOR):
        world.tx(world.core, world.token.functions.mint(world.core.address, 1))
