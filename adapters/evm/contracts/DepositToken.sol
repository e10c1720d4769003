// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {FxQuoteLib, UnsupportedCurrency} from "./lib/FxQuoteLib.sol";
import {Owned} from "./lib/Owned.sol";

/// @notice A bank deposit in one currency as a minimal ERC-20 (EIP-20): balances are integer minor units of an
///         ISO 4217 currency with 2 decimals (156 CNY, 344 HKD, 446 MOP). The issuing bank (owner) and the
///         minters it appoints mint against deposits and burn on withdrawal. What SettlementGateway escrows and
///         pays out (DESIGN §6).
/// @dev Own code on purpose (no library import). An allowance of type(uint256).max is never decreased
///      (infinite approval). Transfers to address(0) are refused: use burn.
contract DepositToken is Owned {
    /// @notice Minor-unit exponent: 1 token unit = 0.01 of the currency.
    uint8 public constant decimals = 2;
    /// @notice ISO 4217 numeric code of the currency (156 CNY, 344 HKD, 446 MOP).
    uint16 public immutable currencyCode;

    string public name;
    string public symbol;
    uint256 public totalSupply;
    mapping(address account => uint256) public balanceOf;
    mapping(address owner => mapping(address spender => uint256)) public allowance;
    mapping(address account => bool) private _minters;

    /// @notice `account` holds `balance` and cannot move or burn `needed`.
    error InsufficientBalance(address account, uint256 balance, uint256 needed);
    /// @notice `spender` may move only `available` of `owner`'s balance, not `needed`.
    error InsufficientAllowance(address owner, address spender, uint256 available, uint256 needed);
    /// @notice Only the owner and appointed minters mint and burn.
    error NotMinter(address caller);

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);
    event MinterSet(address indexed account, bool enabled);

    /// @param currencyNumeric ISO 4217 numeric: 156, 344 or 446 (reverts UnsupportedCurrency otherwise)
    constructor(string memory name_, string memory symbol_, uint16 currencyNumeric) {
        if (!FxQuoteLib.isSupportedCurrency(currencyNumeric)) revert UnsupportedCurrency(currencyNumeric);
        name = name_;
        symbol = symbol_;
        currencyCode = currencyNumeric;
    }

    // ------------------------------------------------------------------ ERC-20

    /// @notice Moves `amount` from the caller to `to`.
    function transfer(address to, uint256 amount) external returns (bool) {
        _transfer(msg.sender, to, amount);
        return true;
    }

    /// @notice Moves `amount` from `from` to `to` within the caller's allowance.
    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            if (allowed < amount) revert InsufficientAllowance(from, msg.sender, allowed, amount);
            unchecked {
                allowance[from][msg.sender] = allowed - amount;
            }
        }
        _transfer(from, to, amount);
        return true;
    }

    /// @notice Lets `spender` move up to `amount` of the caller's balance (replaces any previous allowance).
    function approve(address spender, uint256 amount) external returns (bool) {
        if (spender == address(0)) revert ZeroAddress();
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    // ------------------------------------------------------------------ issuance

    /// @notice Appoints (`enabled` true) or removes a minter (owner only). The owner is always a minter.
    function setMinter(address account, bool enabled) external onlyOwner {
        if (account == address(0)) revert ZeroAddress();
        _minters[account] = enabled;
        emit MinterSet(account, enabled);
    }

    /// @notice Whether `account` may mint and burn (the owner or an appointed minter).
    function isMinter(address account) public view returns (bool) {
        return _minters[account] || account == owner();
    }

    /// @notice Issues `amount` new units to `to` (minters only): a deposit was credited.
    function mint(address to, uint256 amount) external {
        if (!isMinter(msg.sender)) revert NotMinter(msg.sender);
        if (to == address(0)) revert ZeroAddress();
        totalSupply += amount;
        unchecked {
            balanceOf[to] += amount; // ≤ totalSupply, which did not overflow
        }
        emit Transfer(address(0), to, amount);
    }

    /// @notice Destroys `amount` of the caller's own units (minters only): a withdrawal was paid out.
    function burn(uint256 amount) external {
        if (!isMinter(msg.sender)) revert NotMinter(msg.sender);
        uint256 bal = balanceOf[msg.sender];
        if (bal < amount) revert InsufficientBalance(msg.sender, bal, amount);
        unchecked {
            balanceOf[msg.sender] = bal - amount;
            totalSupply -= amount;
        }
        emit Transfer(msg.sender, address(0), amount);
    }

    function _transfer(address from, address to, uint256 amount) private {
        if (to == address(0)) revert ZeroAddress();
        uint256 bal = balanceOf[from];
        if (bal < amount) revert InsufficientBalance(from, bal, amount);
        unchecked {
            balanceOf[from] = bal - amount;
            balanceOf[to] += amount; // sum of balances = totalSupply: no overflow
        }
        emit Transfer(from, to, amount);
    }
}
