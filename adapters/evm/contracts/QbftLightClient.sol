// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ILightClient} from "./ILightClient.sol";
import {QbftHeader} from "./lib/QbftHeader.sol";

/// @notice Light client of a Besu QBFT chain: a header is final once ⌈2n/3⌉ distinct validators of the trusted set
///         sealed it. Stores the state root, receipts root and timestamp of every accepted header.
/// @dev The trusted set always comes from contract state (constructor or an earlier accepted header), never from the
///      header under test: a header listing a different set is checked against the current set, and only then
///      does its list become the set for later headers.
contract QbftLightClient is ILightClient {
    error StaleHeader(uint64 number, uint64 latestNumber);
    error NotValidator(address signer);
    error DuplicateSeal(address signer);
    error BelowQuorum(uint256 signers, uint256 quorum);
    error EmptyValidatorSet();
    error TooManyValidators(uint256 count);
    error DuplicateValidator(address validator);
    /// The header lists a validator set other than the current one: only `updateHeader` may accept it (it stores
    /// the header and rotates the set), the stateless `verifyHeader` refuses it.
    error ValidatorSetChange(uint64 number);
    /// The header is not above the header that installed the current set (that set signs only later headers).
    error BeforeValidatorSet(uint64 number, uint64 validatorsSince);

    event HeaderUpdated(uint64 number, bytes32 blockHash, bytes32 stateRoot);
    event ValidatorSetChanged(uint256 epoch, address[] validators);

    struct Consensus {
        bytes32 stateRoot;
        bytes32 receiptsRoot;
        uint64 timestamp;
    }

    /// @notice Chain id of the remote chain this client follows.
    uint64 public immutable remoteChainId;
    /// @notice Highest accepted header number.
    uint64 public latestNumber;
    /// @notice Number of validator-set changes so far (0 = constructor set).
    uint64 public epoch;
    /// @notice Number of the header that installed the current set (0 = constructor set): the set seals only
    ///         headers above it. Shares a slot with `latestNumber` and `epoch`.
    uint64 public validatorsSince;
    /// @notice keccak256(abi.encodePacked(address[] validators)) of the current set; lets a header that lists the
    ///         current set be checked against its own (calldata) list instead of n storage reads.
    bytes32 public validatorSetHash;
    address[] private _validators;
    mapping(uint64 number => Consensus) private _consensus;

    /// @param remoteChainId_ chain id of the followed chain
    /// @param validators_ trusted initial validator set (at most 256, distinct)
    constructor(uint64 remoteChainId_, address[] memory validators_) {
        remoteChainId = remoteChainId_;
        _setValidators(validators_);
    }

    /// @notice Verifies a sealed QBFT header and stores its roots. Anyone may call: the seals are the authority.
    /// @param headerRlp RLP of the header exactly as sealed (extraData with round and commit seals)
    /// @return number the header number
    /// @return root the header's state root
    function updateHeader(bytes calldata headerRlp) external returns (uint64 number, bytes32 root) {
        QbftHeader.Header memory h = QbftHeader.parse(headerRlp);
        number = h.number;
        uint64 latest = latestNumber;
        if (number <= latest) revert StaleHeader(number, latest);

        address[] memory listed = QbftHeader.validators(headerRlp, h);
        bytes32 listedHash = keccak256(abi.encodePacked(listed));
        bytes32 trustedHash = validatorSetHash;
        address[] memory trusted = listedHash == trustedHash ? listed : _validators;
        bytes32 digest = QbftHeader.sealDigest(headerRlp, h);
        _checkQuorum(trusted, QbftHeader.recoverSeals(headerRlp, h, digest));

        root = h.stateRoot;
        _consensus[number] = Consensus(root, h.receiptsRoot, h.timestamp);
        latestNumber = number;
        emit HeaderUpdated(number, QbftHeader.blockHash(headerRlp, h), root);
        // The current set sealed a header naming a new set: that set signs from the next header on.
        if (listedHash != trustedHash) {
            _setValidators(listed);
            validatorsSince = number;
        }
    }

    /// @notice Stateless check of a sealed QBFT header: the same seal and quorum rules as `updateHeader`, against
    ///         the current set, but nothing is stored (for a consumer that uses the roots within one transaction,
    ///         e.g. `Inbox.updateAndReceive`). A header listing another set must go through `updateHeader`
    ///         (`ValidatorSetChange`), and only headers above the one that installed the current set are accepted.
    ///         There is no `latestNumber` rule: nothing is overwritten, and any header the current set finalized
    ///         in its own era is as final as the latest one.
    function verifyHeader(bytes calldata headerRlp)
        external
        view
        returns (uint64 number, bytes32 stateRoot_, bytes32 receiptsRoot_, uint64 timestamp_)
    {
        QbftHeader.Header memory h = QbftHeader.parse(headerRlp);
        number = h.number;
        address[] memory listed = QbftHeader.validators(headerRlp, h);
        if (keccak256(abi.encodePacked(listed)) != validatorSetHash) revert ValidatorSetChange(number);
        uint64 since = validatorsSince;
        if (number <= since) revert BeforeValidatorSet(number, since);
        _checkQuorum(listed, QbftHeader.recoverSeals(headerRlp, h, QbftHeader.sealDigest(headerRlp, h)));
        return (number, h.stateRoot, h.receiptsRoot, h.timestamp);
    }

    /// @inheritdoc ILightClient
    function stateRoot(uint64 number) external view returns (bytes32) {
        return _consensus[number].stateRoot;
    }

    /// @notice Receipts root of verified header `number` (0 if unknown).
    function receiptsRoot(uint64 number) external view returns (bytes32) {
        return _consensus[number].receiptsRoot;
    }

    /// @inheritdoc ILightClient
    function timestamp(uint64 number) external view returns (uint64) {
        return _consensus[number].timestamp;
    }

    /// @notice The current trusted validator set.
    function validators() external view returns (address[] memory) {
        return _validators;
    }

    /// @notice Seals required for finality with the current set: ⌈2n/3⌉ (Besu `calculateRequiredValidatorQuorum`).
    function quorum() public view returns (uint256) {
        return (_validators.length * 2 + 2) / 3;
    }

    /// @dev Every seal must come from a distinct member of `trusted`, and there must be ⌈2n/3⌉ of them. Extra
    ///      valid seals are fine; a seal from anyone else fails the header (Besu rejects such headers too).
    function _checkQuorum(address[] memory trusted, address[] memory signers) private pure {
        uint256 seen; // bitmap over validator indexes (sets are capped at 256)
        uint256 n = trusted.length;
        for (uint256 i; i < signers.length; ++i) {
            address s = signers[i];
            uint256 j;
            while (j < n && trusted[j] != s) ++j;
            if (j == n) revert NotValidator(s);
            if (seen & (1 << j) != 0) revert DuplicateSeal(s);
            seen |= 1 << j;
        }
        uint256 need = (n * 2 + 2) / 3;
        if (signers.length < need) revert BelowQuorum(signers.length, need);
    }

    function _setValidators(address[] memory set) private {
        uint256 n = set.length;
        if (n == 0) revert EmptyValidatorSet();
        if (n > 256) revert TooManyValidators(n);
        // Distinct members, or one key could count twice toward the quorum.
        for (uint256 i; i < n; ++i) {
            for (uint256 j; j < i; ++j) if (set[i] == set[j]) revert DuplicateValidator(set[i]);
        }
        _validators = set;
        validatorSetHash = keccak256(abi.encodePacked(set));
        // The constructor set is epoch 0; every later change bumps the epoch.
        uint64 e = address(this).code.length == 0 ? 0 : epoch + 1;
        epoch = e;
        emit ValidatorSetChanged(e, set);
    }
}
