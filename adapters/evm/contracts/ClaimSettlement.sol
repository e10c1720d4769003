// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ConsentMirror} from "./ConsentMirror.sol";
import {IPacketReceiver} from "./IPacketReceiver.sol";
import {Packet, PacketLib} from "./PacketLib.sol";
import {
    Claim,
    DisclosedElement,
    FxQuote,
    ISettlementGateway,
    ISettlementPayer,
    SettlementRequest
} from "./SettlementTypes.sol";
import {ClaimAdjudication, Policy} from "./lib/ClaimAdjudication.sol";
import {Anchor} from "./lib/MedrelayEip712.sol";
import {MultiProof} from "./lib/MultiProof.sol";
import {Owned} from "./lib/Owned.sol";
import {RecordChecks} from "./lib/RecordChecks.sol";

interface IApprove {
    function approve(address spender, uint256 amount) external returns (bool);
}

/// @notice Insurer-chain claims: CLAIM packets from trusted ClaimSubmitters are checked (consent + institution
///         signature as RecordProofStore, the disclosed Condition coding against the anchored disclosure root),
///         adjudicated against the policy exactly as proofs/settlement/policy.ts (lib/ClaimAdjudication.sol),
///         recorded, and answered with abi.encode(claimId, decision, payable). A payer then settles an approved or
///         partial claim once through the SettlementGateway (escrow → SETTLEMENT packet → paid or refunded).
/// @dev Input that cannot be decided reverts with a typed error (→ Inbox APP_ERROR, nothing recorded), in this
///      order: UnknownPolicy, ClaimInvalid, ClaimRefused, InvalidDisclosure, ClaimDuplicate. Decisions (including
///      gate rejections such as NOT_COVERED) are recorded and acknowledged with SUCCESS.
///      Coverage is the compiled form of policy.ts coverage (proofs/settlement/claims.ts `compilePolicy`): coding key
///      = keccak256(abi.encode(string system, string code)); `excluded` key → EXCLUDED; `covered` key → covered;
///      else the diagnosis system hash in `systems` → NOT_COVERED; else CODE_UNMAPPED. Each setPolicy writes its
///      lists under a new rules version, so replacing rules never walks the old lists.
contract ClaimSettlement is IPacketReceiver, ISettlementPayer, Owned {
    enum SettlementStatus {
        None,
        InFlight, // escrowed and sent through the gateway, fate not yet proven
        Paid, // final
        Refunded // may be settled again with a new uetr
    }

    /// @notice A decided claim (as `claim(claimId)` returns it).
    struct ClaimRecord {
        uint8 decision; // 1 Approved, 2 Partial, 3 Rejected (0 unknown)
        uint16 reasons; // bit i = policy.ts REASON_CODES[i]
        uint128 total;
        uint128 payableAmount;
        uint128 patientShare;
        bytes32 policyId;
        bytes32 patient;
        uint64 sourceChain;
        uint64 payoutChain;
        address payee;
        uint16 payoutCurrency;
        SettlementStatus settlement;
        bytes16 uetr; // of the current / last settlement attempt
        uint16 currency; // the claim's currency (= the policy's for a payable claim): what settleClaim escrows
    }

    /// @notice Policy year state.
    struct PolicyState {
        uint128 deductibleUsed;
        uint128 paidThisYear;
    }

    /// Storage form of a claim (5 slots; patientShare = total − payable).
    struct StoredClaim {
        uint128 total;
        uint128 payableAmount;
        bytes32 policyId;
        bytes32 patient;
        address payee;
        uint64 sourceChain;
        uint8 decision;
        SettlementStatus settlement;
        uint16 reasons;
        uint64 payoutChain;
        uint16 payoutCurrency;
        bytes16 uetr;
        uint16 currency;
    }

    /// Storage form of a policy (4 slots).
    struct StoredPolicy {
        bytes32 insured;
        uint16 currency; // 0 = no such policy
        uint64 validFrom;
        uint64 validUntil;
        uint16 coPayBasisPoints;
        uint32 rulesVersion;
        uint128 perClaimLimit;
        uint128 deductible;
        uint128 annualCap;
    }

    uint256 public constant MAX_CLAIM_ITEMS = 64;
    /// ClaimInvalid reasons.
    uint8 public constant INVALID_PATIENT_NOT_ANCHOR = 1; // claim.patient ≠ anchor.patient
    uint8 public constant INVALID_PATIENT_NOT_INSURED = 2; // claim.patient ≠ policy.insured
    uint8 public constant INVALID_RECORD = 3; // claim.recordId ≠ anchor.recordId
    uint8 public constant INVALID_NO_ITEMS = 4;
    uint8 public constant INVALID_TOO_MANY_ITEMS = 5; // > MAX_CLAIM_ITEMS
    uint8 public constant INVALID_CURRENCY = 6; // claim currency not 156/344/446
    uint8 public constant INVALID_PAYOUT_CURRENCY = 7; // payout currency not 156/344/446
    uint8 public constant INVALID_PAYEE = 8; // payee 0
    uint8 public constant INVALID_PAYOUT_CHAIN = 9; // payoutChain 0
    uint8 public constant INVALID_AMOUNT_OVERFLOW = 10; // item sum above 2^128 − 1

    uint8 private constant CODE_COVERED = 1;
    uint8 private constant CODE_EXCLUDED = 2;
    uint8 private constant SYSTEM_LISTED = 4;
    /// ISO 20022 ExternalPurpose1Code "MDCS" (medical services).
    bytes4 private constant PURPOSE_MEDICAL = "MDCS";

    address public immutable inbox;
    ConsentMirror public immutable consentMirror;
    /// @notice keccak256 of the insurer's FHIR reference: the recipient the patient's consent must name.
    bytes32 public immutable recipientRef;
    ISettlementGateway public immutable gateway;

    mapping(uint64 sourceChain => address) public trustedSender;
    mapping(address => bool) public isPayer;
    mapping(bytes32 policyId => StoredPolicy) private _policies;
    mapping(bytes32 policyId => PolicyState) private _states;
    /// Flags of coding keys (covered / excluded) and system hashes (listed), per policy and rules version.
    mapping(bytes32 policyId => mapping(uint32 version => mapping(bytes32 key => uint8))) private _codes;
    mapping(bytes32 claimId => StoredClaim) private _claims;
    mapping(bytes16 uetr => bytes32 claimId) public claimOfUetr;

    error NotInbox(address caller);
    error NotGateway(address caller);
    error NotPayer(address caller);
    error UntrustedSender(uint64 sourceChain, address sender);
    error UnexpectedKind(uint8 kind);
    error UnknownPolicy(bytes32 policyId);
    /// reason: INVALID_* constants.
    error ClaimInvalid(bytes32 claimId, uint8 reason);
    /// reason: RecordChecks.Refusal (1 unknown consent … 8 bad institution signature).
    error ClaimRefused(bytes32 claimId, RecordChecks.Refusal reason);
    error InvalidDisclosure(bytes32 claimId);
    error ClaimDuplicate(bytes32 claimId);
    error PolicyInsuredZero(bytes32 policyId);
    error PolicyCurrencyUnsupported(bytes32 policyId, uint16 currency);
    error PolicyPeriodInvalid(bytes32 policyId, uint64 validFrom, uint64 validUntil);
    error PolicyCoPayInvalid(bytes32 policyId, uint16 coPayBasisPoints);
    error PolicyNoCoveredCodes(bytes32 policyId);
    /// A policy's currency is fixed once set: its year state is kept in it.
    error PolicyCurrencyFixed(bytes32 policyId, uint16 currency);
    error NotPayable(bytes32 claimId);
    error AlreadySettling(bytes32 claimId, bytes16 uetr);
    error AlreadyPaid(bytes32 claimId);
    error InvalidUetr(bytes16 uetr);
    error NoDepositToken(uint16 currency);
    error ApproveFailed(address token);
    error UnknownSettlement(bytes16 uetr);

    event TrustedSenderSet(uint64 indexed sourceChain, address sender);
    event PayerSet(address indexed payer, bool allowed);
    event PolicySet(bytes32 indexed policyId, bytes32 indexed insured, uint32 rulesVersion);
    event ClaimAdjudicated(
        bytes32 indexed claimId,
        bytes32 indexed policyId,
        uint8 decision,
        uint16 reasons,
        uint128 total,
        uint128 payableAmount,
        uint128 patientShare
    );
    event ClaimSettlementSent(bytes32 indexed claimId, bytes16 indexed uetr, bytes32 packetId);
    event ClaimPaid(bytes32 indexed claimId, bytes16 indexed uetr, bytes result);
    event ClaimSettlementRefunded(bytes32 indexed claimId, bytes16 indexed uetr, bytes result);

    constructor(address inbox_, ConsentMirror consentMirror_, bytes32 recipientRef_, ISettlementGateway gateway_) {
        inbox = inbox_;
        consentMirror = consentMirror_;
        recipientRef = recipientRef_;
        gateway = gateway_;
    }

    // ------------------------------------------------------------------ admin (owner)

    /// @notice The ClaimSubmitter trusted on `sourceChain` (0 removes).
    function setTrustedSender(uint64 sourceChain, address claimSubmitter) external onlyOwner {
        trustedSender[sourceChain] = claimSubmitter;
        emit TrustedSenderSet(sourceChain, claimSubmitter);
    }

    /// @notice Allows / disallows an insurer payment account to settle claims.
    function setPayer(address payer, bool allowed) external onlyOwner {
        isPayer[payer] = allowed;
        emit PayerSet(payer, allowed);
    }

    /// @notice Creates policy `policyId` or replaces its rules (terms and code lists); the policy year state
    ///         (deductibleUsed, paidThisYear) of an existing policy is kept.
    /// @param covered coding keys keccak256(abi.encode(system, code)) the policy covers (expanded off chain)
    /// @param excluded coding keys it excludes (an exclusion wins)
    /// @param systems keccak256(bytes(system)) of the code systems the two lists are complete for
    function setPolicy(
        bytes32 policyId,
        Policy calldata p,
        bytes32[] calldata covered,
        bytes32[] calldata excluded,
        bytes32[] calldata systems
    ) external onlyOwner {
        if (p.insured == bytes32(0)) revert PolicyInsuredZero(policyId);
        if (!ClaimAdjudication.isSupportedCurrency(p.currency)) revert PolicyCurrencyUnsupported(policyId, p.currency);
        if (p.validUntil <= p.validFrom) revert PolicyPeriodInvalid(policyId, p.validFrom, p.validUntil);
        if (p.coPayBasisPoints > ClaimAdjudication.BASIS_POINTS) {
            revert PolicyCoPayInvalid(policyId, p.coPayBasisPoints);
        }
        if (covered.length == 0) revert PolicyNoCoveredCodes(policyId);
        StoredPolicy storage s = _policies[policyId];
        if (s.currency != 0 && s.currency != p.currency) revert PolicyCurrencyFixed(policyId, s.currency);
        uint32 version = s.rulesVersion + 1;
        s.insured = p.insured;
        s.currency = p.currency;
        s.validFrom = p.validFrom;
        s.validUntil = p.validUntil;
        s.coPayBasisPoints = p.coPayBasisPoints;
        s.rulesVersion = version;
        s.perClaimLimit = p.perClaimLimit;
        s.deductible = p.deductible;
        s.annualCap = p.annualCap;
        mapping(bytes32 => uint8) storage codes = _codes[policyId][version];
        for (uint256 i; i < covered.length; ++i) {
            codes[covered[i]] |= CODE_COVERED;
        }
        for (uint256 i; i < excluded.length; ++i) {
            codes[excluded[i]] |= CODE_EXCLUDED;
        }
        for (uint256 i; i < systems.length; ++i) {
            codes[systems[i]] |= SYSTEM_LISTED;
        }
        emit PolicySet(policyId, p.insured, version);
    }

    // ------------------------------------------------------------------ claims (Inbox)

    /// @inheritdoc IPacketReceiver
    /// @return result abi.encode(bytes32 claimId, uint8 decision, uint128 payableAmount)
    function onRecvPacket(Packet calldata packet) external returns (bytes memory result) {
        if (msg.sender != inbox) revert NotInbox(msg.sender);
        if (packet.kind != PacketLib.KIND_CLAIM) revert UnexpectedKind(packet.kind);
        address trusted = trustedSender[packet.sourceChain];
        if (trusted == address(0) || packet.sender != trusted) revert UntrustedSender(packet.sourceChain, packet.sender);
        (
            Claim memory c,
            Anchor memory a,
            bytes memory signature,
            DisclosedElement[] memory elements,
            bytes32[] memory proof,
            bool[] memory proofFlags
        ) = abi.decode(packet.payload, (Claim, Anchor, bytes, DisclosedElement[], bytes32[], bool[]));
        bytes32 claimId = c.claimId;

        StoredPolicy storage sp = _policies[c.policyId];
        Policy memory p = _load(sp, c.policyId);
        uint128 total = _checkClaim(c, a, p.insured);

        RecordChecks.Refusal refusal = RecordChecks.check(
            consentMirror, recipientRef, packet.sourceChain, a, c.consentId, signature, uint64(block.timestamp)
        );
        if (refusal != RecordChecks.Refusal.None) revert ClaimRefused(claimId, refusal);

        (bytes32 codingKey, bytes32 systemHash) =
            _disclosedCoding(claimId, c.codingPath, a.disclosureRoot, elements, proof, proofFlags);

        StoredClaim storage rec = _claims[claimId];
        if (rec.decision != 0 && !ClaimAdjudication.isGateRejection(rec.reasons)) revert ClaimDuplicate(claimId);

        PolicyState memory st = _states[c.policyId];
        ClaimAdjudication.Outcome memory o = ClaimAdjudication.adjudicate(
            p,
            ClaimAdjudication.Input({
                serviceDate: c.serviceDate,
                now: uint64(block.timestamp),
                currency: c.currency,
                total: total,
                duplicate: false,
                coverage: _coverage(c.policyId, sp.rulesVersion, codingKey, systemHash),
                deductibleUsed: st.deductibleUsed,
                paidThisYear: st.paidThisYear
            })
        );
        if (o.settled && (o.deductiblePart | o.payableAmount) != 0) {
            _states[c.policyId] =
                PolicyState(st.deductibleUsed + o.deductiblePart, st.paidThisYear + o.payableAmount);
        }
        _claims[claimId] = StoredClaim({
            total: total,
            payableAmount: o.payableAmount,
            policyId: c.policyId,
            patient: c.patient,
            payee: c.payee,
            sourceChain: packet.sourceChain,
            decision: o.decision,
            settlement: SettlementStatus.None,
            reasons: o.reasons,
            payoutChain: c.payoutChain,
            payoutCurrency: c.payoutCurrency,
            uetr: bytes16(0),
            currency: c.currency
        });
        emit ClaimAdjudicated(claimId, c.policyId, o.decision, o.reasons, total, o.payableAmount, o.patientShare);
        return abi.encode(claimId, o.decision, o.payableAmount);
    }

    /// @notice The adjudication a claim would get now under the current policy rules and year state (policy.ts
    ///         `adjudicate` with `now` = `asOf`, or block.timestamp when `asOf` is 0). No consent, signature or
    ///         disclosure check; `duplicate` stands for "the claim id is already settled" (CLAIM_DUPLICATE gate).
    /// @param codingKey keccak256(abi.encode(string system, string code)) of the diagnosis
    /// @param systemHash keccak256(bytes(system)) of the diagnosis
    function previewAdjudication(
        bytes32 policyId,
        uint64 serviceDate,
        uint16 currency,
        bytes32 codingKey,
        bytes32 systemHash,
        uint128[] calldata amounts,
        bool duplicate,
        uint64 asOf
    )
        external
        view
        returns (uint8 decision, uint16 reasons, uint128 total, uint128 payableAmount, uint128 patientShare)
    {
        StoredPolicy storage sp = _policies[policyId];
        Policy memory p = _load(sp, policyId);
        uint256 n = amounts.length;
        if (n == 0) revert ClaimInvalid(bytes32(0), INVALID_NO_ITEMS);
        if (n > MAX_CLAIM_ITEMS) revert ClaimInvalid(bytes32(0), INVALID_TOO_MANY_ITEMS);
        if (!ClaimAdjudication.isSupportedCurrency(currency)) revert ClaimInvalid(bytes32(0), INVALID_CURRENCY);
        uint256 sum;
        for (uint256 i; i < n; ++i) {
            sum += amounts[i];
        }
        if (sum > type(uint128).max) revert ClaimInvalid(bytes32(0), INVALID_AMOUNT_OVERFLOW);
        PolicyState memory st = _states[policyId];
        ClaimAdjudication.Outcome memory o = ClaimAdjudication.adjudicate(
            p,
            ClaimAdjudication.Input({
                serviceDate: serviceDate,
                now: asOf == 0 ? uint64(block.timestamp) : asOf,
                currency: currency,
                total: uint128(sum),
                duplicate: duplicate,
                coverage: _coverage(policyId, sp.rulesVersion, codingKey, systemHash),
                deductibleUsed: st.deductibleUsed,
                paidThisYear: st.paidThisYear
            })
        );
        return (o.decision, o.reasons, uint128(sum), o.payableAmount, o.patientShare);
    }

    // ------------------------------------------------------------------ settlement (payers, gateway)

    /// @notice Pays an approved or partial claim's payable to its payee on its payout chain through the gateway:
    ///         escrows `payable` of the policy currency's deposit token from this contract's reserve. Allowed once,
    ///         or again (with a new uetr and quote) only after a proven refund.
    function settleClaim(
        bytes32 claimId,
        bytes16 uetr,
        FxQuote calldata quote,
        bytes calldata quoteSignature,
        uint64 timeoutTimestamp
    ) external returns (bytes32 packetId) {
        if (!isPayer[msg.sender]) revert NotPayer(msg.sender);
        StoredClaim storage rec = _claims[claimId];
        uint128 amount = rec.payableAmount;
        if (amount == 0) revert NotPayable(claimId);
        SettlementStatus s = rec.settlement;
        if (s == SettlementStatus.InFlight) revert AlreadySettling(claimId, rec.uetr);
        if (s == SettlementStatus.Paid) revert AlreadyPaid(claimId);
        if (uetr == bytes16(0) || claimOfUetr[uetr] != bytes32(0)) revert InvalidUetr(uetr);
        uint16 currency = rec.currency;
        // Effects before any external call.
        rec.settlement = SettlementStatus.InFlight;
        rec.uetr = uetr;
        claimOfUetr[uetr] = claimId;
        address token = gateway.tokenOf(currency);
        if (token == address(0)) revert NoDepositToken(currency);
        if (!IApprove(token).approve(address(gateway), amount)) revert ApproveFailed(token);
        // Positional: `reference` is a reserved word in Solidity and cannot be used as a named argument.
        packetId = gateway.send(
            SettlementRequest(
                rec.payoutChain, // destChain
                uetr,
                claimId, // reference
                rec.payee, // creditor
                currency, // sourceCurrency
                amount, // sourceAmount
                rec.payoutCurrency, // targetCurrency
                0, // chargeBearer DEBT
                PURPOSE_MEDICAL,
                timeoutTimestamp,
                quote,
                quoteSignature
            )
        );
        emit ClaimSettlementSent(claimId, uetr, packetId);
    }

    /// @inheritdoc ISettlementPayer
    function onSettlementOutcome(bytes16 uetr, bool released, bytes calldata result) external {
        if (msg.sender != address(gateway)) revert NotGateway(msg.sender);
        bytes32 claimId = claimOfUetr[uetr];
        StoredClaim storage rec = _claims[claimId];
        if (claimId == bytes32(0) || rec.uetr != uetr || rec.settlement != SettlementStatus.InFlight) {
            revert UnknownSettlement(uetr);
        }
        if (released) {
            rec.settlement = SettlementStatus.Paid;
            emit ClaimPaid(claimId, uetr, result);
        } else {
            rec.settlement = SettlementStatus.Refunded;
            emit ClaimSettlementRefunded(claimId, uetr, result);
        }
    }

    // ------------------------------------------------------------------ views

    /// @notice Claim `claimId` as decided here (decision 0 if unknown).
    function claim(bytes32 claimId) external view returns (ClaimRecord memory r) {
        StoredClaim storage s = _claims[claimId];
        r.decision = s.decision;
        r.reasons = s.reasons;
        r.total = s.total;
        r.payableAmount = s.payableAmount;
        r.patientShare = s.total - s.payableAmount;
        r.policyId = s.policyId;
        r.patient = s.patient;
        r.sourceChain = s.sourceChain;
        r.payoutChain = s.payoutChain;
        r.payee = s.payee;
        r.payoutCurrency = s.payoutCurrency;
        r.settlement = s.settlement;
        r.uetr = s.uetr;
        r.currency = s.currency;
    }

    /// @notice Terms of policy `policyId` (currency 0 if unknown).
    function policy(bytes32 policyId) external view returns (Policy memory) {
        return _terms(_policies[policyId]);
    }

    /// @notice Policy year state of `policyId`.
    function policyState(bytes32 policyId) external view returns (PolicyState memory) {
        return _states[policyId];
    }

    /// @notice How the current rules of `policyId` classify a diagnosis: 0 covered, 1 excluded, 2 not covered,
    ///         3 unmapped (ClaimAdjudication.Coverage).
    function coverageOf(bytes32 policyId, bytes32 codingKey, bytes32 systemHash)
        external
        view
        returns (ClaimAdjudication.Coverage)
    {
        return _coverage(policyId, _policies[policyId].rulesVersion, codingKey, systemHash);
    }

    // ------------------------------------------------------------------ internals

    function _load(StoredPolicy storage s, bytes32 policyId) private view returns (Policy memory) {
        if (s.currency == 0) revert UnknownPolicy(policyId);
        return _terms(s);
    }

    function _terms(StoredPolicy storage s) private view returns (Policy memory) {
        return Policy(
            s.insured,
            s.currency,
            s.validFrom,
            s.validUntil,
            s.perClaimLimit,
            s.deductible,
            s.annualCap,
            s.coPayBasisPoints
        );
    }

    /// Step 0 (input checks); returns the item total.
    function _checkClaim(Claim memory c, Anchor memory a, bytes32 insured) private pure returns (uint128) {
        bytes32 id = c.claimId;
        if (c.patient != a.patient) revert ClaimInvalid(id, INVALID_PATIENT_NOT_ANCHOR);
        if (c.patient != insured) revert ClaimInvalid(id, INVALID_PATIENT_NOT_INSURED);
        if (c.recordId != a.recordId) revert ClaimInvalid(id, INVALID_RECORD);
        uint256 n = c.items.length;
        if (n == 0) revert ClaimInvalid(id, INVALID_NO_ITEMS);
        if (n > MAX_CLAIM_ITEMS) revert ClaimInvalid(id, INVALID_TOO_MANY_ITEMS);
        if (!ClaimAdjudication.isSupportedCurrency(c.currency)) revert ClaimInvalid(id, INVALID_CURRENCY);
        if (!ClaimAdjudication.isSupportedCurrency(c.payoutCurrency)) revert ClaimInvalid(id, INVALID_PAYOUT_CURRENCY);
        if (c.payee == address(0)) revert ClaimInvalid(id, INVALID_PAYEE);
        if (c.payoutChain == 0) revert ClaimInvalid(id, INVALID_PAYOUT_CHAIN);
        uint256 sum;
        for (uint256 i; i < n; ++i) {
            sum += c.items[i].amount;
        }
        if (sum > type(uint128).max) revert ClaimInvalid(id, INVALID_AMOUNT_OVERFLOW);
        return uint128(sum);
    }

    function _coverage(bytes32 policyId, uint32 version, bytes32 codingKey, bytes32 systemHash)
        private
        view
        returns (ClaimAdjudication.Coverage)
    {
        mapping(bytes32 => uint8) storage codes = _codes[policyId][version];
        uint8 f = codes[codingKey];
        if (f & CODE_EXCLUDED != 0) return ClaimAdjudication.Coverage.Excluded;
        if (f & CODE_COVERED != 0) return ClaimAdjudication.Coverage.Covered;
        if (codes[systemHash] & SYSTEM_LISTED != 0) return ClaimAdjudication.Coverage.NotCovered;
        return ClaimAdjudication.Coverage.Unmapped;
    }

    /// Verifies the disclosure (exactly `<codingPath>.system` and `<codingPath>.code`, JSON-string values, under the
    /// anchored root, codingPath a Condition coding) and returns the diagnosis coding key and system hash.
    function _disclosedCoding(
        bytes32 claimId,
        string memory codingPath,
        bytes32 root,
        DisclosedElement[] memory elements,
        bytes32[] memory proof,
        bool[] memory proofFlags
    ) private pure returns (bytes32 codingKey, bytes32 systemHash) {
        if (elements.length != 2 || !_isConditionCoding(bytes(codingPath))) revert InvalidDisclosure(claimId);
        bytes32 systemPath = keccak256(bytes.concat(bytes(codingPath), ".system"));
        bytes32 codePath = keccak256(bytes.concat(bytes(codingPath), ".code"));
        bytes32[] memory leaves = new bytes32[](2);
        string memory system;
        string memory code;
        bool ok;
        for (uint256 i; i < 2; ++i) {
            DisclosedElement memory e = elements[i];
            leaves[i] = keccak256(abi.encode(e.salt, e.path, e.value));
            bytes32 ph = keccak256(bytes(e.path));
            if (ph == systemPath && bytes(system).length == 0) {
                (ok, system) = _unquote(e.value);
            } else if (ph == codePath && bytes(code).length == 0) {
                (ok, code) = _unquote(e.value);
            } else {
                ok = false;
            }
            if (!ok) revert InvalidDisclosure(claimId);
        }
        (bool valid, bytes32 computed) = MultiProof.tryProcessMultiProof(proof, proofFlags, leaves);
        if (!valid || computed != root) revert InvalidDisclosure(claimId);
        codingKey = keccak256(abi.encode(system, code));
        systemHash = keccak256(bytes(system));
    }

    /// The text of a non-empty JSON string value without escapes: `"…"` with no backslash, quote or control
    /// character inside.
    function _unquote(string memory value) private pure returns (bool ok, string memory inner) {
        bytes memory v = bytes(value);
        uint256 n = v.length;
        if (n < 3 || v[0] != '"' || v[n - 1] != '"') return (false, "");
        bytes memory out = new bytes(n - 2);
        for (uint256 i = 1; i < n - 1; ++i) {
            bytes1 ch = v[i];
            if (ch == "\\" || ch == '"' || uint8(ch) < 0x20) return (false, "");
            out[i - 1] = ch;
        }
        return (true, string(out));
    }

    /// Whether `p` ends with `Condition.code.coding[<digits>]` preceded by nothing or '.' (no leading zeros).
    function _isConditionCoding(bytes memory p) private pure returns (bool) {
        bytes memory stem = "Condition.code.coding[";
        uint256 n = p.length;
        if (n < stem.length + 2 || p[n - 1] != "]") return false;
        uint256 i = n - 1; // index of ']'
        uint256 digitsEnd = i;
        while (i > 0 && p[i - 1] >= "0" && p[i - 1] <= "9") --i;
        uint256 digits = digitsEnd - i;
        if (digits == 0 || (digits > 1 && p[i] == "0")) return false;
        if (i < stem.length) return false;
        uint256 start = i - stem.length;
        for (uint256 k; k < stem.length; ++k) {
            if (p[start + k] != stem[k]) return false;
        }
        return start == 0 || p[start - 1] == ".";
    }
}
