// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title GasPriceOracle (stand-in)
/// @notice A stand-in for the OP Stack predeploy GasPriceOracle, which lives
///         at 0x420000000000000000000000000000000000000F on Optimism, Base and
///         every OP Stack chain and tells what L1 data fee a transaction pays
///         on top of its L2 gas. The real contract reads the L1 fee
///         parameters from the L1Block predeploy, which the OP node updates;
///         op-geth and an OP node cannot run in these tests, so this contract
///         answers the same calls (same selectors and types, the subset the
///         wallet uses) from one stored L1 base fee.
///
///         Fee formula: the real contract's Bedrock one with overhead 0 and
///         scalar 1.0 (1e6 with 6 decimals):
///           l1Gas = 4 * (zero bytes of data) + 16 * (non-zero bytes) + 68 * 16
///           getL1Fee(data) = l1Gas * l1BaseFee
///         (68 * 16 pays for the signature the unsigned transaction lacks.)
///
///         Storage: slot 0 holds the L1 base fee in wei and nothing else is
///         stored. The runtime code does not depend on the constructor, so a
///         genesis alloc may place the runtime code at the predeploy address
///         and set slot 0 directly (that is what the dev chains do).
contract GasPriceOracle {
    /// @notice Number of decimals of the fee scalars (6, as the real one).
    uint256 public constant DECIMALS = 6;

    /// @dev Slot 0: the L1 base fee in wei. Keep it the first and only
    ///      state variable: genesis allocs write this slot by number.
    uint256 private _l1BaseFee;

    constructor(uint256 l1BaseFee_) {
        _l1BaseFee = l1BaseFee_;
    }

    /// @notice The L1 data fee in wei for an unsigned, RLP-encoded transaction.
    function getL1Fee(bytes memory _data) external view returns (uint256) {
        return _calldataGas(_data) * _l1BaseFee;
    }

    /// @notice An upper bound of getL1Fee for a transaction of that size
    ///         (every byte counted as non-zero).
    function getL1FeeUpperBound(uint256 _unsignedTxSize) external view returns (uint256) {
        return (_unsignedTxSize + 68) * 16 * _l1BaseFee;
    }

    /// @notice The L1 base fee in wei.
    function l1BaseFee() external view returns (uint256) {
        return _l1BaseFee;
    }

    /// @notice The L2 base fee (block.basefee), as the real gasPrice().
    function gasPrice() external view returns (uint256) {
        return block.basefee;
    }

    /// @notice The L2 base fee (block.basefee), as the real baseFee().
    function baseFee() external view returns (uint256) {
        return block.basefee;
    }

    /// @notice 6, as the real decimals().
    function decimals() external pure returns (uint256) {
        return DECIMALS;
    }

    function _calldataGas(bytes memory _data) private pure returns (uint256 total) {
        uint256 length = _data.length;
        for (uint256 i = 0; i < length; i++) {
            total += _data[i] == 0 ? 4 : 16;
        }
        return total + 68 * 16;
    }
}
