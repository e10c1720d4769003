// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @notice Shared settlement and claim types (docs/settlement.md). Field order is part of the wire format: the
///         SETTLEMENT packet payload is `abi.encode(Settlement)`, the CLAIM packet payload is
///         `abi.encode(Claim, Anchor, bytes anchorSignature, DisclosedElement[], bytes32[] proof, bool[] proofFlags)`.

/// @notice An FX quote as its provider signs it: EIP-712 `FxQuote(bytes32 quoteId,bytes32 pair,string rate,
///         uint64 validUntil,address provider)` under the domain `{ name: "medrelay-fx", version: "1", chainId }`
///         where chainId is the chain that verifies it (the settlement's destination). proofs/settlement/fx.ts.
struct FxQuote {
    bytes32 quoteId; // single use
    bytes32 pair; // keccak256("CNY/HKD"): 1 CNY = rate HKD
    string rate; // decimal text, ≤ 12 integer digits, ≤ 8 decimals, > 0 ("1.0873")
    uint64 validUntil; // unix seconds; void from this second on
    address provider; // signer
}

/// @notice SETTLEMENT packet payload: one payment from a debtor on the source chain to a creditor on the
///         destination chain, escrowed on the source until the acknowledgement (docs/settlement.md).
struct Settlement {
    bytes16 uetr; // unique end-to-end id (UUID v4 bytes, ISO 20022 UETR): one payment, paid at most once
    bytes32 ref; // ("reference" is a reserved word in Solidity) what it settles (the claim id): pacs.008 RmtInf and EndToEndId
    address debtor; // who paid in on the source (msg.sender of SettlementGateway.send)
    address creditor; // who is paid on the destination
    uint16 sourceCurrency; // ISO 4217 numeric of the escrowed deposit token (156 CNY, 344 HKD, 446 MOP)
    uint128 sourceAmount; // minor units escrowed on the source (> 0)
    uint16 targetCurrency; // ISO 4217 numeric the creditor is paid in
    uint8 chargeBearer; // 0 DEBT, 1 CRED, 2 SHAR, 3 SLEV (pacs.008 ChrgBr)
    bytes4 purpose; // ISO 20022 ExternalPurpose1Code as ASCII, e.g. "MDCS" (medical services)
    uint64 createdAt; // source block timestamp of the send
    FxQuote quote; // all zero / empty when sourceCurrency == targetCurrency
    bytes quoteSignature; // 65 bytes r‖s‖v (v 27/28, low s); empty without a quote
}

/// @notice What a payer asks `SettlementGateway.send` for (debtor = msg.sender, createdAt = block.timestamp).
struct SettlementRequest {
    uint64 destChain;
    bytes16 uetr;
    bytes32 ref; // Settlement.ref
    address creditor;
    uint16 sourceCurrency;
    uint128 sourceAmount;
    uint16 targetCurrency;
    uint8 chargeBearer;
    bytes4 purpose;
    uint64 timeoutTimestamp; // destination unix seconds after which the payment is refunded; 0 = send + DEFAULT_TIMEOUT
    FxQuote quote;
    bytes quoteSignature;
}

/// @notice One itemised service of a claim.
struct ClaimItem {
    bytes32 code; // tariff / service code, ASCII right-padded with zero bytes (e.g. "CONSULT")
    uint128 amount; // minor units of Claim.currency
}

/// @notice A claim as the clinic submits it (CLAIM packet, first member of the payload).
struct Claim {
    bytes32 claimId; // unique per insurer: a claim is paid at most once
    bytes32 policyId;
    bytes32 patient; // pseudonym: must equal the anchor's patient and the policy's insured
    bytes32 recordId; // the anchored record the diagnosis is disclosed from
    bytes32 consentId; // the patient's consent to the insurer (ConsentMirror on the insurer chain)
    uint64 serviceDate; // unix seconds
    uint16 currency; // ISO 4217 numeric of every item
    ClaimItem[] items; // 1 .. MAX_CLAIM_ITEMS
    uint64 payoutChain; // chain id where the clinic is paid (its SettlementGateway)
    address payee; // the clinic's account there
    uint16 payoutCurrency; // ISO 4217 numeric the clinic is paid in
    string codingPath; // disclosed diagnosis Coding, e.g. "Bundle.entry[1].resource.Condition.code.coding[0]"
}

/// @notice A disclosed FHIR element (docs/records.md): leaf = keccak256(abi.encode(salt, path, value)).
struct DisclosedElement {
    bytes16 salt;
    string path;
    string value; // RFC 8785 text of the primitive ("\"I10\"" with quotes)
}

/// @notice Source-side settlement ledger of one (channel, currency): locked == released + refunded + inFlight.
struct Ledger {
    uint256 locked; // escrowed in total
    uint256 released; // acknowledged as paid on the destination (escrow handed to the route's nostro account)
    uint256 refunded; // returned to debtors (APP_ERROR, arrived expired, proven timeout)
    uint256 inFlight; // escrowed, fate not yet proven
}

/// @notice Called by SettlementGateway on a debtor that is a contract, once a payment's fate is proven.
interface ISettlementPayer {
    /// @param released true: paid on the destination (ack SUCCESS); false: refunded to the debtor
    /// @param result the destination's ack result (abi.encode(uetr, targetCurrency, payout) on success, the revert
    ///        data of the refusal on APP_ERROR, empty on a timeout)
    function onSettlementOutcome(bytes16 uetr, bool released, bytes calldata result) external;
}

/// @notice The part of SettlementGateway that payers call.
interface ISettlementGateway {
    /// @notice Escrows `r.sourceAmount` of the `r.sourceCurrency` deposit token from msg.sender (ERC-20
    ///         transferFrom: approve first) and sends the SETTLEMENT packet on the route to `r.destChain`.
    function send(SettlementRequest calldata r) external returns (bytes32 packetId);

    /// @notice The local deposit token of ISO 4217 numeric `currency` (0 if none).
    function tokenOf(uint16 currency) external view returns (address);
}
