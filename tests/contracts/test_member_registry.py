"""MemberRegistry: admission, roles, suspension, credit limits, pause, and the checks it serves."""

from __future__ import annotations

import pytest
from eth_account import Account

from chain.consortium import entity_id
from chain.deploy import deploy_contract
from chain.enums import MemberStatus
from tests.contracts.helpers import (
    ALL_ROLES,
    AUDITOR,
    CORE,
    FINANCIER,
    HOLDER,
    OPERATOR,
    REGULATOR,
    SUPPLIER,
    ZERO_ADDRESS,
    call,
    logs,
    reverts,
)
from tests.factories import CREDIT_LIMIT, World


def member_of(world: World, address: str) -> tuple[int, int, bytes, int]:
    roles, status, entity, limit = world.registry.functions.memberOf(address).call()
    return roles, status, bytes(entity), limit


def test_constructor_admits_the_first_operator(world: World) -> None:
    assert member_of(world, world.operator.address) == (
        OPERATOR,
        MemberStatus.ACTIVE,
        entity_id("operator"),
        0,
    )


def test_constructor_refuses_a_zero_operator(world: World) -> None:
    with reverts("MemberRegistryZeroAddress"):
        deploy_contract(
            world.conn,
            world.sender,
            "MemberRegistry",
            ZERO_ADDRESS,
            entity_id("x"),
            account=world.operator,
        )


# -- addMember ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("roles", "limit"),
    [
        (SUPPLIER, 0),
        (CORE | SUPPLIER, 5_000),
        (ALL_ROLES, 7),
    ],
    ids=["supplier", "core-and-supplier-with-limit", "all-roles"],
)
def test_add_member_admits_an_active_member(world: World, roles: int, limit: int) -> None:
    newcomer = Account.create().address
    receipt = world.tx(
        world.operator,
        world.registry.functions.addMember(newcomer, roles, entity_id("new"), limit),
    )
    assert logs(world, receipt) == [
        (
            "MemberAdded",
            {
                "account": newcomer,
                "roles": roles,
                "entityId": entity_id("new"),
                "creditLimit": limit,
            },
        )
    ]
    assert member_of(world, newcomer) == (roles, MemberStatus.ACTIVE, entity_id("new"), limit)
    assert call(world, world.registry.functions.requireActive(newcomer, roles)) == limit


@pytest.mark.parametrize("caller", ["core", "regulator", "suspended", "outsider"])
def test_add_member_refuses_anyone_but_an_active_operator(world: World, caller: str) -> None:
    account = world.members[caller]
    with reverts("MemberRegistryNotOperator", caller=account.address):
        world.tx(
            account,
            world.registry.functions.addMember(
                Account.create().address, SUPPLIER, entity_id("x"), 0
            ),
        )


def test_add_member_refuses_a_suspended_operator(world: World) -> None:
    registry = world.registry.functions
    world.tx(
        world.operator,
        registry.setRoles(world.regulator.address, REGULATOR | OPERATOR),
    )
    world.tx(world.operator, registry.suspend(world.regulator.address))
    with reverts("MemberRegistryNotOperator", caller=world.regulator.address):
        world.tx(
            world.regulator,
            registry.addMember(Account.create().address, SUPPLIER, entity_id("x"), 0),
        )


def test_add_member_refuses_the_zero_address(world: World) -> None:
    with reverts("MemberRegistryZeroAddress"):
        world.tx(
            world.operator,
            world.registry.functions.addMember(ZERO_ADDRESS, SUPPLIER, entity_id("x"), 0),
        )


@pytest.mark.parametrize("existing", ["core", "suspended"])
def test_add_member_refuses_an_existing_member(world: World, existing: str) -> None:
    address = world.members[existing].address
    with reverts("MemberRegistryAlreadyMember", account=address):
        world.tx(
            world.operator,
            world.registry.functions.addMember(address, SUPPLIER, entity_id("x"), 0),
        )


@pytest.mark.parametrize("roles", [0, 1 << 6, 0xFF])
def test_add_member_refuses_empty_or_unknown_roles(world: World, roles: int) -> None:
    with reverts("MemberRegistryInvalidRoles", roles=roles):
        world.tx(
            world.operator,
            world.registry.functions.addMember(Account.create().address, roles, entity_id("x"), 0),
        )


def test_add_member_refuses_a_credit_limit_without_core_role(world: World) -> None:
    newcomer = Account.create().address
    with reverts("MemberRegistryCreditLimitNeedsCoreEnterprise", account=newcomer):
        world.tx(
            world.operator,
            world.registry.functions.addMember(newcomer, SUPPLIER | FINANCIER, entity_id("x"), 1),
        )


def test_add_member_refuses_a_zero_entity_id(world: World) -> None:
    with reverts("MemberRegistryZeroEntityId"):
        world.tx(
            world.operator,
            world.registry.functions.addMember(Account.create().address, SUPPLIER, bytes(32), 0),
        )


def test_add_member_refuses_an_entity_id_already_held(world: World) -> None:
    """One legal entity, one member: a second address for the same entity is refused."""
    taken = entity_id("supplier")
    assert world.registry.functions.accountOf(taken).call() == world.supplier.address
    with reverts("MemberRegistryEntityIdUsed", entityId=taken, account=world.supplier.address):
        world.tx(
            world.operator,
            world.registry.functions.addMember(Account.create().address, SUPPLIER, taken, 0),
        )


# -- setRoles -------------------------------------------------------------------------------


def test_set_roles_replaces_the_roles_checked_by_the_ledger(world: World) -> None:
    supplier = world.supplier.address
    receipt = world.tx(
        world.operator,
        world.registry.functions.setRoles(supplier, SUPPLIER | FINANCIER),
    )
    assert logs(world, receipt) == [
        ("MemberRolesChanged", {"account": supplier, "roles": SUPPLIER | FINANCIER})
    ]
    assert member_of(world, supplier)[0] == SUPPLIER | FINANCIER
    assert call(world, world.registry.functions.requireActive(supplier, FINANCIER)) == 0
    world.tx(world.operator, world.registry.functions.setRoles(supplier, FINANCIER))
    with reverts("MemberRegistryMissingRole", account=supplier, anyOfRoles=SUPPLIER):
        call(world, world.registry.functions.requireActive(supplier, SUPPLIER))


def test_set_roles_refusals(world: World) -> None:
    registry = world.registry.functions
    with reverts("MemberRegistryNotOperator", caller=world.core.address):
        world.tx(world.core, registry.setRoles(world.core.address, SUPPLIER))
    with reverts("MemberRegistryNotMember", account=world.outsider.address):
        world.tx(world.operator, registry.setRoles(world.outsider.address, SUPPLIER))
    with reverts("MemberRegistryInvalidRoles", roles=0):
        world.tx(world.operator, registry.setRoles(world.supplier.address, 0))
    with reverts("MemberRegistryInvalidRoles", roles=1 << 7):
        world.tx(world.operator, registry.setRoles(world.supplier.address, 1 << 7))


def test_set_roles_keeps_core_role_while_a_credit_limit_is_set(world: World) -> None:
    registry = world.registry.functions
    core = world.core.address
    with reverts("MemberRegistryCreditLimitNeedsCoreEnterprise", account=core):
        world.tx(world.operator, registry.setRoles(core, SUPPLIER))
    world.tx(world.operator, registry.setCreditLimit(core, 0))
    world.tx(world.operator, registry.setRoles(core, SUPPLIER))
    assert member_of(world, core)[0] == SUPPLIER


def test_set_roles_refuses_the_last_active_operator_dropping_its_role(world: World) -> None:
    with reverts("MemberRegistryLastOperator", account=world.operator.address):
        world.tx(
            world.operator,
            world.registry.functions.setRoles(world.operator.address, AUDITOR),
        )


def test_set_roles_lets_an_operator_step_down_once_another_is_active(world: World) -> None:
    registry = world.registry.functions
    regulator = world.regulator.address
    world.tx(world.operator, registry.setRoles(regulator, REGULATOR | OPERATOR))
    world.tx(world.operator, registry.setRoles(world.operator.address, AUDITOR))
    with reverts("MemberRegistryNotOperator", caller=world.operator.address):
        world.tx(world.operator, registry.pause())
    with reverts("MemberRegistryLastOperator", account=regulator):
        world.tx(world.regulator, registry.setRoles(regulator, REGULATOR))


def test_operator_role_of_a_suspended_member_does_not_count_as_active(world: World) -> None:
    registry = world.registry.functions
    suspended = world.suspended.address
    world.tx(world.operator, registry.setRoles(suspended, SUPPLIER | OPERATOR))
    with reverts("MemberRegistryLastOperator", account=world.operator.address):
        world.tx(world.operator, registry.setRoles(world.operator.address, AUDITOR))
    world.tx(world.operator, registry.reactivate(suspended))
    world.tx(world.operator, registry.suspend(world.operator.address))
    with reverts("MemberRegistryLastOperator", account=suspended):
        world.tx(world.suspended, registry.suspend(suspended))


# -- suspend / reactivate -------------------------------------------------------------------


def test_suspend_makes_every_check_refuse_the_member(world: World) -> None:
    supplier = world.supplier.address
    receipt = world.tx(world.operator, world.registry.functions.suspend(supplier))
    assert logs(world, receipt) == [
        ("MemberStatusChanged", {"account": supplier, "status": MemberStatus.SUSPENDED})
    ]
    assert member_of(world, supplier)[1] == MemberStatus.SUSPENDED
    with reverts("MemberRegistryMemberSuspended", account=supplier):
        call(world, world.registry.functions.requireActive(supplier, SUPPLIER))


def test_suspend_refusals(world: World) -> None:
    registry = world.registry.functions
    with reverts("MemberRegistryNotOperator", caller=world.core.address):
        world.tx(world.core, registry.suspend(world.supplier.address))
    with reverts("MemberRegistryNotMember", account=world.outsider.address):
        world.tx(world.operator, registry.suspend(world.outsider.address))
    with reverts(
        "MemberRegistryStatusUnchanged",
        account=world.suspended.address,
        status=MemberStatus.SUSPENDED,
    ):
        world.tx(world.operator, registry.suspend(world.suspended.address))
    with reverts("MemberRegistryLastOperator", account=world.operator.address):
        world.tx(world.operator, registry.suspend(world.operator.address))


def test_reactivate_restores_a_suspended_member(world: World) -> None:
    suspended = world.suspended.address
    receipt = world.tx(world.operator, world.registry.functions.reactivate(suspended))
    assert logs(world, receipt) == [
        ("MemberStatusChanged", {"account": suspended, "status": MemberStatus.ACTIVE})
    ]
    assert call(world, world.registry.functions.requireActive(suspended, SUPPLIER)) == 0


def test_reactivate_refusals(world: World) -> None:
    registry = world.registry.functions
    with reverts("MemberRegistryNotOperator", caller=world.core.address):
        world.tx(world.core, registry.reactivate(world.suspended.address))
    with reverts("MemberRegistryNotMember", account=world.outsider.address):
        world.tx(world.operator, registry.reactivate(world.outsider.address))
    with reverts(
        "MemberRegistryStatusUnchanged", account=world.core.address, status=MemberStatus.ACTIVE
    ):
        world.tx(world.operator, registry.reactivate(world.core.address))


# -- setCreditLimit -------------------------------------------------------------------------


def test_set_credit_limit_changes_what_the_checks_report(world: World) -> None:
    core = world.core.address
    receipt = world.tx(world.operator, world.registry.functions.setCreditLimit(core, 5_000))
    assert logs(world, receipt) == [("CreditLimitChanged", {"account": core, "creditLimit": 5_000})]
    assert member_of(world, core)[3] == 5_000
    assert call(world, world.registry.functions.requireActive(core, CORE)) == 5_000


def test_set_credit_limit_refusals(world: World) -> None:
    registry = world.registry.functions
    with reverts("MemberRegistryNotOperator", caller=world.core.address):
        world.tx(world.core, registry.setCreditLimit(world.core.address, 1))
    with reverts("MemberRegistryNotMember", account=world.outsider.address):
        world.tx(world.operator, registry.setCreditLimit(world.outsider.address, 1))
    with reverts("MemberRegistryCreditLimitNeedsCoreEnterprise", account=world.supplier.address):
        world.tx(world.operator, registry.setCreditLimit(world.supplier.address, 1))


# -- pause / unpause ------------------------------------------------------------------------


def test_pause_and_unpause_switch_the_ledger(world: World) -> None:
    registry = world.registry.functions
    receipt = world.tx(world.operator, registry.pause())
    assert logs(world, receipt) == [("Paused", {"operator": world.operator.address})]
    assert registry.paused().call() is True
    with reverts("MemberRegistryAlreadyPaused"):
        world.tx(world.operator, registry.pause())
    receipt = world.tx(world.operator, registry.unpause())
    assert logs(world, receipt) == [("Unpaused", {"operator": world.operator.address})]
    assert registry.paused().call() is False
    with reverts("MemberRegistryNotPaused"):
        world.tx(world.operator, registry.unpause())


def test_pause_and_unpause_refuse_non_operators(world: World) -> None:
    registry = world.registry.functions
    with reverts("MemberRegistryNotOperator", caller=world.regulator.address):
        world.tx(world.regulator, registry.pause())
    world.tx(world.operator, registry.pause())
    with reverts("MemberRegistryNotOperator", caller=world.regulator.address):
        world.tx(world.regulator, registry.unpause())


# -- the checks served to the other contracts ------------------------------------------------


def test_require_active_returns_the_credit_limit(world: World) -> None:
    registry = world.registry.functions
    assert call(world, registry.requireActive(world.core.address, CORE)) == (CREDIT_LIMIT)
    assert call(world, registry.requireActive(world.bank.address, HOLDER)) == 0


@pytest.mark.parametrize(
    ("who", "roles", "error", "extra"),
    [
        ("outsider", SUPPLIER, "MemberRegistryNotMember", {}),
        ("suspended", SUPPLIER, "MemberRegistryMemberSuspended", {}),
        ("core", HOLDER, "MemberRegistryMissingRole", {"anyOfRoles": HOLDER}),
    ],
)
def test_require_active_refuses(
    world: World, who: str, roles: int, error: str, extra: dict[str, int]
) -> None:
    address = world.members[who].address
    with reverts(error, account=address, **extra):
        call(world, world.registry.functions.requireActive(address, roles))


def test_require_active_pair_checks_both_parties_in_order(world: World) -> None:
    registry = world.registry.functions
    supplier, core, bank = world.supplier.address, world.core.address, world.bank.address
    pair = registry.requireActivePairUnpaused(supplier, SUPPLIER, core, CORE)
    assert call(world, pair) == [0, CREDIT_LIMIT]
    with reverts("MemberRegistryMissingRole", account=bank, anyOfRoles=CORE):
        call(
            world,
            registry.requireActivePairUnpaused(supplier, SUPPLIER, bank, CORE),
        )
    with reverts("MemberRegistryNotMember", account=world.outsider.address):
        call(
            world,
            registry.requireActivePairUnpaused(
                world.outsider.address, ALL_ROLES, world.suspended.address, ALL_ROLES
            ),
        )


def test_require_active_group_checks_every_member(world: World) -> None:
    registry = world.registry.functions
    supplier = world.supplier.address
    others = [world.supplier2.address, world.bank.address]
    call(world, registry.requireActiveGroupUnpaused(supplier, others, HOLDER))
    with reverts("MemberRegistryMemberSuspended", account=world.suspended.address):
        call(
            world,
            registry.requireActiveGroupUnpaused(
                supplier, [*others, world.suspended.address], HOLDER
            ),
        )
    with reverts("MemberRegistryMissingRole", account=world.core.address, anyOfRoles=HOLDER):
        call(world, registry.requireActiveGroupUnpaused(world.core.address, others, HOLDER))


def test_unpaused_checks_refuse_while_paused_but_plain_checks_pass(world: World) -> None:
    registry = world.registry.functions
    core = world.core.address
    world.tx(world.operator, registry.pause())
    assert call(world, registry.requireActive(core, CORE)) == CREDIT_LIMIT
    for check in (
        registry.requireActiveUnpaused(core, CORE),
        registry.requireActivePairUnpaused(core, ALL_ROLES, core, ALL_ROLES),
        registry.requireActiveGroupUnpaused(core, [], ALL_ROLES),
    ):
        with reverts("MemberRegistryPaused"):
            call(world, check)


def test_member_of_reports_nothing_for_a_non_member(world: World) -> None:
    assert member_of(world, world.outsider.address) == (0, MemberStatus.NONE, bytes(32), 0)
