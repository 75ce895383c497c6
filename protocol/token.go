package protocol

import (
	"math/big"

	"github.com/ethereum/go-ethereum/common"
)

// The token semantics of a transfer intent (docs/protocol.md, "Token
// transfers"). The intent's layout is the same for both kinds:
//
//   - Token zero: the chain's native coin. The transaction goes to To with
//     value Amount (wei) and no data.
//   - Token non-zero: an ERC-20 token. The transaction goes to the token
//     contract with value 0 and data transfer(To, Amount), Amount in the
//     token's smallest unit.
//
// In both cases the gas limit and the fees are in the native coin.
//
// TxTo, TxValue and TxData are the one definition of the transaction an
// intent stands for: the enclave signs exactly them, and the parent checks
// a signed transaction against them before broadcasting it. There is no
// field through which anyone can hand calldata in: the data is always built
// here from (Token, To, Amount), so the enclave never signs calldata it did
// not make. (This file needs no go-ethereum/core/types, so the packages that
// only read intents stay light.)

// TransferSelector is the ERC-20 function selector of transfer(address,uint256):
// the first four bytes of keccak256("transfer(address,uint256)").
var TransferSelector = [4]byte{0xa9, 0x05, 0x9c, 0xbb}

// TransferCallDataSize is the length of transfer(to, amount) calldata:
// the selector and two 32-byte ABI words.
const TransferCallDataSize = 4 + 32 + 32

// TransferCallData is the ABI encoding of transfer(to, amount): selector
// a9059cbb, then the address left-padded with 12 zero bytes to 32, then
// the amount as a 32-byte big-endian word. amount must be in 0..2^256-1
// (Validate makes sure of it for an intent); it panics otherwise.
func TransferCallData(to common.Address, amount *big.Int) []byte {
	if amount.Sign() < 0 || amount.BitLen() > 256 {
		panic("protocol: transfer amount outside uint256")
	}
	b := make([]byte, TransferCallDataSize)
	copy(b, TransferSelector[:])
	copy(b[4+12:36], to[:])
	amount.FillBytes(b[36:])
	return b
}

// TxTo is the transaction's recipient: To for the native coin, the token
// contract for a token.
func (in *Intent) TxTo() common.Address {
	if in.IsNative() {
		return in.To
	}
	return in.Token
}

// TxValue is the native coin the transaction carries: Amount for the native
// coin, zero for a token (the amount moves in the token's own ledger).
func (in *Intent) TxValue() *big.Int {
	if in.IsNative() {
		return new(big.Int).Set(in.Amount)
	}
	return new(big.Int)
}

// TxData is the transaction's calldata: none for the native coin, and for a
// token exactly TransferCallData(To, Amount), 68 bytes.
func (in *Intent) TxData() []byte {
	if in.IsNative() {
		return nil
	}
	return TransferCallData(in.To, in.Amount)
}

// MaxFee is the most the transaction can pay for gas, in the native coin:
// gas limit times max fee per gas.
func (in *Intent) MaxFee() *big.Int {
	return new(big.Int).Mul(new(big.Int).SetUint64(in.GasLimit), in.MaxFeePerGas)
}

// MaxCost is the most native coin the transfer can take from the sender:
// MaxFee, plus the amount for a native transfer. For a token the amount
// is in the token, not in the native coin, and is not part of it: a
// sender needs MaxCost of the native coin and Amount of the token.
func (in *Intent) MaxCost() *big.Int {
	return new(big.Int).Add(in.MaxFee(), in.TxValue())
}
