// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title TestUSDC
/// @notice The "test USDC" of the dev chains and the tests: OpenZeppelin's
///         audited ERC20 and Ownable, imported unchanged from the pinned
///         npm package (see package.json), with 6 decimals like Circle's
///         USDC. Only the deployer may mint (the dev faucet drips it).
///         It is not Circle's contract: no proxy, blocklist, pause or permit.
contract TestUSDC is ERC20, Ownable {
    constructor() ERC20("Test USD Coin", "USDC") Ownable(msg.sender) {}

    /// @notice 6, like USDC on every network it is issued on.
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Creates amount new tokens for to. Only the deployer.
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}
