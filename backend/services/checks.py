"""Refusals the mirror can predict, named exactly as the contracts name them (409)."""

from __future__ import annotations

from sqlmodel import Session, select

from backend.errors import refusal
from backend.runtime import Runtime
from backend.services.common import chain_now, ledger_status
from backend.services.context import Principal
from backend.services.views import member_row
from chain.enums import MemberStatus, PieceStatus, Role
from indexer.models import CashBalance, LedgerStatus, Member, Piece, Root


def not_paused(mirror: Session, rt: Runtime) -> LedgerStatus | None:
    """The ledger's settings (None before the mirror has them), refused if it is paused."""
    status = ledger_status(mirror, rt)
    if status is not None and status.paused:
        raise refusal("MemberRegistryPaused")
    return status


def active_with_role(mirror: Session, rt: Runtime, address: str, roles: Role) -> Member:
    """The member at `address`, refused as the registry would if it is not active in `roles`."""
    row = member_row(mirror, rt, address)
    if row is None:
        raise refusal("MemberRegistryNotMember", account=address)
    if row.status != MemberStatus.ACTIVE:
        raise refusal("MemberRegistryMemberSuspended", account=address)
    if not row.roles & roles:
        raise refusal(
            "MemberRegistryMissingRole",
            account=address,
            anyOfRoles=int(roles),
        )
    return row


def cash_of(mirror: Session, rt: Runtime, address: str) -> int:
    row = mirror.exec(
        select(CashBalance).where(
            CashBalance.chain_id == rt.chain_id, CashBalance.address == address.lower()
        )
    ).first()
    return int(row.balance) if row else 0


def enough_cash(mirror: Session, rt: Runtime, address: str, amount: int) -> None:
    balance = cash_of(mirror, rt, address)
    if balance < amount:
        raise refusal(
            "ERC20InsufficientBalance",
            sender=address,
            balance=balance,
            needed=amount,
        )


def root_status(root: Root, *expected: int) -> None:
    if root.status not in expected:
        raise refusal(
            "ReceivablesInvalidStatus",
            rootId=root.root_id,
            status=root.status,
        )


def movable(mirror: Session, rt: Runtime, piece: Piece, root: Root) -> None:
    """As the contract's `_requireMovable`: active, not frozen, not locked."""
    if piece.status != PieceStatus.ACTIVE:
        raise refusal("ReceivablesPieceNotActive", pieceId=piece.piece_id)
    if piece.frozen or root.frozen:
        raise refusal("ReceivablesPieceFrozen", pieceId=piece.piece_id)
    if chain_now(rt) >= root.due_date:
        raise refusal(
            "ReceivablesPieceLocked",
            pieceId=piece.piece_id,
            dueDate=root.due_date,
        )


def holder(piece: Piece, address: str) -> None:
    if piece.holder != address.lower():
        raise refusal(
            "ReceivablesNotHolder",
            pieceId=piece.piece_id,
            account=address,
        )


def within_credit(debtor: Principal, amount: int) -> None:
    """Refused as the ledger would if `amount` more would take `debtor` past its credit limit."""
    if debtor.credit_used + amount > debtor.credit_limit:
        raise refusal(
            "ReceivablesCreditLimitExceeded",
            debtor=debtor.address,
            creditLimit=debtor.credit_limit,
            creditUsed=debtor.credit_used,
            amount=amount,
        )
