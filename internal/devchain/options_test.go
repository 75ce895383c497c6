package devchain

import (
	"context"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/autowallet/autowallet/contracts"
)

// TestL2StandIn: a chain with id 31337, the GasPriceOracle stand-in at the
// predeploy address and test USDC: the node reports the id, the faucet
// drips test USDC that balanceOf then shows, and getL1Fee answers.
func TestL2StandIn(t *testing.T) {
	c, err := StartWith(Options{ChainID: 31337, Period: 200 * time.Millisecond, L1BaseFee: big.NewInt(7e9), TestUSDC: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	cl, err := ethclient.Dial(c.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if id, err := cl.ChainID(ctx); err != nil || id.Uint64() != 31337 {
		t.Fatalf("chain id %v, %v", id, err)
	}
	if c.USDC == (common.Address{}) {
		t.Fatal("no test USDC")
	}
	to := common.HexToAddress("0x00000000000000000000000000000000000000b0")
	if _, _, err := c.DripToken(ctx, to); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Drip(ctx, to); err != nil {
		t.Fatal(err)
	}
	token, err := contracts.NewTestUSDCCaller(c.USDC, cl)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		bal, err := token.BalanceOf(nil, to)
		if err == nil && bal.Cmp(TokenDripAmount) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("token balance %v, %v; want %v", bal, err, TokenDripAmount)
		}
		time.Sleep(100 * time.Millisecond)
	}
	oracle, err := contracts.NewGasPriceOracleCaller(contracts.GasPriceOracleAddress, cl)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte{1, 0, 2}
	fee, err := oracle.GetL1Fee(nil, data)
	if err != nil || fee.Cmp(contracts.L1Fee(data, big.NewInt(7e9))) != 0 {
		t.Fatalf("getL1Fee %v, %v; want %v", fee, err, contracts.L1Fee(data, big.NewInt(7e9)))
	}
	// The L1 stand-in has no oracle: the call returns nothing.
	l1, err := StartWith(Options{Period: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer l1.Close()
	cl1, _ := ethclient.Dial(l1.URL)
	defer cl1.Close()
	out, err := cl1.CallContract(ctx, ethereum.CallMsg{To: &contracts.GasPriceOracleAddress, Data: []byte{0x49, 0x94, 0x8e, 0x0e}}, nil)
	if err != nil || len(out) != 0 {
		t.Fatalf("oracle on the L1 stand-in: %x, %v", out, err)
	}
}

// TestUSDCAddressStable: the faucet's key is the same on every start, so the
// test USDC is at the same address after a restart (the dev enclave's
// allowed tokens, and its PCR0, do not change), and differs per chain id.
func TestUSDCAddressStable(t *testing.T) {
	addr := func(id uint64) common.Address {
		c, err := StartWith(Options{ChainID: id, Period: time.Second, TestUSDC: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.USDC
	}
	a, b, other := addr(1337), addr(1337), addr(31337)
	if a != b || a == (common.Address{}) || a == other {
		t.Fatalf("USDC at %s then %s; on 31337 %s", a, b, other)
	}
}
