// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IMemberRegistry} from "./IMemberRegistry.sol";
import {Roles} from "./Roles.sol";

/// @title MemberRegistry
/// @notice The permissioning layer of the ledger: who is a member, with which roles, whether
/// active, and how much a core enterprise may owe. Node-level permissioning on Besu is not
/// enforced on block import, so every other contract asks this registry before any state change.
/// The registry also holds the consortium-wide pause switch.
contract MemberRegistry is IMemberRegistry {
    /// @dev One slot: roles, status and credit limit are read together on every check.
    struct Member {
        uint8 roles;
        MemberStatus status;
        uint128 creditLimit;
    }

    mapping(address account => Member) private _members;
    mapping(address account => bytes32) private _entityIds;
    mapping(bytes32 entityId => address account) private _accountByEntityId;
    uint256 private _activeOperators;
    bool private _paused;
    uint256 private _logAnchorSeq;
    bytes32 private _logAnchorHead;

    event MemberAdded(address indexed account, uint8 roles, bytes32 entityId, uint256 creditLimit);
    event MemberRolesChanged(address indexed account, uint8 roles);
    event MemberStatusChanged(address indexed account, MemberStatus status);
    event CreditLimitChanged(address indexed account, uint256 creditLimit);
    event Paused(address indexed operator);
    event Unpaused(address indexed operator);
    /// @notice The head of the backend's off-chain action log (a hash chain) at entry `seq`.
    event LogAnchored(uint256 indexed seq, bytes32 head, address indexed anchoredBy);

    error MemberRegistryNotOperator(address caller);
    error MemberRegistryZeroAddress();
    error MemberRegistryZeroEntityId();
    error MemberRegistryEntityIdUsed(bytes32 entityId, address account);
    error MemberRegistryAlreadyMember(address account);
    error MemberRegistryInvalidRoles(uint8 roles);
    error MemberRegistryCreditLimitNeedsCoreEnterprise(address account);
    error MemberRegistryStatusUnchanged(address account, MemberStatus status);
    error MemberRegistryLastOperator(address account);
    error MemberRegistryAlreadyPaused();
    error MemberRegistryNotPaused();
    error MemberRegistryLogAnchorNotAfter(uint256 seq, uint256 lastSeq);
    error MemberRegistryZeroLogHead();

    modifier onlyOperator() {
        Member storage caller = _members[msg.sender];
        if (caller.status != MemberStatus.Active || caller.roles & Roles.OPERATOR == 0) {
            revert MemberRegistryNotOperator(msg.sender);
        }
        _;
    }

    /// @param operator the first operator of the consortium
    /// @param operatorEntityId keccak of the operator's legal entity identifier
    constructor(address operator, bytes32 operatorEntityId) {
        _add(operator, Roles.OPERATOR, operatorEntityId, 0);
    }

    // ----------------------------------------------------------------------------------------
    // Administration
    // ----------------------------------------------------------------------------------------

    /// @notice Admits `account` as an active member.
    /// @dev Requirements:
    /// - caller is an active operator;
    /// - `account` is not zero and not yet a member;
    /// - `entityId` is not zero and not held by another member (one legal entity, one member);
    /// - `roles` is a non-empty combination of the six roles;
    /// - a non-zero `creditLimit` only for a core enterprise.
    function addMember(address account, uint8 roles, bytes32 entityId, uint128 creditLimit)
        external
        onlyOperator
    {
        _add(account, roles, entityId, creditLimit);
    }

    /// @notice Replaces the roles of a member.
    /// @dev Requirements:
    /// - caller is an active operator; `account` is a member; `roles` valid;
    /// - the last active operator cannot drop its operator role;
    /// - a member with a credit limit keeps the core enterprise role.
    function setRoles(address account, uint8 roles) external onlyOperator {
        Member storage member = _requireMember(account);
        _requireValidRoles(roles);
        if (member.creditLimit != 0 && roles & Roles.CORE_ENTERPRISE == 0) {
            revert MemberRegistryCreditLimitNeedsCoreEnterprise(account);
        }
        bool wasOperator = member.roles & Roles.OPERATOR != 0;
        bool isOperator = roles & Roles.OPERATOR != 0;
        if (member.status == MemberStatus.Active && wasOperator != isOperator) {
            if (isOperator) {
                ++_activeOperators;
            } else {
                _dropActiveOperator(account);
            }
        }
        member.roles = roles;
        emit MemberRolesChanged(account, roles);
    }

    /// @notice Suspends a member: from now on every contract refuses it as a party.
    /// @dev Requirements: caller is an active operator; `account` is an active member and not the
    /// last active operator.
    function suspend(address account) external onlyOperator {
        _setStatus(account, MemberStatus.Suspended);
    }

    /// @notice Restores a suspended member.
    /// @dev Requirements: caller is an active operator; `account` is a suspended member.
    function reactivate(address account) external onlyOperator {
        _setStatus(account, MemberStatus.Active);
    }

    /// @notice Sets how much a core enterprise may have confirmed and not yet repaid.
    /// @dev Lowering below current usage is allowed: it blocks new confirmations only.
    /// Requirements: caller is an active operator; `account` is a core enterprise member.
    function setCreditLimit(address account, uint128 creditLimit) external onlyOperator {
        Member storage member = _requireMember(account);
        if (member.roles & Roles.CORE_ENTERPRISE == 0) {
            revert MemberRegistryCreditLimitNeedsCoreEnterprise(account);
        }
        member.creditLimit = creditLimit;
        emit CreditLimitChanged(account, creditLimit);
    }

    /// @notice Stops every piece and cash movement on the ledger.
    /// @dev Requirements: caller is an active operator; not paused.
    function pause() external onlyOperator {
        if (_paused) revert MemberRegistryAlreadyPaused();
        _paused = true;
        emit Paused(msg.sender);
    }

    /// @notice Lifts the pause.
    /// @dev Requirements: caller is an active operator; paused.
    function unpause() external onlyOperator {
        if (!_paused) revert MemberRegistryNotPaused();
        _paused = false;
        emit Unpaused(msg.sender);
    }

    /// @notice Anchors the head of the off-chain action log: entries up to `seq` hash to `head`,
    /// so none of them can be changed or removed later without the anchor showing it.
    /// @dev Moves nothing, so it runs while paused. Requirements: caller is an active
    /// operator; `seq` is above the last anchored one; `head` is not zero.
    function anchorLog(uint256 seq, bytes32 head) external onlyOperator {
        if (seq <= _logAnchorSeq) revert MemberRegistryLogAnchorNotAfter(seq, _logAnchorSeq);
        if (head == bytes32(0)) revert MemberRegistryZeroLogHead();
        _logAnchorSeq = seq;
        _logAnchorHead = head;
        emit LogAnchored(seq, head, msg.sender);
    }

    /// @notice The last anchored head of the action log (0, 0 before the first anchor).
    function lastLogAnchor() external view returns (uint256 seq, bytes32 head) {
        return (_logAnchorSeq, _logAnchorHead);
    }

    // ----------------------------------------------------------------------------------------
    // Checks used by the other contracts
    // ----------------------------------------------------------------------------------------

    /// @inheritdoc IMemberRegistry
    function requireActive(address account, uint8 anyOfRoles)
        public
        view
        returns (uint256 creditLimit)
    {
        Member storage member = _members[account];
        if (member.status != MemberStatus.Active) {
            if (member.status == MemberStatus.None) revert MemberRegistryNotMember(account);
            revert MemberRegistryMemberSuspended(account);
        }
        if (member.roles & anyOfRoles == 0) revert MemberRegistryMissingRole(account, anyOfRoles);
        return member.creditLimit;
    }

    /// @inheritdoc IMemberRegistry
    function requireActiveUnpaused(address account, uint8 anyOfRoles)
        external
        view
        returns (uint256 creditLimit)
    {
        if (_paused) revert MemberRegistryPaused();
        return requireActive(account, anyOfRoles);
    }

    /// @inheritdoc IMemberRegistry
    function requireActivePairUnpaused(address a, uint8 aRoles, address b, uint8 bRoles)
        external
        view
        returns (uint256 aCreditLimit, uint256 bCreditLimit)
    {
        if (_paused) revert MemberRegistryPaused();
        return (requireActive(a, aRoles), requireActive(b, bRoles));
    }

    /// @inheritdoc IMemberRegistry
    function requireActiveGroupUnpaused(
        address first,
        address[] calldata others,
        uint8 anyOfRoles
    ) external view {
        if (_paused) revert MemberRegistryPaused();
        requireActive(first, anyOfRoles);
        for (uint256 i = 0; i < others.length; ++i) {
            requireActive(others[i], anyOfRoles);
        }
    }

    /// @inheritdoc IMemberRegistry
    function paused() external view returns (bool) {
        return _paused;
    }

    /// @inheritdoc IMemberRegistry
    function memberOf(address account)
        external
        view
        returns (uint8 roles, MemberStatus status, bytes32 entityId, uint256 creditLimit)
    {
        Member storage member = _members[account];
        return (member.roles, member.status, _entityIds[account], member.creditLimit);
    }

    /// @notice The member registered under a legal entity id, or zero.
    function accountOf(bytes32 entityId) external view returns (address) {
        return _accountByEntityId[entityId];
    }

    // ----------------------------------------------------------------------------------------
    // Internals
    // ----------------------------------------------------------------------------------------

    function _add(address account, uint8 roles, bytes32 entityId, uint128 creditLimit) private {
        if (account == address(0)) revert MemberRegistryZeroAddress();
        if (_members[account].status != MemberStatus.None) {
            revert MemberRegistryAlreadyMember(account);
        }
        if (entityId == bytes32(0)) revert MemberRegistryZeroEntityId();
        address holder = _accountByEntityId[entityId];
        if (holder != address(0)) revert MemberRegistryEntityIdUsed(entityId, holder);
        _requireValidRoles(roles);
        if (creditLimit != 0 && roles & Roles.CORE_ENTERPRISE == 0) {
            revert MemberRegistryCreditLimitNeedsCoreEnterprise(account);
        }
        _members[account] = Member(roles, MemberStatus.Active, creditLimit);
        _entityIds[account] = entityId;
        _accountByEntityId[entityId] = account;
        if (roles & Roles.OPERATOR != 0) ++_activeOperators;
        emit MemberAdded(account, roles, entityId, creditLimit);
    }

    function _setStatus(address account, MemberStatus status) private {
        Member storage member = _requireMember(account);
        if (member.status == status) revert MemberRegistryStatusUnchanged(account, status);
        if (member.roles & Roles.OPERATOR != 0) {
            if (status == MemberStatus.Active) {
                ++_activeOperators;
            } else {
                _dropActiveOperator(account);
            }
        }
        member.status = status;
        emit MemberStatusChanged(account, status);
    }

    function _dropActiveOperator(address account) private {
        if (_activeOperators == 1) revert MemberRegistryLastOperator(account);
        --_activeOperators;
    }

    function _requireMember(address account) private view returns (Member storage member) {
        member = _members[account];
        if (member.status == MemberStatus.None) revert MemberRegistryNotMember(account);
    }

    function _requireValidRoles(uint8 roles) private pure {
        if (roles == 0 || roles & ~Roles.ALL != 0) revert MemberRegistryInvalidRoles(roles);
    }
}
