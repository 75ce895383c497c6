// Package contracts holds the contracts the tests and `autowallet dev` deploy,
// compiled from audited or in-repo sources by build.sh with pinned tools
// (docs/contracts.md):
//
//   - TestUSDC: OpenZeppelin's ERC20 + Ownable (npm @openzeppelin/contracts,
//     unchanged), 6 decimals, owner-only mint;
//   - TestUSDT: a small in-repo token whose transfer and transferFrom return
//     nothing, like Tether's USDT on Ethereum;
//   - GasPriceOracle: a stand-in for the OP Stack predeploy at
//     0x420000000000000000000000000000000000000F (the L1 data fee).
//
// build/ holds the committed ABI and bytecode; testusdc.go, testusdt.go and
// gaspriceoracle.go are abigen bindings generated from them. A test rebuilds
// everything and fails unless the bytes are the same.
package contracts

//go:generate ./build.sh

import (
	_ "embed"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// Deployed (runtime) code of each contract, as committed in build/.
var (
	//go:embed build/TestUSDC.bin-runtime
	testUSDCRuntimeHex string
	//go:embed build/TestUSDT.bin-runtime
	testUSDTRuntimeHex string
	//go:embed build/GasPriceOracle.bin-runtime
	gasPriceOracleRuntimeHex string
)

// Decimals of both test tokens, as USDC and USDT.
const Decimals = 6

// GasPriceOracleAddress is the OP Stack predeploy address of the
// GasPriceOracle, where OP Stack chains (Optimism, Base) serve getL1Fee.
var GasPriceOracleAddress = common.HexToAddress("0x420000000000000000000000000000000000000F")

// GasPriceOracleL1BaseFeeSlot is the storage slot (0) in which the stand-in
// keeps the L1 base fee in wei; its only state.
var GasPriceOracleL1BaseFeeSlot = common.Hash{}

// TestUSDCRuntimeCode returns TestUSDC's deployed code (a fresh copy).
func TestUSDCRuntimeCode() []byte { return fromHex(testUSDCRuntimeHex) }

// TestUSDTRuntimeCode returns TestUSDT's deployed code (a fresh copy).
func TestUSDTRuntimeCode() []byte { return fromHex(testUSDTRuntimeHex) }

// GasPriceOracleRuntimeCode returns the GasPriceOracle stand-in's deployed
// code (a fresh copy). It does not depend on the constructor: the only state
// is GasPriceOracleL1BaseFeeSlot.
func GasPriceOracleRuntimeCode() []byte { return fromHex(gasPriceOracleRuntimeHex) }

// GasPriceOracleGenesis returns the genesis account that places the
// stand-in's code with the given L1 base fee (wei); put it at
// GasPriceOracleAddress in a chain's genesis alloc to make that chain answer
// getL1Fee like an OP Stack chain.
func GasPriceOracleGenesis(l1BaseFee *big.Int) types.Account {
	return types.Account{
		Code:    GasPriceOracleRuntimeCode(),
		Storage: map[common.Hash]common.Hash{GasPriceOracleL1BaseFeeSlot: common.BigToHash(l1BaseFee)},
		Balance: new(big.Int),
	}
}

// L1Fee computes in Go what the stand-in's getL1Fee(data) returns: the OP
// Bedrock formula with overhead 0 and scalar 1.0.
func L1Fee(data []byte, l1BaseFee *big.Int) *big.Int {
	gas := uint64(68 * 16)
	for _, b := range data {
		if b == 0 {
			gas += 4
		} else {
			gas += 16
		}
	}
	return new(big.Int).Mul(new(big.Int).SetUint64(gas), l1BaseFee)
}

func fromHex(s string) []byte {
	return common.FromHex(strings.TrimSpace(s))
}
