// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IOutbox} from "./IOutbox.sol";
import {IPacketReceiver} from "./IPacketReceiver.sol";
import {IPacketSender} from "./IPacketSender.sol";
import {Packet, PacketLib} from "./PacketLib.sol";
import {
    FxQuote,
    ISettlementGateway,
    ISettlementPayer,
    Ledger,
    Settlement,
    SettlementRequest
} from "./SettlementTypes.sol";
import {FxQuoteLib, InvalidRate, UnsupportedCurrency, UnsupportedPair} from "./lib/FxQuoteLib.sol";
import {MedrelayEip712} from "./lib/MedrelayEip712.sol";
import {Owned} from "./lib/Owned.sol";
import {ReentrancyGuard} from "./lib/ReentrancyGuard.sol";

/// @notice The ERC-20 surface of a deposit token the gateway uses (DepositToken).
interface IDepositToken {
    function currencyCode() external view returns (uint16);
    function balanceOf(address account) external view returns (uint256);
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}

/// @notice Cross-border settlement of deposit tokens (DESIGN §6), one gateway per chain acting in both directions.
///
///         Source side: `send` escrows the debtor's deposit tokens and sends a SETTLEMENT packet
///         (payload abi.encode(Settlement)) to the gateway of the destination chain. The acknowledgement decides:
///         SUCCESS → the escrow goes to the route's nostro account (the settlement bank that paid out on the
///         destination); APP_ERROR (refused) or TIMEOUT (arrived expired) → refund to the debtor; a proven
///         timeout (Outbox.timeoutPacket) → refund. Each payment is settled exactly once, and per (channel,
///         currency) `locked == released + refunded + inFlight` holds after every transaction.
///
///         Destination side: `onRecvPacket` pays the creditor from the gateway's free liquidity (token balance
///         minus what it escrows as a source), converting through a signed CNY/HKD FX quote when the currencies
///         differ. The quote is checked HERE, under this chain's id: trusted provider, signature (EIP-712
///         `medrelay-fx`, low s), `block.timestamp < validUntil`, single use. Any refusal reverts with its custom
///         error: the Inbox records APP_ERROR with that revert data and the source refunds.
///
/// @dev Payments and receipts are keyed by the UETR (bytes16): one payment is escrowed at most once on a source
///      gateway and paid at most once on a destination gateway. No unbounded loop anywhere; amounts are integer
///      minor units (uint128 in structs, uint256 in ledgers); no floating point.
contract SettlementGateway is IPacketSender, IPacketReceiver, ISettlementGateway, Owned, ReentrancyGuard {
    /// Life of a payment on its source gateway. Released and Refunded are final.
    enum Status {
        None,
        InFlight, // escrowed, packet sent, fate not yet proven
        Released, // ack SUCCESS: paid on the destination, escrow handed to the nostro
        Refunded // ack APP_ERROR / TIMEOUT, or timeout proven: escrow returned to the debtor
    }

    /// @notice A payment on its source gateway (5 storage slots).
    struct Payment {
        Status status;
        uint8 refundReason; // REFUND_* once Refunded, else 0
        uint16 currency; // ISO 4217 numeric of the escrowed token
        uint64 destChain;
        address debtor; // ── slot 0
        uint128 amount; // escrowed minor units ── slot 1
        address nostro; // receives the escrow on release (route's nostro at send time) ── slot 2
        bytes32 channel; // ── slot 3
        bytes32 packetId; // ── slot 4
    }

    /// @notice A payment made on its destination gateway.
    struct Receipt {
        address creditor;
        uint64 sourceChain;
        uint16 targetCurrency;
        uint16 sourceCurrency; // ── slot 0
        uint128 payout; // minor units of targetCurrency paid to the creditor
        uint128 sourceAmount; // minor units of sourceCurrency escrowed on the source ── slot 1
        bytes32 channel;
        bytes32 quoteId; // 0 without FX
        bytes32 packetId;
    }

    /// @notice Where payments to a destination chain go.
    struct Route {
        bytes32 channel; // Outbox channel towards the destination chain
        address receiver; // the SettlementGateway on the destination chain
        address nostro; // local account of the settlement bank: receives the escrow once the destination paid
    }

    /// @notice Destination-side totals of one (channel, currency).
    struct DestLedger {
        uint256 receivedSource; // source minor units of payments received in this source currency
        uint256 paidOut; // minor units paid out in this target currency
    }

    /// @notice Packet kind this gateway sends and accepts (PacketLib.KIND_SETTLEMENT).
    uint8 public constant KIND = PacketLib.KIND_SETTLEMENT;
    /// @notice Timeout (destination timestamp = send time + this) when a request names none.
    uint64 public constant DEFAULT_TIMEOUT = 1 hours;
    /// @notice Gas a debtor contract's onSettlementOutcome gets (fixed; it cannot undo the settlement).
    uint256 public constant PAYER_CALLBACK_GAS = 200_000;
    /// Longest revert data of a failed payer callback kept in PayerCallbackFailed (no returndata bomb).
    uint256 private constant MAX_CALLBACK_REASON = 256;

    /// @notice Refund reasons (SettlementRefunded.reason, Payment.refundReason).
    uint8 public constant REFUND_DESTINATION_REFUSED = 1; // ack APP_ERROR: result = the destination's revert data
    uint8 public constant REFUND_ARRIVED_EXPIRED = 2; // ack TIMEOUT: delivered after its timeout, not executed
    uint8 public constant REFUND_TIMEOUT = 3; // Outbox.timeoutPacket: proven never delivered

    IOutbox public immutable outbox;
    address public immutable inbox;

    mapping(uint64 destChain => Route) private _routes;
    /// @notice The SettlementGateway trusted on `sourceChain` (packets from anyone else are refused).
    mapping(uint64 sourceChain => address) public trustedSender;
    /// @inheritdoc ISettlementGateway
    mapping(uint16 currency => address) public tokenOf;
    /// @notice FX quote signers whose quotes this (destination) gateway accepts.
    mapping(address provider => bool) public isFxProvider;
    /// @notice FX quote ids already used for a payout here (a quote pays once).
    mapping(bytes32 quoteId => bool) public quoteUsed;
    /// @notice Tokens held in escrow (source side) per currency; never available for payouts.
    mapping(uint16 currency => uint256) public escrowed;

    mapping(bytes16 uetr => Payment) private _payments;
    mapping(bytes16 uetr => Receipt) private _receipts;
    mapping(bytes32 channel => mapping(uint16 currency => Ledger)) private _ledgers;
    mapping(bytes32 channel => mapping(uint16 currency => DestLedger)) private _destLedgers;

    // ---- access
    /// @notice Only the Outbox calls onAcknowledgement / onTimeout.
    error NotOutbox(address caller);
    /// @notice Only the Inbox calls onRecvPacket.
    error NotInbox(address caller);
    // ---- admin
    /// @notice `channel` leads to `channelDest` (0: not open), not to `destChain`.
    error RouteMismatch(bytes32 channel, uint64 channelDest, uint64 destChain);
    /// @notice `token`'s currencyCode() is `tokenCurrency`, not `currency`.
    error TokenCurrencyMismatch(uint16 currency, address token, uint16 tokenCurrency);
    /// @notice The token of `currency` cannot be replaced while `escrowed` of it is held for payments in flight.
    error EscrowOutstanding(uint16 currency, uint256 escrowed);
    // ---- source: request checks (send); nothing is escrowed or sent
    /// @notice No local deposit token for `currency` (source side: the source currency; destination: the target).
    error NoToken(uint16 currency);
    /// @notice The amount is 0.
    error ZeroAmount();
    /// @notice No route to `destChain` (setRoute).
    error NoRoute(uint64 destChain);
    /// @notice The creditor is address(0).
    error InvalidCreditor();
    /// @notice The UETR is zero.
    error InvalidUetr();
    /// @notice `uetr` was already escrowed on this gateway (send) or already paid on it (onRecvPacket).
    error DuplicateSettlement(bytes16 uetr);
    /// @notice chargeBearer is not 0 DEBT, 1 CRED, 2 SHAR or 3 SLEV.
    error InvalidChargeBearer(uint8 chargeBearer);
    /// @notice An explicit timeout must lie after the send's block timestamp `now`.
    error InvalidTimeout(uint64 timeoutTimestamp, uint256 now);
    /// @notice A payment in one currency carries a quote or a quote signature.
    error UnexpectedQuote();
    /// @notice A payment across currencies carries a quote with id 0.
    error InvalidQuoteId();
    /// @notice `token` returned false from transfer / transferFrom.
    error TransferFailed(address token);
    // ---- destination: refusals (onRecvPacket) → ack APP_ERROR with this revert data → refund on the source
    /// @notice The packet is not a SETTLEMENT packet.
    error UnexpectedKind(uint8 kind);
    /// @notice `sender` is not the SettlementGateway trusted on `sourceChain`.
    error UntrustedSender(uint64 sourceChain, address sender);
    /// @notice The quote names a provider this gateway does not trust.
    error UntrustedFxProvider(address provider);
    /// @notice The quote signature does not recover to its provider under this chain's id (other signer, other
    ///         chain, altered quote, high s, bad v or length).
    error FxQuoteForged(bytes32 quoteId);
    /// @notice The quote is void at delivery: `now` ≥ `validUntil`.
    error FxQuoteExpired(bytes32 quoteId, uint64 validUntil, uint256 now);
    /// @notice The quote already paid a settlement here.
    error FxQuoteReplayed(bytes32 quoteId);
    /// @notice The conversion rounds to 0 minor units.
    error ZeroPayout();
    /// @notice The conversion does not fit 128 bits.
    error PayoutTooLarge(uint256 payout);
    /// @notice Free liquidity (balance − escrow) of `currency` is `available`, below `needed`.
    error InsufficientLiquidity(uint16 currency, uint256 needed, uint256 available);

    event RouteSet(uint64 indexed destChain, bytes32 channel, address receiver, address nostro);
    event TrustedSenderSet(uint64 indexed sourceChain, address sender);
    event TokenSet(uint16 indexed currency, address token);
    event FxProviderSet(address indexed provider, bool trusted);
    event LiquidityWithdrawn(uint16 indexed currency, address to, uint256 amount);
    /// @notice Source: escrowed and sent.
    event SettlementLocked(
        bytes16 indexed uetr,
        bytes32 indexed channel,
        bytes32 packetId,
        address debtor,
        uint16 currency,
        uint128 amount,
        uint64 destChain
    );
    /// @notice Source: paid on the destination; escrow handed to the nostro. result = abi.encode(uetr, targetCurrency, payout).
    event SettlementReleased(bytes16 indexed uetr, bytes32 packetId, bytes result);
    /// @notice Source: refunded to the debtor; reason REFUND_*; result = the destination's revert data (reason 1) or empty.
    event SettlementRefunded(bytes16 indexed uetr, bytes32 packetId, uint8 reason, bytes result);
    /// @notice Source: the debtor contract's onSettlementOutcome reverted (reason truncated); the settlement stands.
    event PayerCallbackFailed(bytes16 indexed uetr, bytes reason);
    /// @notice Destination: the creditor was paid (quoteId 0 without FX).
    event SettlementPaid(
        bytes16 indexed uetr,
        bytes32 indexed channel,
        address creditor,
        uint16 targetCurrency,
        uint128 payout,
        uint16 sourceCurrency,
        uint128 sourceAmount,
        bytes32 quoteId
    );

    constructor(IOutbox outbox_, address inbox_) {
        if (address(outbox_) == address(0) || inbox_ == address(0)) revert ZeroAddress();
        outbox = outbox_;
        inbox = inbox_;
    }

    // ------------------------------------------------------------------ admin (owner)

    /// @notice Route to `destChain`: Outbox `channel` (must lead there), the remote gateway `receiver`, and the
    ///         local `nostro` account that receives escrow once the destination has paid. Payments already in
    ///         flight keep the channel and nostro they were sent with.
    function setRoute(uint64 destChain, bytes32 channel, address receiver, address nostro) external onlyOwner {
        uint64 dest = outbox.channelDest(channel);
        if (dest == 0 || dest != destChain) revert RouteMismatch(channel, dest, destChain);
        if (receiver == address(0) || nostro == address(0)) revert ZeroAddress();
        _routes[destChain] = Route(channel, receiver, nostro);
        emit RouteSet(destChain, channel, receiver, nostro);
    }

    /// @notice The SettlementGateway trusted on `sourceChain` (0 trusts none).
    function setTrustedSender(uint64 sourceChain, address sender) external onlyOwner {
        trustedSender[sourceChain] = sender;
        emit TrustedSenderSet(sourceChain, sender);
    }

    /// @notice The local deposit token of `currency` (156, 344 or 446); its currencyCode() must match.
    ///         Refused while tokens of the current one are in escrow (refunds must return the same token);
    ///         address(0) removes it.
    function setToken(uint16 currency, address token) external onlyOwner {
        if (!FxQuoteLib.isSupportedCurrency(currency)) revert UnsupportedCurrency(currency);
        uint256 held = escrowed[currency];
        if (held != 0) revert EscrowOutstanding(currency, held);
        if (token != address(0)) {
            uint16 code = IDepositToken(token).currencyCode();
            if (code != currency) revert TokenCurrencyMismatch(currency, token, code);
        }
        tokenOf[currency] = token;
        emit TokenSet(currency, token);
    }

    /// @notice Trusts (or stops trusting) FX quotes signed by `provider`.
    function setFxProvider(address provider, bool trusted) external onlyOwner {
        if (provider == address(0)) revert ZeroAddress();
        isFxProvider[provider] = trusted;
        emit FxProviderSet(provider, trusted);
    }

    /// @notice Takes `amount` of free payout liquidity of `currency` out to `to` (the settlement bank
    ///         rebalancing its pool). Escrow is never available: reverts InsufficientLiquidity beyond
    ///         balance − escrowed. Top-ups need no function: transfer tokens to the gateway.
    function withdrawLiquidity(uint16 currency, address to, uint256 amount) external onlyOwner nonReentrant {
        if (to == address(0)) revert ZeroAddress();
        address token = tokenOf[currency];
        if (token == address(0)) revert NoToken(currency);
        uint256 available = _available(token, currency);
        if (amount > available) revert InsufficientLiquidity(currency, amount, available);
        if (!IDepositToken(token).transfer(to, amount)) revert TransferFailed(token);
        emit LiquidityWithdrawn(currency, to, amount);
    }

    // ------------------------------------------------------------------ source side

    /// @inheritdoc ISettlementGateway
    /// @dev Checks, in order: currencies supported (UnsupportedCurrency), local token (NoToken), amount > 0
    ///      (ZeroAmount), route (NoRoute), creditor (InvalidCreditor), uetr non-zero (InvalidUetr) and new on this
    ///      gateway (DuplicateSettlement), chargeBearer ≤ 3 (InvalidChargeBearer), timeout in the future
    ///      (InvalidTimeout), quote shape: none for one currency (UnexpectedQuote), else pair CNY/HKD matching the
    ///      currencies (UnsupportedPair), parsable rate (InvalidRate), quote id non-zero (InvalidQuoteId).
    ///      The quote's signature and expiry are NOT checked here: the destination does, and refunds a bad quote.
    /// @return packetId id of the SETTLEMENT packet
    function send(SettlementRequest calldata r) external nonReentrant returns (bytes32 packetId) {
        uint16 src = r.sourceCurrency;
        uint16 dst = r.targetCurrency;
        if (!FxQuoteLib.isSupportedCurrency(src)) revert UnsupportedCurrency(src);
        if (!FxQuoteLib.isSupportedCurrency(dst)) revert UnsupportedCurrency(dst);
        address token = tokenOf[src];
        if (token == address(0)) revert NoToken(src);
        uint128 amount = r.sourceAmount;
        if (amount == 0) revert ZeroAmount();
        Route memory route_ = _routes[r.destChain];
        if (route_.receiver == address(0)) revert NoRoute(r.destChain);
        if (r.creditor == address(0)) revert InvalidCreditor();
        bytes16 uetr = r.uetr;
        if (uetr == bytes16(0)) revert InvalidUetr();
        if (_payments[uetr].status != Status.None) revert DuplicateSettlement(uetr);
        if (r.chargeBearer > 3) revert InvalidChargeBearer(r.chargeBearer);
        uint64 timeout = r.timeoutTimestamp;
        if (timeout == 0) timeout = uint64(block.timestamp) + DEFAULT_TIMEOUT;
        else if (timeout <= block.timestamp) revert InvalidTimeout(timeout, block.timestamp);
        _checkQuoteShape(r.quote, r.quoteSignature, src, dst);

        // The Outbox is trusted and does not call back; the token (owner-set) is called last.
        (, packetId) = outbox.sendPacket(
            route_.channel,
            route_.receiver,
            0,
            timeout,
            KIND,
            abi.encode(
                Settlement({
                    uetr: uetr,
                    ref: r.ref,
                    debtor: msg.sender,
                    creditor: r.creditor,
                    sourceCurrency: src,
                    sourceAmount: amount,
                    targetCurrency: dst,
                    chargeBearer: r.chargeBearer,
                    purpose: r.purpose,
                    createdAt: uint64(block.timestamp),
                    quote: r.quote,
                    quoteSignature: r.quoteSignature
                })
            )
        );
        _payments[uetr] = Payment({
            status: Status.InFlight,
            refundReason: 0,
            currency: src,
            destChain: r.destChain,
            debtor: msg.sender,
            amount: amount,
            nostro: route_.nostro,
            channel: route_.channel,
            packetId: packetId
        });
        Ledger storage l = _ledgers[route_.channel][src];
        l.locked += amount;
        l.inFlight += amount;
        escrowed[src] += amount;
        if (!IDepositToken(token).transferFrom(msg.sender, address(this), amount)) revert TransferFailed(token);
        emit SettlementLocked(uetr, route_.channel, packetId, msg.sender, src, amount, r.destChain);
    }

    /// @inheritdoc IPacketSender
    /// @dev SUCCESS releases the escrow to the payment's nostro; APP_ERROR (reason 1) and TIMEOUT (reason 2)
    ///      refund the debtor. A packet this gateway does not know, or a payment already settled, is ignored.
    function onAcknowledgement(Packet calldata packet, uint8 status, bytes calldata result) external {
        if (msg.sender != address(outbox)) revert NotOutbox(msg.sender);
        if (status == PacketLib.STATUS_SUCCESS) {
            _settle(packet, 0, result);
        } else {
            _settle(
                packet,
                status == PacketLib.STATUS_TIMEOUT ? REFUND_ARRIVED_EXPIRED : REFUND_DESTINATION_REFUSED,
                result
            );
        }
    }

    /// @inheritdoc IPacketSender
    /// @dev Refunds the debtor (reason 3).
    function onTimeout(Packet calldata packet) external {
        if (msg.sender != address(outbox)) revert NotOutbox(msg.sender);
        _settle(packet, REFUND_TIMEOUT, "");
    }

    // ------------------------------------------------------------------ destination side

    /// @inheritdoc IPacketReceiver
    /// @dev Refusals, in order: UnexpectedKind, UntrustedSender, DuplicateSettlement, NoToken (target currency),
    ///      InvalidCreditor; with FX: UnsupportedPair, UntrustedFxProvider, FxQuoteForged (signature does not
    ///      recover to the provider under this chain's id: malformed, high s, other signer, other chain),
    ///      FxQuoteExpired (block.timestamp ≥ validUntil), FxQuoteReplayed, InvalidRate, PayoutTooLarge; then
    ///      ZeroPayout, InsufficientLiquidity.
    /// @return result abi.encode(bytes16 uetr, uint16 targetCurrency, uint128 payout)
    function onRecvPacket(Packet calldata packet) external nonReentrant returns (bytes memory result) {
        if (msg.sender != inbox) revert NotInbox(msg.sender);
        if (packet.kind != KIND) revert UnexpectedKind(packet.kind);
        address trusted = trustedSender[packet.sourceChain];
        if (trusted == address(0) || packet.sender != trusted) revert UntrustedSender(packet.sourceChain, packet.sender);
        Settlement memory s = abi.decode(packet.payload, (Settlement));
        bytes16 uetr = s.uetr;
        if (_receipts[uetr].creditor != address(0)) revert DuplicateSettlement(uetr);
        address token = tokenOf[s.targetCurrency];
        if (token == address(0)) revert NoToken(s.targetCurrency);
        if (s.creditor == address(0)) revert InvalidCreditor();

        uint256 payout;
        bytes32 quoteId;
        if (s.sourceCurrency == s.targetCurrency) {
            payout = s.sourceAmount;
        } else {
            FxQuote memory q = s.quote;
            quoteId = q.quoteId;
            bool baseToQuote = FxQuoteLib.direction(q.pair, s.sourceCurrency, s.targetCurrency);
            if (!isFxProvider[q.provider]) revert UntrustedFxProvider(q.provider);
            (address signer, MedrelayEip712.SigError err) =
                MedrelayEip712.tryRecover(FxQuoteLib.digest(q, block.chainid), s.quoteSignature);
            if (err != MedrelayEip712.SigError.None || signer != q.provider) revert FxQuoteForged(quoteId);
            if (block.timestamp >= q.validUntil) revert FxQuoteExpired(quoteId, q.validUntil, block.timestamp);
            if (quoteUsed[quoteId]) revert FxQuoteReplayed(quoteId);
            quoteUsed[quoteId] = true;
            payout = _convert(s.sourceAmount, s.sourceCurrency, s.targetCurrency, q.rate, baseToQuote);
        }
        if (payout == 0) revert ZeroPayout();

        uint256 available = _available(token, s.targetCurrency);
        if (payout > available) revert InsufficientLiquidity(s.targetCurrency, payout, available);

        bytes32 channel = packet.channel;
        _receipts[uetr] = Receipt({
            creditor: s.creditor,
            sourceChain: packet.sourceChain,
            targetCurrency: s.targetCurrency,
            sourceCurrency: s.sourceCurrency,
            payout: uint128(payout),
            sourceAmount: s.sourceAmount,
            channel: channel,
            quoteId: quoteId,
            packetId: keccak256(abi.encode(packet))
        });
        _destLedgers[channel][s.sourceCurrency].receivedSource += s.sourceAmount;
        _destLedgers[channel][s.targetCurrency].paidOut += payout;
        if (!IDepositToken(token).transfer(s.creditor, payout)) revert TransferFailed(token);
        emit SettlementPaid(
            uetr, channel, s.creditor, s.targetCurrency, uint128(payout), s.sourceCurrency, s.sourceAmount, quoteId
        );
        return abi.encode(uetr, s.targetCurrency, uint128(payout));
    }

    // ------------------------------------------------------------------ views

    /// @notice The payment `uetr` as its source gateway knows it (status None if unknown here).
    function payment(bytes16 uetr) external view returns (Payment memory) {
        return _payments[uetr];
    }

    /// @notice The payout of `uetr` on this (destination) gateway (creditor 0 if none).
    function receipt(bytes16 uetr) external view returns (Receipt memory) {
        return _receipts[uetr];
    }

    /// @notice Source-side ledger of (`channel`, `currency`): locked == released + refunded + inFlight.
    function ledger(bytes32 channel, uint16 currency) external view returns (Ledger memory) {
        return _ledgers[channel][currency];
    }

    /// @notice Destination-side totals of (`channel`, `currency`): source amounts received in that currency and
    ///         payouts made in it.
    function destLedger(bytes32 channel, uint16 currency)
        external
        view
        returns (uint256 receivedSource, uint256 paidOut)
    {
        DestLedger storage d = _destLedgers[channel][currency];
        return (d.receivedSource, d.paidOut);
    }

    /// @notice Tokens of `currency` available for payouts: balance minus escrow (0 without a token).
    function liquidity(uint16 currency) external view returns (uint256) {
        address token = tokenOf[currency];
        return token == address(0) ? 0 : _available(token, currency);
    }

    function route(uint64 destChain) external view returns (Route memory) {
        return _routes[destChain];
    }

    /// @notice What a creditor would be paid for `amount` of `sourceCurrency` in `targetCurrency` at CNY/HKD
    ///         `rate` (empty for one currency): the same conversion as onRecvPacket (fx.ts convert).
    /// @dev Reverts UnsupportedCurrency, UnsupportedPair, UnexpectedQuote (rate with one currency), InvalidRate,
    ///      PayoutTooLarge (above uint128).
    function quotePayout(uint16 sourceCurrency, uint128 amount, uint16 targetCurrency, string calldata rate)
        external
        pure
        returns (uint256 payout)
    {
        if (!FxQuoteLib.isSupportedCurrency(sourceCurrency)) revert UnsupportedCurrency(sourceCurrency);
        if (!FxQuoteLib.isSupportedCurrency(targetCurrency)) revert UnsupportedCurrency(targetCurrency);
        if (sourceCurrency == targetCurrency) {
            if (bytes(rate).length != 0) revert UnexpectedQuote();
            return amount;
        }
        bool baseToQuote = FxQuoteLib.direction(FxQuoteLib.PAIR_CNY_HKD, sourceCurrency, targetCurrency);
        return _convert(amount, sourceCurrency, targetCurrency, rate, baseToQuote);
    }

    /// @notice EIP-712 digest of `q` under chain `chainId` (fx.ts fxQuoteDigest): what an FX provider signs.
    function fxQuoteDigest(FxQuote calldata q, uint256 chainId) external pure returns (bytes32) {
        return FxQuoteLib.digest(q, chainId);
    }

    // ------------------------------------------------------------------ internals

    /// @dev Free liquidity: the token balance minus the escrow (0 if the balance is somehow below it).
    function _available(address token, uint16 currency) private view returns (uint256) {
        uint256 balance = IDepositToken(token).balanceOf(address(this));
        uint256 held = escrowed[currency];
        return balance > held ? balance - held : 0;
    }

    function _checkQuoteShape(FxQuote calldata q, bytes calldata signature, uint16 src, uint16 dst) private pure {
        if (src == dst) {
            if (
                q.quoteId != bytes32(0) || q.pair != bytes32(0) || bytes(q.rate).length != 0 || q.validUntil != 0
                    || q.provider != address(0) || signature.length != 0
            ) revert UnexpectedQuote();
            return;
        }
        FxQuoteLib.direction(q.pair, src, dst);
        FxQuoteLib.parseRateRaw(q.rate);
        if (q.quoteId == bytes32(0)) revert InvalidQuoteId();
    }

    function _convert(uint256 amount, uint16 src, uint16 dst, string memory rate, bool baseToQuote)
        private
        pure
        returns (uint256 payout)
    {
        (uint256 num, uint256 den) = FxQuoteLib.parseRateRaw(rate);
        payout = FxQuoteLib.convert(amount, src, dst, num, den, baseToQuote);
        if (payout > type(uint128).max) revert PayoutTooLarge(payout);
    }

    /// @dev Settles the payment of `packet` once: reason 0 releases to the nostro, else refunds the debtor.
    ///      The payload's first word is the ABI head offset of the Settlement tuple; the uetr follows it.
    function _settle(Packet calldata packet, uint8 reason, bytes memory result) private {
        bytes calldata payload = packet.payload;
        if (payload.length < 64) return;
        bytes16 uetr = bytes16(payload[32:48]);
        Payment storage p = _payments[uetr];
        if (p.status != Status.InFlight) return; // unknown here, or already final
        bytes32 packetId = p.packetId;
        if (packetId != keccak256(abi.encode(packet))) return;

        uint16 currency = p.currency;
        uint256 amount = p.amount;
        address debtor = p.debtor;
        Ledger storage l = _ledgers[p.channel][currency];
        l.inFlight -= amount;
        escrowed[currency] -= amount;
        address to;
        if (reason == 0) {
            p.status = Status.Released;
            l.released += amount;
            to = p.nostro;
        } else {
            p.status = Status.Refunded;
            p.refundReason = reason;
            l.refunded += amount;
            to = debtor;
        }
        address token = tokenOf[currency];
        if (!IDepositToken(token).transfer(to, amount)) revert TransferFailed(token);
        if (reason == 0) emit SettlementReleased(uetr, packetId, result);
        else emit SettlementRefunded(uetr, packetId, reason, result);
        _notifyPayer(debtor, uetr, reason == 0, result);
    }

    /// @dev ISettlementPayer callback of a contract debtor with a fixed gas budget; a revert (reason truncated to
    ///      MAX_CALLBACK_REASON bytes: no returndata bomb) only emits PayerCallbackFailed.
    function _notifyPayer(address debtor, bytes16 uetr, bool released, bytes memory result) private {
        if (debtor.code.length == 0) return;
        bytes memory data = abi.encodeCall(ISettlementPayer.onSettlementOutcome, (uetr, released, result));
        bool ok;
        uint256 size;
        uint256 gasLimit = PAYER_CALLBACK_GAS;
        assembly ("memory-safe") {
            ok := call(gasLimit, debtor, 0, add(data, 32), mload(data), 0, 0)
            size := returndatasize()
        }
        if (ok) return;
        if (size > MAX_CALLBACK_REASON) size = MAX_CALLBACK_REASON;
        bytes memory reason = new bytes(size);
        assembly ("memory-safe") {
            returndatacopy(add(reason, 32), 0, size)
        }
        emit PayerCallbackFailed(uetr, reason);
    }
}
