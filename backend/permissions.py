"""What a member's staff users may do: the permissions, which one each write needs, the amount a
write commits, and the default approval policies. The rules live here and nowhere else; the
services and the pipeline ask."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

YUAN = 100  # fen


class Permission(StrEnum):
    VIEW = "view"
    PREPARE_INVOICES = "invoices.prepare"  # register, cancel or refuse invoices; upload files
    CONFIRM_PAYABLES = "payables.confirm"  # confirm, reject or issue payables (promises to pay)
    REPAY = "payables.repay"
    POST_OFFERS = "offers.post"  # post and withdraw offers to buy pieces
    ACCEPT_OFFERS = "offers.accept"  # ask for financing, accept an offer (sell a piece)
    TRANSFER = "pieces.transfer"  # split, pass on and claim pieces
    FREEZE = "freeze"  # the regulator's freezes
    OPERATE = "operate"  # the operator's writes (members, cash, pause, close)
    ADMINISTER = "users.admin"  # staff users, approval policies, the member's profile, webhooks


#: the permission each chain write needs
ACTION_PERMISSIONS: dict[str, Permission] = {
    "root.register": Permission.PREPARE_INVOICES,
    "root.cancel": Permission.PREPARE_INVOICES,
    "root.refuse": Permission.PREPARE_INVOICES,
    "root.reclaim_key": Permission.PREPARE_INVOICES,
    "root.issue": Permission.CONFIRM_PAYABLES,
    "root.confirm": Permission.CONFIRM_PAYABLES,
    "root.reject": Permission.CONFIRM_PAYABLES,
    "root.repay": Permission.REPAY,
    "offer.post": Permission.POST_OFFERS,
    "offer.cancel": Permission.POST_OFFERS,
    "offer.accept": Permission.ACCEPT_OFFERS,
    "piece.split": Permission.TRANSFER,
    "piece.transfer": Permission.TRANSFER,
    "piece.claim": Permission.TRANSFER,
    "root.freeze": Permission.FREEZE,
    "root.unfreeze": Permission.FREEZE,
    "piece.freeze": Permission.FREEZE,
    "piece.unfreeze": Permission.FREEZE,
}
#: anything else (members, cash, pause, close, distribution, anchors) is the operator's
OPERATOR_PERMISSION = Permission.OPERATE


def permission_for(action: str) -> Permission:
    return ACTION_PERMISSIONS.get(action, OPERATOR_PERMISSION)


#: permissions whose writes move money, and so are bounded by a user's amount limit
MONEY = frozenset(
    {
        Permission.CONFIRM_PAYABLES,
        Permission.REPAY,
        Permission.POST_OFFERS,
        Permission.ACCEPT_OFFERS,
        Permission.TRANSFER,
    }
)


def amount_in(action: str, params: dict[str, Any]) -> int | None:
    """The amount a write commits, where its parameters name it (a confirmation or an
    acceptance commits the face value or price its service looks up and passes itself)."""
    if action in ("root.register", "root.issue"):
        return int(params["face_value"])
    if action in ("root.repay", "piece.transfer"):
        return int(params["amount"])
    if action == "offer.post":
        return int(params["price"])
    if action == "piece.split":
        return sum(int(a) for a in params["amounts"])
    return None


@dataclass(frozen=True)
class Policy:
    """How many approvers besides the maker an action needs, above which amount (fen; 0: any),
    and the permission each approver must hold."""

    action: str
    approvers: int
    above_amount: int
    approver_permission: Permission

    def applies(self, amount: int | None) -> bool:
        return self.approvers > 0 and (amount or 0) > self.above_amount


#: the actions a member may put under a policy
APPROVABLE = (
    "root.register",
    "root.issue",
    "root.confirm",
    "root.reject",
    "root.repay",
    "offer.post",
    "offer.accept",
    "piece.split",
    "piece.transfer",
)
MAX_APPROVERS = 2

#: A member with staff users starts with these: its promises to pay and its repayments take a
#: second person; a sale or purchase of a piece does above a million yuan.
LARGE_TRADE = 1_000_000 * YUAN
DEFAULT_POLICIES: dict[str, Policy] = {
    p.action: p
    for p in (
        Policy("root.confirm", 1, 0, Permission.CONFIRM_PAYABLES),
        Policy("root.issue", 1, 0, Permission.CONFIRM_PAYABLES),
        Policy("root.repay", 1, 0, Permission.REPAY),
        Policy("offer.post", 1, LARGE_TRADE, Permission.POST_OFFERS),
        Policy("offer.accept", 1, LARGE_TRADE, Permission.ACCEPT_OFFERS),
    )
}


def default_policy(action: str) -> Policy:
    return DEFAULT_POLICIES.get(action) or Policy(action, 0, 0, permission_for(action))
