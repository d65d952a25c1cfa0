// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IMemberRegistry} from "./IMemberRegistry.sol";
import {Roles} from "./Roles.sol";

/// @title SettlementToken
/// @notice A permissioned ERC-20 standing for bank deposits, in minor units (2 decimals: 1 unit
/// is one fen or cent). Only members may hold or move it; the operator mints and burns. The
/// Receivables ledger holds escrow (offer prices, repayments) and may pull a member's cash into
/// escrow when that member acts on the ledger, so no separate approval is needed.
contract SettlementToken is ERC20 {
    IMemberRegistry private immutable _registry;
    address private _ledger;

    event LedgerSet(address indexed ledger);

    error SettlementTokenNotLedger(address caller);
    error SettlementTokenLedgerAlreadySet(address ledger);
    error SettlementTokenZeroAddress();
    error SettlementTokenDirectEscrowTransfer(address from);
    error SettlementTokenEscrowNotBurnable(address ledger);

    constructor(IMemberRegistry registry_) ERC20("SCF Settlement Token", "SCFC") {
        if (address(registry_) == address(0)) revert SettlementTokenZeroAddress();
        _registry = registry_;
    }

    /// @notice Wires the Receivables ledger, once.
    /// @dev Requirements: caller is an active operator; no ledger set yet; `ledger_` not zero.
    function setLedger(address ledger_) external {
        _registry.requireActive(msg.sender, Roles.OPERATOR);
        if (_ledger != address(0)) revert SettlementTokenLedgerAlreadySet(_ledger);
        if (ledger_ == address(0)) revert SettlementTokenZeroAddress();
        _ledger = ledger_;
        emit LedgerSet(ledger_);
    }

    /// @notice Issues cash to a member against a deposit at the settlement bank.
    /// @dev Requirements: caller is an active operator; `to` an active member; not paused.
    function mint(address to, uint256 amount) external {
        _registry.requireActiveUnpaused(msg.sender, Roles.OPERATOR);
        _mint(to, amount);
    }

    /// @notice Redeems a member's cash (the bank pays it out off-ledger).
    /// @dev Requirements: caller is an active operator; `from` is not the ledger (escrow belongs
    /// to the parties of open offers and repayments) and holds `amount`; not paused.
    function burn(address from, uint256 amount) external {
        _registry.requireActiveUnpaused(msg.sender, Roles.OPERATOR);
        if (from == _ledger) revert SettlementTokenEscrowNotBurnable(from);
        _burn(from, amount);
    }

    /// @notice Moves `amount` of `from`'s cash into the ledger's escrow.
    /// @dev Only the ledger calls this, on behalf of `from` acting in the same transaction.
    /// Requirements: caller is the ledger; `from` is an active member holding `amount`.
    function escrowFrom(address from, uint256 amount) external {
        if (msg.sender != _ledger) revert SettlementTokenNotLedger(msg.sender);
        _transfer(from, msg.sender, amount);
    }

    /// @notice The Receivables ledger that holds escrow.
    function ledger() external view returns (address) {
        return _ledger;
    }

    /// @notice The registry this token asks about members.
    function registry() external view returns (IMemberRegistry) {
        return _registry;
    }

    /// @notice Cash has two decimals: one unit is one fen or cent.
    function decimals() public pure override returns (uint8) {
        return 2;
    }

    /// @dev Every movement is checked here. Mints and burns were checked by their callers. Cash
    /// enters escrow only through `escrowFrom`, so the ledger's balance always equals what it
    /// owes. The ledger pays out only to holders and financiers, who were active members when
    /// they took their position; members are never removed, only suspended, and money owed is
    /// not withheld by a suspension: so ledger payouts need no check here. Any other transfer is
    /// between two active members, by one of them or by an active member they approved.
    function _update(address from, address to, uint256 value) internal override {
        address ledger_ = _ledger;
        if (from == address(0)) {
            _registry.requireActive(to, Roles.ALL);
        } else if (to == address(0) || from == ledger_) {
            // burn: checked by `burn`; payout: see above
        } else if (to == ledger_) {
            if (msg.sender != ledger_) revert SettlementTokenDirectEscrowTransfer(from);
        } else {
            _registry.requireActivePairUnpaused(from, Roles.ALL, to, Roles.ALL);
            // A spender moving someone else's cash must be an active member too.
            if (msg.sender != from) _registry.requireActive(msg.sender, Roles.ALL);
        }
        super._update(from, to, value);
    }
}
