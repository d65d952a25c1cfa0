// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title IMemberRegistry
/// @notice The checks that SettlementToken and Receivables make against the member registry.
/// Each reverts with a named error, which bubbles up to the caller's transaction unchanged.
interface IMemberRegistry {
    enum MemberStatus {
        None,
        Active,
        Suspended
    }

    error MemberRegistryNotMember(address account);
    error MemberRegistryMemberSuspended(address account);
    error MemberRegistryMissingRole(address account, uint8 anyOfRoles);
    error MemberRegistryPaused();

    /// @notice Reverts unless `account` is an active member holding one of `anyOfRoles`.
    /// @return creditLimit the member's credit limit (zero unless a core enterprise)
    function requireActive(address account, uint8 anyOfRoles)
        external
        view
        returns (uint256 creditLimit);

    /// @notice As `requireActive`, and reverts with `MemberRegistryPaused` while paused.
    function requireActiveUnpaused(address account, uint8 anyOfRoles)
        external
        view
        returns (uint256 creditLimit);

    /// @notice Checks two parties at once (one call instead of two) while unpaused.
    /// @return aCreditLimit the first party's credit limit
    /// @return bCreditLimit the second party's credit limit
    function requireActivePairUnpaused(address a, uint8 aRoles, address b, uint8 bRoles)
        external
        view
        returns (uint256 aCreditLimit, uint256 bCreditLimit);

    /// @notice Checks `first` and each of `others` for one of `anyOfRoles` (one call for a
    /// whole split) while unpaused.
    function requireActiveGroupUnpaused(
        address first,
        address[] calldata others,
        uint8 anyOfRoles
    ) external view;

    /// @notice Whether the operator has paused the ledger.
    function paused() external view returns (bool);

    /// @notice Everything the registry knows about `account` (all zero for a non-member).
    function memberOf(address account)
        external
        view
        returns (uint8 roles, MemberStatus status, bytes32 entityId, uint256 creditLimit);
}
