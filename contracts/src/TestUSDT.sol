// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title TestUSDT
/// @notice Why it exists: Tether's USDT on Ethereum (TetherToken, deployed in
///         2017 with Solidity 0.4.17) does not follow ERC-20 to the letter:
///         its transfer, transferFrom and approve return nothing instead of a
///         bool. A client that requires the bool (or an ABI that decodes it)
///         fails on the most used stablecoin. This small token reproduces that
///         behaviour so the wallet's transfers, receipts and Transfer-log
///         watching are tested against it: success is the receipt's status
///         and the Transfer event, never a return value.
///         Also like Tether: 6 decimals, approve refuses to change a non-zero
///         allowance to another non-zero value. Unlike Tether: no fee, pause,
///         blocklist or upgrade; the deployer mints with mint(address,uint256)
///         (the same call as TestUSDC, so one helper mints both).
contract TestUSDT {
    string public constant name = "Test Tether USD";
    string public constant symbol = "USDT";
    uint8 public constant decimals = 6;

    address public owner;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    constructor() {
        owner = msg.sender;
    }

    /// @notice Moves value from the caller to to. Returns nothing, on purpose.
    function transfer(address to, uint256 value) external {
        _move(msg.sender, to, value);
    }

    /// @notice Moves value from from to to within the caller's allowance.
    ///         Returns nothing, on purpose.
    function transferFrom(address from, address to, uint256 value) external {
        uint256 allowed = allowance[from][msg.sender];
        require(allowed >= value, "TestUSDT: allowance too low");
        if (allowed != type(uint256).max) {
            allowance[from][msg.sender] = allowed - value;
        }
        _move(from, to, value);
    }

    /// @notice Sets the caller's allowance for spender. Like Tether, a
    ///         non-zero allowance must be set to zero first. Returns nothing.
    function approve(address spender, uint256 value) external {
        require(value == 0 || allowance[msg.sender][spender] == 0, "TestUSDT: reset allowance to 0 first");
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
    }

    /// @notice Creates amount new tokens for to. Only the deployer.
    function mint(address to, uint256 amount) external {
        require(msg.sender == owner, "TestUSDT: caller is not the owner");
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    function _move(address from, address to, uint256 value) private {
        uint256 have = balanceOf[from];
        require(have >= value, "TestUSDT: balance too low");
        balanceOf[from] = have - value;
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }
}
