package parent

// Contract reads of the chain client: ERC-20 balanceOf, the gas of a token
// transfer, and the OP-stack L1 data fee from the GasPriceOracle predeploy.

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/rpc"
)

// GasPriceOracleAddress is the OP-stack predeploy that computes the L1 data
// fee of a transaction (the same address on Base, Optimism and every OP
// Stack chain).
var GasPriceOracleAddress = common.HexToAddress("0x420000000000000000000000000000000000000F")

// The ABIs the parent calls: ERC-20 balanceOf and transfer (EIP-20), and
// GasPriceOracle.getL1Fee(bytes _data) returns (uint256), whose _data is
// the unsigned, fully RLP-encoded transaction (OP Stack specs,
// "GasPriceOracle"; Optimism's contracts-bedrock GasPriceOracle.sol).
var (
	erc20ABI = mustABI(`[
		{"type":"function","name":"balanceOf","stateMutability":"view","inputs":[{"name":"account","type":"address"}],"outputs":[{"name":"","type":"uint256"}]},
		{"type":"function","name":"transfer","stateMutability":"nonpayable","inputs":[{"name":"to","type":"address"},{"name":"value","type":"uint256"}],"outputs":[{"name":"","type":"bool"}]}
	]`)
	gasPriceOracleABI = mustABI(`[
		{"type":"function","name":"getL1Fee","stateMutability":"view","inputs":[{"name":"_data","type":"bytes"}],"outputs":[{"name":"","type":"uint256"}]}
	]`)
)

func mustABI(s string) abi.ABI {
	a, err := abi.JSON(strings.NewReader(s))
	if err != nil {
		panic(err)
	}
	return a
}

// TransferCalldata is the ERC-20 call transfer(to, amount): selector
// 0xa9059cbb and the two ABI-encoded words. The enclave builds the same
// bytes itself from the intent (docs/protocol.md); the parent needs them to
// estimate the gas and the L1 data fee.
func TransferCalldata(to common.Address, amount *big.Int) []byte {
	data, err := erc20ABI.Pack("transfer", to, amount)
	if err != nil {
		panic(err) // only a negative or >256-bit amount, which callers refuse first
	}
	return data
}

// TokenBalance returns addr's balance of the ERC-20 token at the latest
// block, from balanceOf. A contract that answers with anything but one
// uint256 (no code at the address, a non-token) gives ErrNodeRejected.
func (c *Chain) TokenBalance(ctx context.Context, token, addr common.Address) (*big.Int, error) {
	data, err := erc20ABI.Pack("balanceOf", addr)
	if err != nil {
		return nil, err
	}
	out, err := c.call(ctx, "eth_call(balanceOf)", token, data)
	if err != nil {
		return nil, err
	}
	vals, err := erc20ABI.Unpack("balanceOf", out)
	if err != nil || len(vals) != 1 {
		return nil, fmt.Errorf("balanceOf at %s: %w: the contract did not answer a uint256 (%d bytes)", token, ErrNodeRejected, len(out))
	}
	return vals[0].(*big.Int), nil
}

// call is one eth_call at the latest block.
func (c *Chain) call(ctx context.Context, method string, to common.Address, data []byte) ([]byte, error) {
	var out []byte
	err := c.do(ctx, method, func(ctx context.Context) (err error) {
		out, err = c.eth.CallContract(ctx, ethereum.CallMsg{To: &to, Data: data}, nil)
		return err
	})
	return out, err
}

// EstimateGas asks the node for the gas of a call from from to to with value
// and data (eth_estimateGas). A revert gives ErrTransferWouldFail with the
// node's message.
func (c *Chain) EstimateGas(ctx context.Context, from, to common.Address, value *big.Int, data []byte) (uint64, error) {
	var gas uint64
	err := c.do(ctx, "eth_estimateGas", func(ctx context.Context) (err error) {
		gas, err = c.eth.EstimateGas(ctx, ethereum.CallMsg{From: from, To: &to, Value: value, Data: data})
		return err
	})
	if err != nil && errors.Is(err, ErrNodeRejected) {
		var rpcErr rpc.Error
		if errors.As(err, &rpcErr) && strings.Contains(strings.ToLower(rpcErr.Error()), "revert") {
			return 0, fmt.Errorf("%w: %w", ErrTransferWouldFail, err)
		}
	}
	return gas, err
}

// L1Fee reads the L1 data fee of tx (unsigned) from the network's
// GasPriceOracle: getL1Fee of the transaction's unsigned RLP encoding (for
// a dynamic-fee transaction, 0x02 || rlp([chain id, nonce, tip, fee cap,
// gas, to, value, data, access list])). An OP-stack chain charges it on top
// of gas x gas price, from the L1 fees at inclusion, so it is an estimate.
func (c *Chain) L1Fee(ctx context.Context, tx *types.Transaction) (*big.Int, error) {
	unsigned, err := UnsignedTxBytes(tx)
	if err != nil {
		return nil, err
	}
	data, err := gasPriceOracleABI.Pack("getL1Fee", unsigned)
	if err != nil {
		return nil, err
	}
	out, err := c.call(ctx, "eth_call(getL1Fee)", GasPriceOracleAddress, data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrL1FeeUnknown, err)
	}
	vals, err := gasPriceOracleABI.Unpack("getL1Fee", out)
	if err != nil || len(vals) != 1 {
		return nil, fmt.Errorf("%w: the GasPriceOracle did not answer a uint256 (%d bytes; is it deployed?)", ErrL1FeeUnknown, len(out))
	}
	return vals[0].(*big.Int), nil
}

// UnsignedTxBytes is the typed encoding of tx without its signature, the
// input of GasPriceOracle.getL1Fee: 0x02 || rlp([chain id, nonce, tip, fee
// cap, gas, to, value, data, access list]), as viem's and ethers' OP-stack
// fee estimates serialize an unsigned request (the oracle itself adds 68
// bytes for the signature).
func UnsignedTxBytes(tx *types.Transaction) ([]byte, error) {
	if tx.Type() != types.DynamicFeeTxType {
		return nil, fmt.Errorf("unsigned tx bytes: type %d, want %d", tx.Type(), types.DynamicFeeTxType)
	}
	body, err := rlp.EncodeToBytes([]any{
		tx.ChainId(), tx.Nonce(), tx.GasTipCap(), tx.GasFeeCap(), tx.Gas(), tx.To(), tx.Value(), tx.Data(), tx.AccessList(),
	})
	if err != nil {
		return nil, err
	}
	return append([]byte{types.DynamicFeeTxType}, body...), nil
}
