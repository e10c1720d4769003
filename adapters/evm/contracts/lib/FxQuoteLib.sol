// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {FxQuote} from "../SettlementTypes.sol";
import {MedrelayEip712} from "./MedrelayEip712.sol";

/// @notice The rate text is not a positive plain decimal of ≤ 12 integer and ≤ 8 fraction digits.
error InvalidRate();
/// @notice Not an ISO 4217 numeric code medrelay settles in (156 CNY, 344 HKD, 446 MOP).
error UnsupportedCurrency(uint16 currency);
/// @notice No quote pair converts `sourceCurrency` into `targetCurrency` (only CNY/HKD exists, both ways).
error UnsupportedPair(bytes32 pair, uint16 sourceCurrency, uint16 targetCurrency);

/// @notice On-chain twin of proofs/settlement/fx.ts and money.ts: the EIP-712 digest of a signed FX quote, the
///         rate grammar, and the conversion with ONE half-to-even rounding on the target minor unit. Pure integer
///         arithmetic; every result equals the TypeScript reference unit for unit (test/integration/settlement).
/// @dev A quote of pair CNY/HKD with rate r says CNY 1 = HKD r. Money in the base (CNY) converts to the quote
///      currency (HKD) by multiplying, money in the quote currency by dividing:
///        minor_to = divRoundHalfEven(minor_from × num × 10^e_to, den × 10^e_from)   (base → quote)
///        minor_to = divRoundHalfEven(minor_from × den × 10^e_to, num × 10^e_from)   (quote → base)
///      With minor_from < 2^128, num < 10^20 < 2^67 and 10^e ≤ 100, no product reaches 2^210: nothing overflows.
library FxQuoteLib {
    uint16 internal constant CNY = 156;
    uint16 internal constant HKD = 344;
    uint16 internal constant MOP = 446;

    bytes32 internal constant NAME_HASH = keccak256("medrelay-fx");
    bytes32 internal constant VERSION_HASH = keccak256("1");
    bytes32 internal constant FX_QUOTE_TYPEHASH =
        keccak256("FxQuote(bytes32 quoteId,bytes32 pair,string rate,uint64 validUntil,address provider)");
    /// @notice keccak256 of the UTF-8 pair name "CNY/HKD" (base CNY, quote HKD): the only supported pair.
    bytes32 internal constant PAIR_CNY_HKD = keccak256("CNY/HKD");

    /// Longest rate text the grammar admits: 12 integer digits, ".", 8 decimals.
    uint256 internal constant MAX_RATE_LENGTH = 21;
    uint256 internal constant MAX_INT_DIGITS = 12;
    uint256 internal constant MAX_DECIMALS = 8;

    // ------------------------------------------------------------------ currencies

    /// @notice Whether `currency` is one of 156 CNY, 344 HKD, 446 MOP.
    function isSupportedCurrency(uint16 currency) internal pure returns (bool) {
        return currency == CNY || currency == HKD || currency == MOP;
    }

    /// @notice 10^exponent of the currency's minor unit (ISO 4217 table A.1: 2 for CNY, HKD and MOP).
    function minorUnitFactor(uint16 currency) internal pure returns (uint256) {
        if (currency == CNY || currency == HKD || currency == MOP) return 100;
        revert UnsupportedCurrency(currency);
    }

    /// @notice Whether a quote of `pair` converts `from` into `to`, and which way.
    /// @return baseToQuote true: `from` is the pair's base (multiply by the rate); false: it is the quote (divide)
    function direction(bytes32 pair, uint16 from, uint16 to) internal pure returns (bool baseToQuote) {
        if (pair == PAIR_CNY_HKD) {
            if (from == CNY && to == HKD) return true;
            if (from == HKD && to == CNY) return false;
        }
        revert UnsupportedPair(pair, from, to);
    }

    // ------------------------------------------------------------------ EIP-712

    /// @notice Domain separator of `{ name: "medrelay-fx", version: "1", chainId }` (no verifyingContract).
    function domainSeparator(uint256 chainId) internal pure returns (bytes32) {
        return keccak256(abi.encode(MedrelayEip712.DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, chainId));
    }

    /// @notice hashStruct(FxQuote); the dynamic `rate` enters as keccak256 of its bytes (fx.ts fxQuoteStructHash).
    function structHash(FxQuote memory q) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(FX_QUOTE_TYPEHASH, q.quoteId, q.pair, keccak256(bytes(q.rate)), q.validUntil, q.provider)
        );
    }

    /// @notice keccak256(0x1901 ‖ domainSeparator(chainId) ‖ hashStruct(q)): what the provider signs
    ///         (fx.ts fxQuoteDigest(q, chainId)).
    function digest(FxQuote memory q, uint256 chainId) internal pure returns (bytes32) {
        return MedrelayEip712.typedDigest(domainSeparator(chainId), structHash(q));
    }

    // ------------------------------------------------------------------ rate

    /// @notice Reads a rate exactly, in lowest terms (fx.ts parseRate): grammar
    ///         `^(0|[1-9]\d{0,11})(?:\.(\d{1,8}))?$`, value > 0. Reverts InvalidRate otherwise.
    /// @return num numerator, den denominator (both > 0, coprime)
    function parseRate(string memory rate) internal pure returns (uint256 num, uint256 den) {
        (num, den) = parseRateRaw(rate);
        // den = 10^k = 2^k·5^k: only 2 and 5 can be common factors.
        unchecked {
            while (den & 1 == 0 && num & 1 == 0) {
                num >>= 1;
                den >>= 1;
            }
            while (den % 5 == 0 && num % 5 == 0) {
                num /= 5;
                den /= 5;
            }
        }
    }

    /// @notice As {parseRate} but not reduced: den = 10^(number of decimals). Same value, cheaper; what
    ///         {convert} needs (a common factor of num and den does not change a rounded quotient).
    function parseRateRaw(string memory rate) internal pure returns (uint256 num, uint256 den) {
        bytes memory b = bytes(rate);
        uint256 len = b.length;
        // The length bound also bounds every loop below (hostile input costs at most 21 iterations).
        if (len == 0 || len > MAX_RATE_LENGTH) revert InvalidRate();
        uint256 i;
        unchecked {
            uint256 c = uint8(b[0]);
            if (c == 0x30) {
                i = 1; // integer part "0": no leading zeros, so a digit may not follow
            } else {
                while (i < len) {
                    c = uint8(b[i]);
                    if (c < 0x30 || c > 0x39) break;
                    num = num * 10 + (c - 0x30);
                    ++i;
                }
                // i == 0: no integer digit (".5", "-1", " 1"); i > 12: too many.
                if (i == 0 || i > MAX_INT_DIGITS) revert InvalidRate();
            }
            den = 1;
            if (i < len) {
                if (uint8(b[i]) != 0x2e) revert InvalidRate(); // "01.2", "1e3", "1,5"
                ++i;
                uint256 decimals = len - i;
                if (decimals == 0 || decimals > MAX_DECIMALS) revert InvalidRate(); // "1.", "1.123456789"
                for (; i < len; ++i) {
                    c = uint8(b[i]);
                    if (c < 0x30 || c > 0x39) revert InvalidRate();
                    num = num * 10 + (c - 0x30);
                    den *= 10;
                }
            }
        }
        if (num == 0) revert InvalidRate(); // "0", "0.00"
    }

    // ------------------------------------------------------------------ conversion

    /// @notice fx.ts convert: `amount` minor units of `from` into minor units of `to` at rate num/den, one
    ///         rounding half to even on the target's minor unit.
    /// @param baseToQuote true: `from` is the pair's base, multiply by the rate; false: divide by it
    function convert(uint256 amount, uint16 from, uint16 to, uint256 num, uint256 den, bool baseToQuote)
        internal
        pure
        returns (uint256)
    {
        uint256 eFrom = minorUnitFactor(from);
        uint256 eTo = minorUnitFactor(to);
        return baseToQuote
            ? divRoundHalfEven(amount * num * eTo, den * eFrom)
            : divRoundHalfEven(amount * den * eTo, num * eFrom);
    }

    /// @notice n / d rounded half to even (money.ts divRoundHalfEven): 2.5 → 2, 3.5 → 4. d must be > 0.
    function divRoundHalfEven(uint256 n, uint256 d) internal pure returns (uint256 q) {
        q = n / d;
        uint256 r = n % d;
        // r < d, so 2r cannot overflow for any d < 2^255 (here d < 2^75).
        unchecked {
            uint256 twice = r * 2;
            if (twice > d || (twice == d && q & 1 == 1)) ++q;
        }
    }
}
