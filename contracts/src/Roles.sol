// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title Roles
/// @notice Member roles as bits of one byte, so that a member may hold several and a check may
/// accept any of several.
library Roles {
    uint8 internal constant OPERATOR = 1 << 0;
    uint8 internal constant CORE_ENTERPRISE = 1 << 1;
    uint8 internal constant SUPPLIER = 1 << 2;
    uint8 internal constant FINANCIER = 1 << 3;
    uint8 internal constant REGULATOR = 1 << 4;
    uint8 internal constant AUDITOR = 1 << 5;
    uint8 internal constant ALL = (1 << 6) - 1;
    /// @dev Who may hold a receivable piece.
    uint8 internal constant HOLDER = SUPPLIER | FINANCIER;
}
