// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {IERC1155MetadataURI} from
    "@openzeppelin/contracts/token/ERC1155/extensions/IERC1155MetadataURI.sol";
import {ERC1155Utils} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Utils.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IMemberRegistry} from "./IMemberRegistry.sol";
import {Roles} from "./Roles.sol";
import {SettlementToken} from "./SettlementToken.sol";

/// @title Receivables
/// @notice Confirmed payables of core enterprises as ERC-1155 pieces, each with exactly one
/// holder. A root receivable is registered by its supplier and confirmed by its debtor (or issued
/// by the debtor directly); its pieces can be split, passed on whole, and sold to financiers
/// against escrowed cash; at maturity the debtor's repayments are paid out pro rata to whoever
/// holds the pieces.
/// @dev Balances are not stored per account: a piece records its single holder, and `balanceOf`
/// is derived from it. A root's pieces form a singly linked list (newest first) so that
/// distribution can walk them in bounded batches. A piece's entitlement is
/// `amount * repaid / faceValue`: live pieces always sum to the face value, so the entitlements
/// of a fully repaid root sum to it exactly and each claim is O(1).
///
/// Rounding: before full repayment each piece is paid `floor(amount * repaid / faceValue)`, so
/// up to (live pieces - 1) minor units of a repayment wait in escrow; they are paid out when the
/// debtor completes repayment. A root the debtor never completes is ended by the operator with
/// `close`, which sweeps that remainder to the holder of the piece paid last: escrow for a root
/// is zero once it is Settled or Closed.
///
/// Pause: while the registry is paused every operation that moves a piece or cash or changes a
/// receivable's state is refused (origination, split, transfer, financing, repayment,
/// distribution, claims, `markOverdue`, `refuse`, `close`). What handles the emergency keeps
/// working: the regulator's freezes and unfreezes, and the operator's `setLimits` (and the
/// registry's administration of members).
///
/// Receivers: members may be contracts, so every mint and move of a piece (confirmation, issue,
/// split, sale, transfer) calls the ERC-1155 receiver hook of a contract recipient, after the
/// ledger's state is final; a recipient that does not accept is refused
/// (`ERC1155InvalidReceiver`). No metadata URI is served, so `IERC1155MetadataURI` is not
/// claimed.
contract Receivables is ERC1155 {
    enum RootStatus {
        None,
        Registered,
        Confirmed,
        Rejected,
        Cancelled,
        Overdue,
        Settled,
        Refused,
        Closed
    }

    /// @dev `Paid` is not stored: a piece is paid when `paidOut == amount`.
    enum PieceStatus {
        None,
        Pending,
        Active,
        Split,
        Void
    }

    enum OfferStatus {
        None,
        Open,
        Accepted,
        Cancelled
    }

    struct Root {
        address debtor;
        uint64 dueDate;
        RootStatus status;
        bool frozen;
        uint16 livePieces; // active (or pending) pieces; in the slot split reads anyway
        address supplier;
        uint40 head; // newest piece of this root
        uint40 cursor; // next piece for `distribute`; zero when the pass is complete
        uint16 frozenPieces; // live pieces frozen by a regulator (<= livePieces)
        uint128 faceValue;
        uint128 repaid;
        uint128 paidOut;
        uint40 lastPaid; // the piece paid most recently, recipient of the remainder on `close`
        bytes32 invoiceHash;
        bytes32 invoiceKey;
    }

    struct Piece {
        address holder;
        uint96 amount;
        uint40 rootId;
        uint40 parentId;
        uint40 next; // older piece of the same root
        PieceStatus status;
        uint8 depth;
        bool frozen;
        uint96 paidOut;
    }

    struct Offer {
        address financier;
        uint64 expiry;
        OfferStatus status;
        uint40 pieceId;
        uint128 price;
    }

    struct Limits {
        uint8 maxDepth;
        uint96 minPieceAmount;
        uint64 gracePeriod;
        uint16 maxLivePieces;
    }

    /// @dev Bounds the gas of one split.
    uint256 public constant MAX_SPLIT_CHILDREN = 32;
    /// @dev Due dates further out than this are refused as implausible.
    uint256 public constant MAX_TENOR = 10 * 365 days;

    IMemberRegistry private immutable _registry;
    SettlementToken private immutable _token;

    // One slot: split and register read the limits and bump the piece counter together.
    uint8 private _maxDepth;
    uint96 private _minPieceAmount;
    uint64 private _gracePeriod;
    uint40 private _lastPieceId;
    uint16 private _maxLivePieces;
    uint32 private _lastOfferId; // checked: refused once 2^32 - 1 offers were posted

    mapping(uint256 rootId => Root) private _roots;
    mapping(uint256 pieceId => Piece) private _pieces;
    mapping(uint256 offerId => Offer) private _offers;
    mapping(bytes32 invoiceKey => uint256 rootId) private _rootByInvoiceKey;
    mapping(address debtor => uint256) private _creditUsed;

    event ReceivableRegistered(
        uint256 indexed rootId,
        address indexed supplier,
        address indexed debtor,
        uint256 faceValue,
        uint64 dueDate,
        bytes32 invoiceHash,
        bytes32 invoiceKey
    );
    event ReceivableConfirmed(uint256 indexed rootId, address indexed debtor, uint256 creditUsed);
    event ReceivableRejected(uint256 indexed rootId, address indexed debtor, string reason);
    event ReceivableCancelled(uint256 indexed rootId, address indexed supplier);
    event ReceivableRefused(
        uint256 indexed rootId,
        address indexed supplier,
        address indexed debtor,
        string reason,
        uint256 creditUsed
    );
    event InvoiceKeyReclaimed(
        uint256 indexed rootId, bytes32 indexed invoiceKey, address indexed seller, bool voided
    );
    event ReceivableClosed(
        uint256 indexed rootId,
        address indexed operator,
        uint256 outstanding,
        uint256 remainder,
        address remainderTo
    );
    event PieceSplit(
        uint256 indexed parentId,
        uint256 indexed rootId,
        uint256[] childIds,
        address[] holders,
        uint256[] amounts
    );
    event OfferPosted(
        uint256 indexed offerId,
        uint256 indexed pieceId,
        address indexed financier,
        uint256 price,
        uint64 expiry
    );
    event OfferAccepted(
        uint256 indexed offerId,
        uint256 indexed pieceId,
        address indexed seller,
        address financier,
        uint256 price
    );
    event OfferCancelled(
        uint256 indexed offerId,
        uint256 indexed pieceId,
        address indexed financier,
        uint256 refund,
        bool expired
    );
    event Repaid(
        uint256 indexed rootId,
        address indexed debtor,
        uint256 amount,
        uint256 totalRepaid,
        uint256 creditUsed
    );
    event PiecePaid(
        uint256 indexed pieceId,
        uint256 indexed rootId,
        address indexed holder,
        uint256 amount,
        uint256 paidOut
    );
    event Distributed(
        uint256 indexed rootId, uint256 piecesVisited, uint256 amount, uint256 nextCursor
    );
    event ReceivableSettled(uint256 indexed rootId);
    event ReceivableOverdue(uint256 indexed rootId, uint256 outstanding);
    event RootFrozen(uint256 indexed rootId, address indexed regulator, string reason);
    event RootUnfrozen(uint256 indexed rootId, address indexed regulator, string reason);
    event PieceFrozen(
        uint256 indexed pieceId, uint256 indexed rootId, address indexed regulator, string reason
    );
    event PieceUnfrozen(
        uint256 indexed pieceId, uint256 indexed rootId, address indexed regulator, string reason
    );
    event LimitsChanged(
        uint8 maxDepth, uint256 minPieceAmount, uint64 gracePeriod, uint16 maxLivePieces
    );

    error ReceivablesZeroAddress();
    error ReceivablesSelfDealing(address account);
    error ReceivablesAmountTooSmall(uint256 amount, uint256 minimum);
    error ReceivablesAmountTooLarge(uint256 amount);
    error ReceivablesInvalidDueDate(uint64 dueDate);
    error ReceivablesZeroInvoiceKey();
    error ReceivablesInvoiceKeyUsed(bytes32 invoiceKey, uint256 rootId);
    error ReceivablesUnknownRoot(uint256 rootId);
    error ReceivablesInvalidStatus(uint256 rootId, RootStatus status);
    error ReceivablesNotDebtor(uint256 rootId, address caller);
    error ReceivablesNotSupplier(uint256 rootId, address caller);
    error ReceivablesCreditLimitExceeded(
        address debtor, uint256 creditLimit, uint256 creditUsed, uint256 amount
    );
    error ReceivablesPieceNotActive(uint256 pieceId);
    error ReceivablesNotHolder(uint256 pieceId, address account);
    error ReceivablesPieceFrozen(uint256 pieceId);
    error ReceivablesPieceLocked(uint256 pieceId, uint64 dueDate);
    error ReceivablesPartialTransfer(uint256 pieceId, uint256 amount, uint256 value);
    error ReceivablesSplitLengthMismatch(uint256 holders, uint256 amounts);
    error ReceivablesSplitChildCount(uint256 count);
    error ReceivablesSplitSumMismatch(uint256 pieceId, uint256 amount, uint256 sum);
    error ReceivablesMaxDepthReached(uint256 pieceId, uint8 maxDepth);
    error ReceivablesInvalidPrice(uint256 pieceId, uint256 price);
    error ReceivablesInvalidExpiry(uint64 expiry);
    error ReceivablesUnknownOffer(uint256 offerId);
    error ReceivablesOfferNotOpen(uint256 offerId, OfferStatus status);
    error ReceivablesOfferExpired(uint256 offerId, uint64 expiry);
    error ReceivablesNotFinancier(uint256 offerId, address caller);
    error ReceivablesZeroAmount();
    error ReceivablesRepaymentExceedsOutstanding(uint256 rootId, uint256 outstanding, uint256 amount);
    error ReceivablesNotDue(uint256 rootId, uint64 dueDate);
    error ReceivablesRootFrozen(uint256 rootId);
    error ReceivablesNothingToDistribute(uint256 rootId);
    error ReceivablesNothingToClaim(uint256 pieceId);
    error ReceivablesNotOverdue(uint256 rootId);
    error ReceivablesRootAlreadyFrozen(uint256 rootId);
    error ReceivablesRootNotFrozen(uint256 rootId);
    error ReceivablesPieceAlreadyFrozen(uint256 pieceId);
    error ReceivablesPieceNotFrozen(uint256 pieceId);
    error ReceivablesInvalidLimits();
    error ReceivablesTooManyPieces(uint256 rootId, uint256 livePieces, uint256 maxLivePieces);
    error ReceivablesAlreadyRepaid(uint256 rootId, uint256 repaid);
    error ReceivablesPiecesFrozen(uint256 rootId, uint256 frozenPieces);
    error ReceivablesDistributionPending(uint256 rootId, uint256 cursor);
    error ReceivablesNotInvoiceSeller(uint256 rootId, address caller);

    /// @param registry_ the member registry every party is checked against
    /// @param token_ the settlement cash; its ledger must be set to this contract after deploy
    constructor(
        IMemberRegistry registry_,
        SettlementToken token_,
        uint8 maxDepth,
        uint96 minPieceAmount,
        uint64 gracePeriod,
        uint16 maxLivePieces
    ) ERC1155("") {
        if (address(registry_) == address(0) || address(token_) == address(0)) {
            revert ReceivablesZeroAddress();
        }
        _registry = registry_;
        _token = token_;
        _setLimits(maxDepth, minPieceAmount, gracePeriod, maxLivePieces);
    }

    // ----------------------------------------------------------------------------------------
    // Origination
    // ----------------------------------------------------------------------------------------

    /// @notice A supplier registers an invoice on its debtor; it becomes a receivable once the
    /// debtor confirms it.
    /// @dev Requirements:
    /// - caller an active supplier, `debtor` an active core enterprise, not the same, not paused;
    /// - `faceValue` at least the minimum piece amount and below 2^96;
    /// - `dueDate` in the future and within `MAX_TENOR`;
    /// - `invoiceKey` non-zero and not held by another live receivable.
    function register(
        address debtor,
        uint256 faceValue,
        uint64 dueDate,
        bytes32 invoiceHash,
        bytes32 invoiceKey
    ) external returns (uint256 rootId) {
        _registry.requireActivePairUnpaused(
            msg.sender, Roles.SUPPLIER, debtor, Roles.CORE_ENTERPRISE
        );
        rootId = _createRoot(debtor, msg.sender, faceValue, dueDate, invoiceHash, invoiceKey);
    }

    /// @notice The debtor confirms a registered invoice (确权): the root piece is minted to the
    /// supplier and the face value counts against the debtor's credit limit.
    /// @dev Requirements:
    /// - the root is Registered and not frozen, its due date not reached, not paused;
    /// - caller is its debtor, an active core enterprise; the supplier is still active;
    /// - the debtor's credit usage plus the face value stays within its credit limit;
    /// - the supplier, if a contract, accepts the root piece (ERC-1155 receiver hook).
    function confirm(uint256 rootId) external {
        Root storage root = _roots[rootId];
        _requireStatus(rootId, root.status, RootStatus.Registered);
        if (msg.sender != root.debtor) revert ReceivablesNotDebtor(rootId, msg.sender);
        (, uint256 creditLimit) = _registry.requireActivePairUnpaused(
            root.supplier, Roles.SUPPLIER, msg.sender, Roles.CORE_ENTERPRISE
        );
        if (root.frozen) revert ReceivablesRootFrozen(rootId);
        if (block.timestamp >= root.dueDate) revert ReceivablesInvalidDueDate(root.dueDate);
        _confirm(rootId, root, creditLimit);
    }

    /// @notice The debtor issues a confirmed payable to a supplier in one step.
    /// @dev Requirements: as `register` with the roles swapped, and the credit limit as `confirm`.
    function issue(
        address supplier,
        uint256 faceValue,
        uint64 dueDate,
        bytes32 invoiceHash,
        bytes32 invoiceKey
    ) external returns (uint256 rootId) {
        (, uint256 creditLimit) = _registry.requireActivePairUnpaused(
            supplier, Roles.SUPPLIER, msg.sender, Roles.CORE_ENTERPRISE
        );
        rootId = _createRoot(msg.sender, supplier, faceValue, dueDate, invoiceHash, invoiceKey);
        _confirm(rootId, _roots[rootId], creditLimit);
    }

    /// @notice The debtor refuses a registered invoice; its invoice key is released so that a
    /// corrected registration of the same invoice remains possible.
    /// @dev Requirements: the root is Registered and not frozen; caller is its debtor, an active
    /// core enterprise; not paused.
    function reject(uint256 rootId, string calldata reason) external {
        Root storage root = _roots[rootId];
        _requireStatus(rootId, root.status, RootStatus.Registered);
        if (msg.sender != root.debtor) revert ReceivablesNotDebtor(rootId, msg.sender);
        _registry.requireActiveUnpaused(msg.sender, Roles.CORE_ENTERPRISE);
        if (root.frozen) revert ReceivablesRootFrozen(rootId);
        _void(rootId, root, RootStatus.Rejected);
        emit ReceivableRejected(rootId, msg.sender, reason);
    }

    /// @notice The supplier withdraws a registration before the debtor confirmed it.
    /// @dev Requirements: the root is Registered and not frozen; caller is its supplier, an
    /// active supplier; not paused.
    function cancel(uint256 rootId) external {
        Root storage root = _roots[rootId];
        _requireStatus(rootId, root.status, RootStatus.Registered);
        if (msg.sender != root.supplier) revert ReceivablesNotSupplier(rootId, msg.sender);
        _registry.requireActiveUnpaused(msg.sender, Roles.SUPPLIER);
        if (root.frozen) revert ReceivablesRootFrozen(rootId);
        _void(rootId, root, RootStatus.Cancelled);
        emit ReceivableCancelled(rootId, msg.sender);
    }

    /// @notice The supplier refuses a payable issued to it that it never agreed to: the root
    /// piece is burned, the debtor's credit released, and the invoice key freed, so that nobody
    /// can occupy a supplier's invoice number by issuing a payable in its name. The key stays
    /// keccak(seller entity, invoice number): one invoice of a seller is on the ledger once.
    /// @dev Requirements:
    /// - the root is Confirmed, nothing repaid; caller is its supplier, an active supplier; not
    ///   paused;
    /// - the root piece is still whole (not split), held by the supplier, not frozen, and its
    ///   root neither frozen nor due.
    function refuse(uint256 rootId, string calldata reason) external {
        Root storage root = _roots[rootId];
        _requireStatus(rootId, root.status, RootStatus.Confirmed);
        if (msg.sender != root.supplier) revert ReceivablesNotSupplier(rootId, msg.sender);
        _registry.requireActiveUnpaused(msg.sender, Roles.SUPPLIER);
        Piece storage piece = _pieces[rootId];
        _requireMovable(rootId, piece, root);
        if (piece.holder != msg.sender) revert ReceivablesNotHolder(rootId, msg.sender);
        if (root.repaid != 0) revert ReceivablesAlreadyRepaid(rootId, root.repaid);
        address debtor = root.debtor;
        uint256 faceValue = root.faceValue;
        uint256 creditUsed = _creditUsed[debtor] - faceValue;
        _creditUsed[debtor] = creditUsed;
        _void(rootId, root, RootStatus.Refused);
        emit TransferSingle(msg.sender, msg.sender, address(0), rootId, faceValue);
        emit ReceivableRefused(rootId, msg.sender, debtor, reason, creditUsed);
    }

    /// @notice A supplier takes back its invoice key from a root of another supplier that
    /// registered it: it proves the key is keccak(its entity id, `invoiceNumber`). A root still
    /// Registered is voided (Cancelled) so that it cannot be confirmed; a confirmed one keeps
    /// its state (its debtor confirmed it; the event tells the regulator) but no longer holds
    /// the key (its `invoiceKey` becomes zero). The supplier can then register its genuine invoice.
    /// @dev The ledger takes the key from its caller; this is what ties a key to its seller.
    /// Requirements: caller an active supplier, not the root's supplier; not paused; the root
    /// is not frozen and holds the key; the key is keccak(caller's entity id ‖ `invoiceNumber`).
    function reclaimInvoiceKey(uint256 rootId, string calldata invoiceNumber) external {
        _registry.requireActiveUnpaused(msg.sender, Roles.SUPPLIER);
        Root storage root = _roots[rootId];
        if (root.status == RootStatus.None) revert ReceivablesUnknownRoot(rootId);
        bytes32 key = root.invoiceKey;
        if (root.supplier == msg.sender) revert ReceivablesSelfDealing(msg.sender);
        if (root.frozen) revert ReceivablesRootFrozen(rootId);
        (,, bytes32 entityId,) = _registry.memberOf(msg.sender);
        if (
            _rootByInvoiceKey[key] != rootId
                || keccak256(abi.encodePacked(entityId, invoiceNumber)) != key
        ) revert ReceivablesNotInvoiceSeller(rootId, msg.sender);
        bool voided = root.status == RootStatus.Registered;
        if (voided) {
            _void(rootId, root, RootStatus.Cancelled);
        } else {
            delete _rootByInvoiceKey[key];
            root.invoiceKey = bytes32(0); // the event keeps the key it held
        }
        emit InvoiceKeyReclaimed(rootId, key, msg.sender, voided);
    }

    // ----------------------------------------------------------------------------------------
    // Pieces
    // ----------------------------------------------------------------------------------------

    /// @notice Replaces a piece by children whose amounts sum to it; each child remembers its
    /// parent, so every piece traces back to the debtor's confirmation.
    /// @dev The parent is retired (burned) and the children minted, with ERC-1155 events.
    /// Requirements:
    /// - caller holds the piece and is an active supplier or financier; not paused;
    /// - the piece is active, not frozen, not locked (due date not reached);
    /// - 2 to `MAX_SPLIT_CHILDREN` children, each to an active supplier or financier, each at
    ///   least the minimum piece amount, summing to the piece's amount;
    /// - the children's depth does not exceed the maximum depth;
    /// - the root's live pieces (this one replaced by its children) stay within the live-piece
    ///   cap;
    /// - each child's holder, if a contract, accepts it (ERC-1155 receiver hook).
    function split(uint256 pieceId, address[] calldata holders, uint256[] calldata amounts)
        external
        returns (uint256[] memory childIds)
    {
        uint256 count = holders.length;
        if (count != amounts.length) revert ReceivablesSplitLengthMismatch(count, amounts.length);
        if (count < 2 || count > MAX_SPLIT_CHILDREN) revert ReceivablesSplitChildCount(count);
        Piece storage parent = _pieces[pieceId];
        _requireMovable(pieceId, parent, _roots[parent.rootId]);
        if (parent.holder != msg.sender) revert ReceivablesNotHolder(pieceId, msg.sender);
        _registry.requireActiveGroupUnpaused(msg.sender, holders, Roles.HOLDER);
        if (parent.depth >= _maxDepth) revert ReceivablesMaxDepthReached(pieceId, _maxDepth);
        _addLivePieces(parent.rootId, count - 1);
        uint96 minimum = _minPieceAmount;
        parent.status = PieceStatus.Split;
        emit TransferSingle(msg.sender, msg.sender, address(0), pieceId, parent.amount);

        // Children are written from one template and spliced into the root's list right after
        // the parent, which stays in the list retired: the root's head need not change.
        Piece memory child = Piece({
            holder: address(0),
            amount: 0,
            rootId: parent.rootId,
            parentId: uint40(pieceId),
            next: parent.next,
            status: PieceStatus.Active,
            depth: parent.depth + 1,
            frozen: false,
            paidOut: 0
        });
        uint40 lastId = _lastPieceId;
        uint256 sum;
        childIds = new uint256[](count);
        for (uint256 i = 0; i < count; ++i) {
            child.holder = holders[i];
            uint256 amount = amounts[i];
            if (amount < minimum) revert ReceivablesAmountTooSmall(amount, minimum);
            sum += amount;
            if (sum > parent.amount) revert ReceivablesSplitSumMismatch(pieceId, parent.amount, sum);
            child.amount = uint96(amount); // amount <= sum <= parent.amount < 2^96
            // Cannot overflow: one id per piece, 2^40 pieces are out of reach.
            unchecked {
                ++lastId;
            }
            _pieces[lastId] = child;
            child.next = lastId;
            childIds[i] = lastId;
            emit TransferSingle(msg.sender, address(0), child.holder, lastId, amount);
        }
        if (sum != parent.amount) revert ReceivablesSplitSumMismatch(pieceId, parent.amount, sum);
        _lastPieceId = lastId;
        parent.next = lastId;
        emit PieceSplit(pieceId, child.rootId, childIds, holders, amounts);
        // Hooks last: the ledger's state is final before any recipient contract runs.
        for (uint256 i = 0; i < count; ++i) {
            ERC1155Utils.checkOnERC1155Received(
                msg.sender, address(0), holders[i], childIds[i], amounts[i], ""
            );
        }
    }

    /// @notice ERC-165: ERC-1155 (receiver hooks are called on every mint and move), not the
    /// metadata URI extension (no metadata is served).
    function supportsInterface(bytes4 interfaceId) public view override returns (bool) {
        return interfaceId != type(IERC1155MetadataURI).interfaceId
            && super.supportsInterface(interfaceId);
    }

    /// @notice A piece's balance is its amount for its holder while it is active.
    function balanceOf(address account, uint256 id) public view override returns (uint256) {
        Piece storage piece = _pieces[id];
        if (piece.status != PieceStatus.Active || piece.holder != account) return 0;
        return piece.amount;
    }

    /// @dev Reached only through `safeTransferFrom` / `safeBatchTransferFrom` (the ledger mints
    /// and burns by itself): moves whole pieces between active holders; an approved operator
    /// acting for the holder must be an active member.
    function _update(address from, address to, uint256[] memory ids, uint256[] memory values)
        internal
        override
    {
        if (ids.length != values.length) revert ERC1155InvalidArrayLength(ids.length, values.length);
        _registry.requireActivePairUnpaused(from, Roles.HOLDER, to, Roles.HOLDER);
        // An approved operator moving someone else's pieces must be an active member too.
        if (msg.sender != from) _registry.requireActive(msg.sender, Roles.ALL);
        for (uint256 i = 0; i < ids.length; ++i) {
            uint256 id = ids[i];
            Piece storage piece = _pieces[id];
            _requireMovable(id, piece, _roots[piece.rootId]);
            if (piece.holder != from) revert ReceivablesNotHolder(id, from);
            if (values[i] != piece.amount) revert ReceivablesPartialTransfer(id, piece.amount, values[i]);
            piece.holder = to;
        }
        if (ids.length == 1) {
            emit TransferSingle(msg.sender, from, to, ids[0], values[0]);
        } else {
            emit TransferBatch(msg.sender, from, to, ids, values);
        }
    }

    // ----------------------------------------------------------------------------------------
    // Financing
    // ----------------------------------------------------------------------------------------

    /// @notice A financier offers to buy a piece; the price moves into escrow at once.
    /// @dev Requirements:
    /// - caller an active financier, not the piece's holder; not paused;
    /// - the piece is active, not frozen, not locked;
    /// - 0 < `price` <= the piece's amount; now < `expiry` <= the due date;
    /// - caller holds `price` in settlement cash.
    function postOffer(uint256 pieceId, uint256 price, uint64 expiry)
        external
        returns (uint256 offerId)
    {
        _registry.requireActiveUnpaused(msg.sender, Roles.FINANCIER);
        Piece storage piece = _pieces[pieceId];
        Root storage root = _roots[piece.rootId];
        _requireMovable(pieceId, piece, root);
        if (piece.holder == msg.sender) revert ReceivablesSelfDealing(msg.sender);
        if (price == 0 || price > piece.amount) revert ReceivablesInvalidPrice(pieceId, price);
        if (expiry <= block.timestamp || expiry > root.dueDate) revert ReceivablesInvalidExpiry(expiry);
        offerId = ++_lastOfferId;
        _offers[offerId] = Offer({
            financier: msg.sender,
            expiry: expiry,
            status: OfferStatus.Open,
            pieceId: uint40(pieceId),
            price: uint128(price) // price <= amount < 2^96
        });
        _token.escrowFrom(msg.sender, price);
        emit OfferPosted(offerId, pieceId, msg.sender, price, expiry);
    }

    /// @notice The holder sells the piece to the offer's financier: piece and cash swap in one
    /// transaction.
    /// @dev Requirements:
    /// - the offer is open and not expired; not paused;
    /// - caller holds the piece, an active supplier or financier, not the offer's financier;
    /// - the financier is still an active financier;
    /// - the piece is active, not frozen, not locked;
    /// - the financier, if a contract, accepts the piece (ERC-1155 receiver hook).
    function acceptOffer(uint256 offerId) external {
        Offer storage offer = _requireOpenOffer(offerId);
        if (block.timestamp >= offer.expiry) revert ReceivablesOfferExpired(offerId, offer.expiry);
        address financier = offer.financier;
        uint256 pieceId = offer.pieceId;
        Piece storage piece = _pieces[pieceId];
        _requireMovable(pieceId, piece, _roots[piece.rootId]);
        if (piece.holder != msg.sender) revert ReceivablesNotHolder(pieceId, msg.sender);
        if (financier == msg.sender) revert ReceivablesSelfDealing(msg.sender);
        _registry.requireActivePairUnpaused(msg.sender, Roles.HOLDER, financier, Roles.FINANCIER);
        offer.status = OfferStatus.Accepted;
        piece.holder = financier;
        uint256 price = offer.price;
        _token.transfer(msg.sender, price);
        uint256 amount = piece.amount;
        emit TransferSingle(msg.sender, msg.sender, financier, pieceId, amount);
        emit OfferAccepted(offerId, pieceId, msg.sender, financier, price);
        ERC1155Utils.checkOnERC1155Received(msg.sender, msg.sender, financier, pieceId, amount, "");
    }

    /// @notice Withdraws an open offer and refunds its escrow to the financier. Before expiry
    /// only the financier may; after expiry anyone may (the keeper cleans up).
    /// @dev Requirements: the offer is open; not paused; before expiry, caller is the offer's
    /// financier and an active financier.
    function cancelOffer(uint256 offerId) external {
        Offer storage offer = _requireOpenOffer(offerId);
        bool expired = block.timestamp >= offer.expiry;
        address financier = offer.financier;
        if (expired) {
            if (_registry.paused()) revert IMemberRegistry.MemberRegistryPaused();
        } else {
            if (msg.sender != financier) revert ReceivablesNotFinancier(offerId, msg.sender);
            _registry.requireActiveUnpaused(msg.sender, Roles.FINANCIER);
        }
        offer.status = OfferStatus.Cancelled;
        uint256 price = offer.price;
        _token.transfer(financier, price);
        emit OfferCancelled(offerId, offer.pieceId, financier, price, expired);
    }

    // ----------------------------------------------------------------------------------------
    // Settlement
    // ----------------------------------------------------------------------------------------

    /// @notice The debtor pays (part of) what it owes into escrow; the credit it used is
    /// released by the same amount. Starts a new distribution pass over the root's pieces.
    /// @dev A suspended debtor may still repay: money owed must reach the holders. The debtor
    /// was an active core enterprise when it confirmed, and members are never removed.
    /// Requirements: caller is the root's debtor (active or suspended); the root is Confirmed
    /// or Overdue; 0 < `amount` <= outstanding; not paused; caller holds `amount`.
    function repay(uint256 rootId, uint256 amount) external {
        Root storage root = _roots[rootId];
        RootStatus status = root.status;
        if (status != RootStatus.Confirmed && status != RootStatus.Overdue) {
            _requireStatus(rootId, status, RootStatus.Confirmed);
        }
        if (msg.sender != root.debtor) revert ReceivablesNotDebtor(rootId, msg.sender);
        if (_registry.paused()) revert IMemberRegistry.MemberRegistryPaused();
        if (amount == 0) revert ReceivablesZeroAmount();
        uint256 outstanding = root.faceValue - root.repaid;
        if (amount > outstanding) {
            revert ReceivablesRepaymentExceedsOutstanding(rootId, outstanding, amount);
        }
        uint128 totalRepaid = root.repaid + uint128(amount); // amount <= outstanding < 2^128
        root.repaid = totalRepaid;
        root.cursor = root.head;
        uint256 creditUsed = _creditUsed[msg.sender] - amount;
        _creditUsed[msg.sender] = creditUsed;
        _token.escrowFrom(msg.sender, amount);
        emit Repaid(rootId, msg.sender, amount, totalRepaid, creditUsed);
    }

    /// @notice Pays what each piece is owed to its holder, for up to `maxPieces` pieces of the
    /// root from where the current pass stopped. Anyone may call it.
    /// @dev Frozen pieces are skipped (their holders claim once unfrozen). The root is Settled
    /// once everything is repaid and paid out.
    /// Requirements: the root is Confirmed or Overdue, due, not frozen; the current pass is not
    /// complete; `maxPieces` > 0; not paused.
    function distribute(uint256 rootId, uint256 maxPieces) external returns (uint256 paid) {
        if (_registry.paused()) revert IMemberRegistry.MemberRegistryPaused();
        Root storage root = _roots[rootId];
        _requirePayable(rootId, root);
        if (root.frozen) revert ReceivablesRootFrozen(rootId);
        if (maxPieces == 0) revert ReceivablesZeroAmount();
        uint40 id = root.cursor;
        if (id == 0) revert ReceivablesNothingToDistribute(rootId);
        uint256 repaid = root.repaid;
        uint256 faceValue = root.faceValue;
        uint256 visited;
        uint40 last;
        while (id != 0 && visited < maxPieces) {
            Piece storage piece = _pieces[id];
            if (piece.status == PieceStatus.Active && !piece.frozen) {
                uint256 amount = _payPiece(id, piece, repaid, faceValue);
                if (amount != 0) {
                    paid += amount;
                    last = id;
                }
            }
            id = piece.next;
            // Cannot overflow: bounded by `maxPieces`.
            unchecked {
                ++visited;
            }
        }
        root.cursor = id;
        emit Distributed(rootId, visited, paid, id);
        _addPaidOut(rootId, root, paid, last);
    }

    /// @notice The holder of a piece pulls what the piece is owed now.
    /// @dev Requirements: caller holds the piece, an active supplier or financier; the piece is
    /// active and neither it nor its root frozen; the root is due and Confirmed or Overdue;
    /// something is owed; not paused.
    function claim(uint256 pieceId) external returns (uint256 paid) {
        Piece storage piece = _pieces[pieceId];
        if (piece.status != PieceStatus.Active) revert ReceivablesPieceNotActive(pieceId);
        if (piece.holder != msg.sender) revert ReceivablesNotHolder(pieceId, msg.sender);
        _registry.requireActiveUnpaused(msg.sender, Roles.HOLDER);
        uint256 rootId = piece.rootId;
        Root storage root = _roots[rootId];
        _requirePayable(rootId, root);
        if (piece.frozen || root.frozen) revert ReceivablesPieceFrozen(pieceId);
        paid = _payPiece(pieceId, piece, root.repaid, root.faceValue);
        if (paid == 0) revert ReceivablesNothingToClaim(pieceId);
        _addPaidOut(rootId, root, paid, uint40(pieceId));
    }

    /// @notice Marks a root Overdue: past its due date plus the grace period with money owed.
    /// Anyone may call it (in practice the keeper).
    /// @dev Requirements: the root is Confirmed, past due date + grace period, not fully
    /// repaid; not paused.
    function markOverdue(uint256 rootId) external {
        if (_registry.paused()) revert IMemberRegistry.MemberRegistryPaused();
        Root storage root = _roots[rootId];
        _requireStatus(rootId, root.status, RootStatus.Confirmed);
        uint256 outstanding = root.faceValue - root.repaid;
        if (block.timestamp <= uint256(root.dueDate) + _gracePeriod || outstanding == 0) {
            revert ReceivablesNotOverdue(rootId);
        }
        root.status = RootStatus.Overdue;
        emit ReceivableOverdue(rootId, outstanding);
    }

    /// @notice The operator ends an overdue receivable that its debtor will not repay in full
    /// (recovery goes on off the ledger): no further repayment is taken, and what is left of
    /// the repayments in escrow — the rounding remainder, less than one minor unit per live
    /// piece — is paid to the holder of the piece paid last (to the debtor if no piece was ever
    /// paid a whole unit). The escrow of a closed root is zero. The unpaid amount stays against
    /// the debtor's credit limit: it is still owed.
    /// @dev Every live piece has been paid its entitlement when the current pass is complete
    /// and no piece is frozen, so the remainder is exactly `repaid - paidOut`.
    /// Requirements: caller an active operator; not paused; the root is Overdue and not frozen;
    /// none of its pieces is frozen; its distribution pass is complete.
    function close(uint256 rootId) external {
        _registry.requireActiveUnpaused(msg.sender, Roles.OPERATOR);
        Root storage root = _roots[rootId];
        _requireStatus(rootId, root.status, RootStatus.Overdue);
        if (root.frozen) revert ReceivablesRootFrozen(rootId);
        if (root.frozenPieces != 0) revert ReceivablesPiecesFrozen(rootId, root.frozenPieces);
        if (root.cursor != 0) revert ReceivablesDistributionPending(rootId, root.cursor);
        uint256 repaid = root.repaid;
        uint256 remainder = repaid - root.paidOut;
        uint40 last = root.lastPaid;
        address to = last == 0 ? root.debtor : _pieces[last].holder;
        root.status = RootStatus.Closed;
        root.paidOut = uint128(repaid);
        if (remainder != 0) _token.transfer(to, remainder);
        emit ReceivableClosed(rootId, msg.sender, root.faceValue - repaid, remainder, to);
    }

    // ----------------------------------------------------------------------------------------
    // Supervision
    // ----------------------------------------------------------------------------------------

    /// @notice A regulator freezes a whole receivable: none of its pieces moves or is paid.
    /// @dev Works while paused. Requirements: caller an active regulator; the root exists and
    /// is not frozen.
    function freezeRoot(uint256 rootId, string calldata reason) external {
        Root storage root = _requireRegulatorOnRoot(rootId);
        if (root.frozen) revert ReceivablesRootAlreadyFrozen(rootId);
        root.frozen = true;
        emit RootFrozen(rootId, msg.sender, reason);
    }

    /// @notice A regulator lifts a root's freeze; distribution restarts from the newest piece.
    /// @dev Works while paused. Requirements: caller an active regulator; the root is frozen.
    function unfreezeRoot(uint256 rootId, string calldata reason) external {
        Root storage root = _requireRegulatorOnRoot(rootId);
        if (!root.frozen) revert ReceivablesRootNotFrozen(rootId);
        root.frozen = false;
        _restartPass(root);
        emit RootUnfrozen(rootId, msg.sender, reason);
    }

    /// @notice A regulator freezes one piece: it cannot move and is not paid.
    /// @dev Works while paused. Requirements: caller an active regulator; the piece is active
    /// and not frozen.
    function freezePiece(uint256 pieceId, string calldata reason) external {
        Piece storage piece = _requireRegulatorOnPiece(pieceId);
        if (piece.frozen) revert ReceivablesPieceAlreadyFrozen(pieceId);
        piece.frozen = true;
        ++_roots[piece.rootId].frozenPieces; // at most livePieces, itself a uint16
        emit PieceFrozen(pieceId, piece.rootId, msg.sender, reason);
    }

    /// @notice A regulator lifts a piece's freeze; distribution of its root restarts.
    /// @dev Works while paused. Requirements: caller an active regulator; the piece is active
    /// and frozen.
    function unfreezePiece(uint256 pieceId, string calldata reason) external {
        Piece storage piece = _requireRegulatorOnPiece(pieceId);
        if (!piece.frozen) revert ReceivablesPieceNotFrozen(pieceId);
        piece.frozen = false;
        Root storage root = _roots[piece.rootId];
        --root.frozenPieces; // this piece was counted when frozen
        _restartPass(root);
        emit PieceUnfrozen(pieceId, piece.rootId, msg.sender, reason);
    }

    /// @notice The operator sets the split depth limit, the minimum piece amount, the grace
    /// period before a root with money owed becomes overdue, and the most live pieces one root
    /// may have (which bounds a distribution pass to fewer than twice as many pieces visited).
    /// @dev Works while paused: changing the limits moves nothing, and an operator may need to
    /// tighten them during an emergency. Lowering `maxLivePieces` below a root's current count
    /// only stops further splits of it.
    /// Requirements: caller an active operator; `minPieceAmount` > 0; `maxLivePieces` > 0.
    function setLimits(
        uint8 maxDepth,
        uint96 minPieceAmount,
        uint64 gracePeriod,
        uint16 maxLivePieces
    ) external {
        _registry.requireActive(msg.sender, Roles.OPERATOR);
        _setLimits(maxDepth, minPieceAmount, gracePeriod, maxLivePieces);
    }

    // ----------------------------------------------------------------------------------------
    // Views
    // ----------------------------------------------------------------------------------------

    /// @notice A root receivable (its id is also the id of its first piece).
    function rootOf(uint256 rootId) external view returns (Root memory) {
        return _roots[rootId];
    }

    /// @notice A piece.
    function pieceOf(uint256 pieceId) external view returns (Piece memory) {
        return _pieces[pieceId];
    }

    /// @notice An offer.
    function offerOf(uint256 offerId) external view returns (Offer memory) {
        return _offers[offerId];
    }

    /// @notice What a piece would receive if paid now (ignores freezes and due date).
    function owedTo(uint256 pieceId) external view returns (uint256) {
        Piece storage piece = _pieces[pieceId];
        if (piece.status != PieceStatus.Active) return 0;
        Root storage root = _roots[piece.rootId];
        return _entitlement(piece, root.repaid, root.faceValue) - piece.paidOut;
    }

    /// @notice Confirmed and not yet repaid, per debtor.
    function creditUsedOf(address debtor) external view returns (uint256) {
        return _creditUsed[debtor];
    }

    /// @notice The live root holding `invoiceKey`, or zero.
    function rootByInvoiceKey(bytes32 invoiceKey) external view returns (uint256) {
        return _rootByInvoiceKey[invoiceKey];
    }

    /// @notice The highest piece id and offer id issued so far (ids start at 1).
    function lastIds() external view returns (uint256 lastPieceId, uint256 lastOfferId) {
        return (_lastPieceId, _lastOfferId);
    }

    /// @notice The current limits.
    function limits() external view returns (Limits memory) {
        return Limits(_maxDepth, _minPieceAmount, _gracePeriod, _maxLivePieces);
    }

    /// @notice The registry this ledger asks about members.
    function registry() external view returns (IMemberRegistry) {
        return _registry;
    }

    /// @notice The settlement cash this ledger escrows and pays out.
    function token() external view returns (SettlementToken) {
        return _token;
    }

    // ----------------------------------------------------------------------------------------
    // Internals
    // ----------------------------------------------------------------------------------------

    function _createRoot(
        address debtor,
        address supplier,
        uint256 faceValue,
        uint64 dueDate,
        bytes32 invoiceHash,
        bytes32 invoiceKey
    ) private returns (uint256 rootId) {
        if (debtor == supplier) revert ReceivablesSelfDealing(debtor);
        uint96 minimum = _minPieceAmount;
        if (faceValue < minimum) revert ReceivablesAmountTooSmall(faceValue, minimum);
        if (faceValue > type(uint96).max) revert ReceivablesAmountTooLarge(faceValue);
        if (dueDate <= block.timestamp || dueDate > block.timestamp + MAX_TENOR) {
            revert ReceivablesInvalidDueDate(dueDate);
        }
        if (invoiceKey == bytes32(0)) revert ReceivablesZeroInvoiceKey();
        uint256 holding = _rootByInvoiceKey[invoiceKey];
        if (holding != 0) revert ReceivablesInvoiceKeyUsed(invoiceKey, holding);

        // Cannot overflow: one id per piece, 2^40 pieces are out of reach.
        uint40 id;
        unchecked {
            id = ++_lastPieceId;
        }
        rootId = id;
        _rootByInvoiceKey[invoiceKey] = rootId;
        Root storage root = _roots[rootId];
        root.debtor = debtor;
        root.dueDate = dueDate;
        root.status = RootStatus.Registered;
        root.supplier = supplier;
        root.head = id;
        root.faceValue = uint128(faceValue);
        root.livePieces = 1;
        root.invoiceHash = invoiceHash;
        root.invoiceKey = invoiceKey;
        _pieces[rootId] = Piece({
            holder: supplier,
            amount: uint96(faceValue),
            rootId: id,
            parentId: 0,
            next: 0,
            status: PieceStatus.Pending,
            depth: 0,
            frozen: false,
            paidOut: 0
        });
        emit ReceivableRegistered(
            rootId, supplier, debtor, faceValue, dueDate, invoiceHash, invoiceKey
        );
    }

    /// @dev Caller has checked both parties and the root's state.
    function _confirm(uint256 rootId, Root storage root, uint256 creditLimit) private {
        address debtor = root.debtor;
        uint256 faceValue = root.faceValue;
        uint256 used = _creditUsed[debtor];
        if (used + faceValue > creditLimit) {
            revert ReceivablesCreditLimitExceeded(debtor, creditLimit, used, faceValue);
        }
        root.status = RootStatus.Confirmed;
        _pieces[rootId].status = PieceStatus.Active;
        _creditUsed[debtor] = used + faceValue;
        address supplier = root.supplier;
        emit TransferSingle(msg.sender, address(0), supplier, rootId, faceValue);
        emit ReceivableConfirmed(rootId, debtor, used + faceValue);
        ERC1155Utils.checkOnERC1155Received(msg.sender, address(0), supplier, rootId, faceValue, "");
    }

    function _void(uint256 rootId, Root storage root, RootStatus status) private {
        root.status = status;
        root.livePieces = 0;
        _pieces[rootId].status = PieceStatus.Void;
        delete _rootByInvoiceKey[root.invoiceKey];
    }

    function _payPiece(uint256 pieceId, Piece storage piece, uint256 repaid, uint256 faceValue)
        private
        returns (uint256 owed)
    {
        uint256 paidOut = piece.paidOut;
        owed = _entitlement(piece, repaid, faceValue) - paidOut;
        if (owed == 0) return 0;
        // Cannot overflow: paidOut + owed is the entitlement, at most the piece's uint96 amount.
        unchecked {
            paidOut += owed;
        }
        piece.paidOut = uint96(paidOut);
        address holder = piece.holder;
        _token.transfer(holder, owed);
        emit PiecePaid(pieceId, piece.rootId, holder, owed, paidOut);
    }

    function _addPaidOut(uint256 rootId, Root storage root, uint256 amount, uint40 lastPaid)
        private
    {
        if (amount == 0) return;
        uint128 paidOut = root.paidOut + uint128(amount); // bounded by faceValue < 2^96
        root.paidOut = paidOut;
        root.lastPaid = lastPaid; // same slot as paidOut: no extra storage write
        if (paidOut == root.faceValue) {
            root.status = RootStatus.Settled;
            root.cursor = 0;
            emit ReceivableSettled(rootId);
        }
    }

    /// @dev A split replaces one live piece by `added + 1`: refused beyond the live-piece cap.
    function _addLivePieces(uint256 rootId, uint256 added) private {
        Root storage root = _roots[rootId];
        uint256 live;
        // Cannot overflow: livePieces is a uint16 and added < MAX_SPLIT_CHILDREN.
        unchecked {
            live = uint256(root.livePieces) + added;
        }
        uint16 cap = _maxLivePieces;
        if (live > cap) revert ReceivablesTooManyPieces(rootId, live, cap);
        root.livePieces = uint16(live); // live <= cap, a uint16
    }

    function _restartPass(Root storage root) private {
        RootStatus status = root.status;
        if (status == RootStatus.Confirmed || status == RootStatus.Overdue) root.cursor = root.head;
    }

    function _entitlement(Piece storage piece, uint256 repaid, uint256 faceValue)
        private
        view
        returns (uint256)
    {
        return Math.mulDiv(piece.amount, repaid, faceValue);
    }

    function _requireMovable(uint256 pieceId, Piece storage piece, Root storage root)
        private
        view
    {
        if (piece.status != PieceStatus.Active) revert ReceivablesPieceNotActive(pieceId);
        if (piece.frozen || root.frozen) revert ReceivablesPieceFrozen(pieceId);
        if (block.timestamp >= root.dueDate) revert ReceivablesPieceLocked(pieceId, root.dueDate);
    }

    function _requirePayable(uint256 rootId, Root storage root) private view {
        RootStatus status = root.status;
        if (status != RootStatus.Confirmed && status != RootStatus.Overdue) {
            _requireStatus(rootId, status, RootStatus.Confirmed);
        }
        if (block.timestamp < root.dueDate) revert ReceivablesNotDue(rootId, root.dueDate);
    }

    function _requireStatus(uint256 rootId, RootStatus status, RootStatus expected) private pure {
        if (status == RootStatus.None) revert ReceivablesUnknownRoot(rootId);
        if (status != expected) revert ReceivablesInvalidStatus(rootId, status);
    }

    function _requireOpenOffer(uint256 offerId) private view returns (Offer storage offer) {
        offer = _offers[offerId];
        if (offer.status == OfferStatus.None) revert ReceivablesUnknownOffer(offerId);
        if (offer.status != OfferStatus.Open) revert ReceivablesOfferNotOpen(offerId, offer.status);
    }

    function _requireRegulatorOnRoot(uint256 rootId) private view returns (Root storage root) {
        _registry.requireActive(msg.sender, Roles.REGULATOR);
        root = _roots[rootId];
        if (root.status == RootStatus.None) revert ReceivablesUnknownRoot(rootId);
    }

    function _requireRegulatorOnPiece(uint256 pieceId) private view returns (Piece storage piece) {
        _registry.requireActive(msg.sender, Roles.REGULATOR);
        piece = _pieces[pieceId];
        if (piece.status != PieceStatus.Active) revert ReceivablesPieceNotActive(pieceId);
    }

    function _setLimits(
        uint8 maxDepth,
        uint96 minPieceAmount,
        uint64 gracePeriod,
        uint16 maxLivePieces
    ) private {
        if (minPieceAmount == 0 || maxLivePieces == 0) revert ReceivablesInvalidLimits();
        _maxDepth = maxDepth;
        _minPieceAmount = minPieceAmount;
        _gracePeriod = gracePeriod;
        _maxLivePieces = maxLivePieces;
        emit LimitsChanged(maxDepth, minPieceAmount, gracePeriod, maxLivePieces);
    }
}
