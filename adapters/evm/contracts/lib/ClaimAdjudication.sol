// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @notice An insurance policy as ClaimSettlement stores it (amounts in minor units of `currency`).
struct Policy {
    bytes32 insured; // patient pseudonym: must equal Claim.patient and the anchor's patient
    uint16 currency; // ISO 4217 numeric: 156 CNY, 344 HKD, 446 MOP
    uint64 validFrom; // unix seconds, inclusive
    uint64 validUntil; // unix seconds, exclusive (the policy year)
    uint128 perClaimLimit;
    uint128 deductible; // per policy year
    uint128 annualCap; // most the insurer pays per policy year
    uint16 coPayBasisPoints; // patient's share after the deductible, 0..10000
}

/// @notice Claim adjudication, the Solidity twin of proofs/settlement/policy.ts `adjudicate` (steps 1–10): the same
///         inputs give the same decision, payable, patient share and reasons.
/// @dev Reasons are a uint16 bitmask, bit i = policy.ts REASON_CODES[i]:
///        0 SERVICE_DATE_IN_FUTURE, 1 POLICY_NOT_YET_VALID, 2 POLICY_EXPIRED, 3 CLAIM_DUPLICATE, 4 CURRENCY_MISMATCH,
///        5 CODE_UNMAPPED, 6 NOT_COVERED, 7 EXCLUDED (gates, bits 0–7: exactly one is set on a gate rejection),
///        8 ZERO_TOTAL, 9 DEDUCTIBLE_APPLIED, 10 COPAY_APPLIED, 11 PER_CLAIM_LIMIT, 12 ANNUAL_CAP (amounts).
///      Decisions: 1 Approved, 2 Partial, 3 Rejected (0 = none / unknown claim).
///      Coverage is decided by the caller from the compiled policy (coding-key lists, see ClaimSettlement) and
///      passed in as a `Coverage` class; it is judged at steps 4/5 of policy.ts (after dates, duplicate, currency).
library ClaimAdjudication {
    uint8 internal constant APPROVED = 1;
    uint8 internal constant PARTIAL = 2;
    uint8 internal constant REJECTED = 3;

    uint16 internal constant SERVICE_DATE_IN_FUTURE = 1 << 0;
    uint16 internal constant POLICY_NOT_YET_VALID = 1 << 1;
    uint16 internal constant POLICY_EXPIRED = 1 << 2;
    uint16 internal constant CLAIM_DUPLICATE = 1 << 3;
    uint16 internal constant CURRENCY_MISMATCH = 1 << 4;
    uint16 internal constant CODE_UNMAPPED = 1 << 5;
    uint16 internal constant NOT_COVERED = 1 << 6;
    uint16 internal constant EXCLUDED = 1 << 7;
    uint16 internal constant ZERO_TOTAL = 1 << 8;
    uint16 internal constant DEDUCTIBLE_APPLIED = 1 << 9;
    uint16 internal constant COPAY_APPLIED = 1 << 10;
    uint16 internal constant PER_CLAIM_LIMIT = 1 << 11;
    uint16 internal constant ANNUAL_CAP = 1 << 12;
    /// The gate reasons (steps 1–5): a decision carrying one of them left the policy year state unchanged.
    uint16 internal constant GATE_MASK = 0xff;

    uint256 internal constant BASIS_POINTS = 10_000;

    /// How the diagnosis relates to the policy's compiled code lists.
    enum Coverage {
        Covered,
        Excluded, // EXCLUDED
        NotCovered, // NOT_COVERED: its system's lists are complete and it is in neither
        Unmapped // CODE_UNMAPPED: in neither list, and the lists say nothing about its system
    }

    struct Input {
        uint64 serviceDate;
        uint64 now;
        uint16 currency; // the claim's (every item's) currency
        uint128 total; // sum of the items (the caller checks it fits)
        bool duplicate; // the claim id is already settled
        Coverage coverage;
        uint128 deductibleUsed; // policy year state
        uint128 paidThisYear;
    }

    struct Outcome {
        uint8 decision;
        uint16 reasons;
        uint128 payableAmount;
        uint128 patientShare; // total − payable
        uint128 deductiblePart; // what this claim adds to deductibleUsed (0 for a gate rejection)
        bool settled; // passed the gates: the year state grows by deductiblePart / payable
    }

    /// @notice policy.ts `adjudicate` steps 1–10 (the caller has done step 0, input checks).
    function adjudicate(Policy memory p, Input memory x) internal pure returns (Outcome memory o) {
        // 1–5. Gates: the first that fails rejects with that single reason, payable 0, state unchanged.
        uint16 gate;
        if (x.serviceDate > x.now) gate = SERVICE_DATE_IN_FUTURE;
        else if (x.serviceDate < p.validFrom) gate = POLICY_NOT_YET_VALID;
        else if (x.serviceDate >= p.validUntil) gate = POLICY_EXPIRED;
        else if (x.duplicate) gate = CLAIM_DUPLICATE;
        else if (x.currency != p.currency) gate = CURRENCY_MISMATCH;
        else if (x.coverage == Coverage.Unmapped) gate = CODE_UNMAPPED;
        else if (x.coverage == Coverage.NotCovered) gate = NOT_COVERED;
        else if (x.coverage == Coverage.Excluded) gate = EXCLUDED;
        if (gate != 0) {
            o.decision = REJECTED;
            o.reasons = gate;
            o.patientShare = x.total;
            return o;
        }

        // 6–10. Amounts.
        uint16 reasons;
        uint256 total = x.total;
        if (total == 0) reasons = ZERO_TOTAL;
        uint256 deductibleLeft = p.deductible > x.deductibleUsed ? p.deductible - x.deductibleUsed : 0;
        uint256 deductiblePart = total < deductibleLeft ? total : deductibleLeft;
        if (deductiblePart > 0) reasons |= DEDUCTIBLE_APPLIED;
        uint256 afterDeductible = total - deductiblePart;
        uint256 coPay = percentOf(afterDeductible, p.coPayBasisPoints);
        if (coPay > 0) reasons |= COPAY_APPLIED;
        uint256 share = afterDeductible - coPay;
        uint256 payable_ = share;
        if (payable_ > p.perClaimLimit) {
            reasons |= PER_CLAIM_LIMIT;
            payable_ = p.perClaimLimit;
        }
        uint256 capLeft = p.annualCap > x.paidThisYear ? p.annualCap - x.paidThisYear : 0;
        if (payable_ > capLeft) {
            reasons |= ANNUAL_CAP;
            payable_ = capLeft;
        }
        o.decision = payable_ == 0 ? REJECTED : payable_ == share ? APPROVED : PARTIAL;
        o.reasons = reasons;
        // All ≤ total < 2^128.
        o.payableAmount = uint128(payable_);
        o.patientShare = uint128(total - payable_);
        o.deductiblePart = uint128(deductiblePart);
        o.settled = true;
    }

    /// @notice money.ts `percentOf`: amount × bp / 10000 rounded half to even on the minor unit.
    function percentOf(uint256 amount, uint256 bp) internal pure returns (uint256 q) {
        uint256 x = amount * bp;
        q = x / BASIS_POINTS;
        uint256 twice = (x % BASIS_POINTS) * 2;
        if (twice > BASIS_POINTS || (twice == BASIS_POINTS && q & 1 == 1)) q += 1;
    }

    /// @notice Whether `reasons` is a gate rejection (nothing settled).
    function isGateRejection(uint16 reasons) internal pure returns (bool) {
        return reasons & GATE_MASK != 0;
    }

    /// @notice Whether `currency` is one medrelay settles in (156 CNY, 344 HKD, 446 MOP).
    function isSupportedCurrency(uint16 currency) internal pure returns (bool) {
        return currency == 344 || currency == 156 || currency == 446;
    }
}
