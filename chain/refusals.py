"""What each refusal of the ledger says to a person: one sentence per contract error, and its
arguments with names instead of numbers (statuses and roles by name, addresses in EIP-55,
timestamps beside their date). The backend words a refusal it predicts from the mirror with
the same sentence as the chain's own, so the two read alike."""

from __future__ import annotations

import string
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any

from eth_utils.address import is_hex_address, to_checksum_address

from chain.artifacts import combined_error_abi
from chain.enums import MemberStatus, OfferStatus, PieceStatus, Role, RootStatus
from chain.errors import ArtifactError

#: error name → sentence; `{arg}` fields are the error's arguments, rendered for a person
MESSAGES: dict[str, str] = {
    # MemberRegistry
    "MemberRegistryAlreadyMember": "{account} is already a member",
    "MemberRegistryAlreadyPaused": "the ledger is already paused",
    "MemberRegistryCreditLimitNeedsCoreEnterprise": (
        "only a core enterprise may have a credit limit"
    ),
    "MemberRegistryEntityIdUsed": "this legal entity is already the member {account}",
    "MemberRegistryInvalidRoles": "{roles} is not a valid set of roles",
    "MemberRegistryLastOperator": "{account} is the last operator and must stay one",
    "MemberRegistryLogAnchorNotAfter": (
        "the action log is already anchored up to entry {lastSeq}, not before entry {seq}"
    ),
    "MemberRegistryMemberSuspended": "the member {account} is suspended",
    "MemberRegistryMissingRole": "{account} needs the role {anyOfRoles}",
    "MemberRegistryNotMember": "{account} is not a member of the ledger",
    "MemberRegistryNotOperator": "{caller} is not an operator",
    "MemberRegistryNotPaused": "the ledger is not paused",
    "MemberRegistryPaused": "the ledger is paused",
    "MemberRegistryStatusUnchanged": "the member {account} is already {status}",
    "MemberRegistryZeroAddress": "the zero address cannot be a member",
    "MemberRegistryZeroEntityId": "a member needs a legal entity id",
    "MemberRegistryZeroLogHead": "an action log anchor needs a head hash",
    # SettlementToken (ERC-20)
    "ERC20InsufficientAllowance": "{spender} may move {allowance} fen, not {needed}",
    "ERC20InsufficientBalance": "{sender} has {balance} fen of settlement cash, {needed} needed",
    "ERC20InvalidApprover": "{approver} cannot approve",
    "ERC20InvalidReceiver": "{receiver} cannot receive settlement cash",
    "ERC20InvalidSender": "{sender} cannot send settlement cash",
    "ERC20InvalidSpender": "{spender} cannot spend settlement cash",
    "SettlementTokenDirectEscrowTransfer": (
        "settlement cash reaches the escrow only through the ledger, not from {from}"
    ),
    "SettlementTokenEscrowNotBurnable": "cash in the ledger's escrow ({ledger}) cannot be burnt",
    "SettlementTokenLedgerAlreadySet": "the token is already wired to the ledger {ledger}",
    "SettlementTokenNotLedger": "{caller} is not the ledger",
    "SettlementTokenZeroAddress": "the zero address is not allowed",
    # Receivables (ERC-1155)
    "ERC1155InsufficientBalance": "{sender} does not hold piece {tokenId}",
    "ERC1155InvalidApprover": "{approver} cannot approve",
    "ERC1155InvalidArrayLength": "{idsLength} pieces but {valuesLength} amounts",
    "ERC1155InvalidOperator": "{operator} cannot be an operator",
    "ERC1155InvalidReceiver": "{receiver} cannot receive a piece",
    "ERC1155InvalidSender": "{sender} cannot send a piece",
    "ERC1155MissingApprovalForAll": "{operator} may not move the pieces of {owner}",
    "ReceivablesAlreadyRepaid": "receivable {rootId} has been repaid {repaid} fen already",
    "ReceivablesDistributionPending": (
        "receivable {rootId} is still being paid out to its holders (next piece {cursor})"
    ),
    "ReceivablesNotInvoiceSeller": (
        "{caller} is not the seller of the invoice of receivable {rootId}"
    ),
    "ReceivablesPiecesFrozen": "receivable {rootId} has {frozenPieces} frozen pieces",
    "ReceivablesTooManyPieces": (
        "receivable {rootId} has {livePieces} pieces, the most the ledger allows ({maxLivePieces})"
    ),
    "ReceivablesAmountTooLarge": "{amount} fen is more than the ledger holds for one amount",
    "ReceivablesAmountTooSmall": "{amount} fen is below the minimum piece of {minimum} fen",
    "ReceivablesCreditLimitExceeded": (
        "the credit limit of {debtor} is exceeded: {creditUsed} of {creditLimit} fen used, "
        "{amount} more asked"
    ),
    "ReceivablesInvalidDueDate": "the due date {dueDate} is not in the future",
    "ReceivablesInvalidExpiry": "the expiry {expiry} is not in the future",
    "ReceivablesInvalidLimits": "these ledger limits are not valid",
    "ReceivablesInvalidPrice": (
        "a price of {price} fen for piece {pieceId} must be positive and at most its amount"
    ),
    "ReceivablesInvalidStatus": "receivable {rootId} is {status}",
    "ReceivablesInvoiceKeyUsed": "this invoice is already on the ledger",
    "ReceivablesMaxDepthReached": "piece {pieceId} is split as deep as allowed ({maxDepth})",
    "ReceivablesNotDebtor": "{caller} is not the debtor of receivable {rootId}",
    "ReceivablesNotDue": "receivable {rootId} is not due until {dueDate}",
    "ReceivablesNotFinancier": "{caller} did not make offer {offerId}",
    "ReceivablesNotHolder": "{account} does not hold piece {pieceId}",
    "ReceivablesNotOverdue": "receivable {rootId} is not overdue",
    "ReceivablesNotSupplier": "{caller} is not the supplier of receivable {rootId}",
    "ReceivablesNothingToClaim": "nothing is owed on piece {pieceId} now",
    "ReceivablesNothingToDistribute": "nothing of receivable {rootId} waits to be paid out",
    "ReceivablesOfferExpired": "offer {offerId} expired on {expiry}",
    "ReceivablesOfferNotOpen": "offer {offerId} is not open: it is {status}",
    "ReceivablesPartialTransfer": (
        "piece {pieceId} moves whole ({amount} fen), not {value}: split it first"
    ),
    "ReceivablesPieceAlreadyFrozen": "piece {pieceId} is already frozen",
    "ReceivablesPieceFrozen": "piece {pieceId} is frozen",
    "ReceivablesPieceLocked": "piece {pieceId} is locked since its due date {dueDate}",
    "ReceivablesPieceNotActive": "piece {pieceId} is not active",
    "ReceivablesPieceNotFrozen": "piece {pieceId} is not frozen",
    "ReceivablesRepaymentExceedsOutstanding": (
        "receivable {rootId} has {outstanding} fen outstanding, not {amount}"
    ),
    "ReceivablesRootAlreadyFrozen": "receivable {rootId} is already frozen",
    "ReceivablesRootFrozen": "receivable {rootId} is frozen",
    "ReceivablesRootNotFrozen": "receivable {rootId} is not frozen",
    "ReceivablesSelfDealing": "{account} is on both sides of this deal",
    "ReceivablesSplitChildCount": "a split makes 2 or more pieces, not {count}",
    "ReceivablesSplitLengthMismatch": "{holders} holders but {amounts} amounts",
    "ReceivablesSplitSumMismatch": (
        "the parts sum to {sum} fen, and piece {pieceId} is {amount} fen"
    ),
    "ReceivablesUnknownOffer": "there is no offer {offerId}",
    "ReceivablesUnknownRoot": "there is no receivable {rootId}",
    "ReceivablesZeroAddress": "the zero address is not allowed",
    "ReceivablesZeroAmount": "the amount must be more than zero",
    "ReceivablesZeroInvoiceKey": "an invoice key is required",
    # builtins
    "Error": "{message}",
    "Panic": "the contract failed (panic code {code})",
}

_ENUMS = {
    "enum Receivables.RootStatus": RootStatus,
    "enum Receivables.OfferStatus": OfferStatus,
    "enum Receivables.PieceStatus": PieceStatus,
    "enum IMemberRegistry.MemberStatus": MemberStatus,
}
_ROLE_ARGS = ("roles", "anyOfRoles")
_TIME_ARGS = ("dueDate", "expiry")


@cache
def _internal_types() -> dict[str, dict[str, str]]:
    """error name → argument name → its Solidity type (which enum a uint8 is)."""
    try:
        abi = combined_error_abi()
    except ArtifactError:
        return {}
    return {
        e["name"]: {i["name"]: i.get("internalType", i["type"]) for i in e.get("inputs", [])}
        for e in abi
    }


def named(error: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """The error's arguments for an answer: statuses and roles by name, addresses EIP-55."""
    types = _internal_types().get(error, {})
    out: dict[str, Any] = {}
    for key, value in args.items():
        enum = _ENUMS.get(types.get(key, ""))
        if enum is not None and isinstance(value, int):
            out[key] = enum(value).name.lower()
        elif key in _ROLE_ARGS and isinstance(value, int):
            out[key] = [r.name for r in Role if r & value]  # single roles: flags iterate so
        elif isinstance(value, str) and is_hex_address(value) and len(value) == 42:
            out[key] = to_checksum_address(value)
        else:
            out[key] = value
    return out


class _Shown(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "?"


def message(error: str, args: Mapping[str, Any]) -> str:
    """The sentence for `error` with `args` (as `named` gives them) filled in."""
    template = MESSAGES.get(error)
    if template is None:
        return error
    shown = _Shown({k: _show(k, v) for k, v in args.items()})
    return string.Formatter().vformat(template, (), shown)


def _show(key: str, value: Any) -> str:
    if key in _TIME_ARGS and isinstance(value, int) and value > 0:
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, list):
        return " or ".join(str(v) for v in value) if value else "none"
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)


def explain(error: str, args: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(sentence, named arguments) for a refusal, from the chain or predicted from the mirror."""
    details = named(error, args)
    return message(error, details), details
