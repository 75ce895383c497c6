package testchain

import (
	"context"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

func TestGethMissingSaysMakeTools(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("AUTOWALLET_TOOLS", t.TempDir())
	t.Chdir(t.TempDir()) // no .tools above it either
	_, err := GethPath()
	if err == nil || !strings.Contains(err.Error(), "make tools") {
		t.Fatalf("GethPath without geth: %v, want an error telling to run make tools", err)
	}
}

func TestGethFromToolsDir(t *testing.T) {
	tools := t.TempDir()
	bin := filepath.Join(tools, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	fake := filepath.Join(bin, "geth")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", t.TempDir())
	t.Setenv("AUTOWALLET_TOOLS", tools)
	if p, err := GethPath(); err != nil || p != fake {
		t.Fatalf("GethPath = %q, %v; want %q", p, err, fake)
	}
}

func TestDevNode(t *testing.T) {
	n := Start(t, WithPeriod(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if !strings.HasPrefix(n.URL, "http://127.0.0.1:") {
		t.Fatalf("URL %q is not on loopback", n.URL)
	}
	var id hexutil.Uint64
	if err := n.Call(ctx, &id, "eth_chainId"); err != nil || uint64(id) != ChainID || n.ChainID != ChainID {
		t.Fatalf("eth_chainId = %d, %v; want %d", id, err, ChainID)
	}
	to := common.HexToAddress("0x00000000000000000000000000000000000a11ce")
	amount := big.NewInt(1_000_000_007)
	r := n.Fund(t, to, amount)
	if r.Status != 1 || r.BlockNumber == 0 {
		t.Fatalf("funding receipt %+v", r)
	}
	var bal hexutil.Big
	if err := n.Call(ctx, &bal, "eth_getBalance", to, "latest"); err != nil || bal.ToInt().Cmp(amount) != 0 {
		t.Fatalf("balance %v, %v; want %v", bal.ToInt(), err, amount)
	}
	// A block a second: the chain moves on by itself.
	n.WaitBlock(t, uint64(r.BlockNumber)+2)

	// Down and up again on the same datadir and port: the chain survives.
	n.Stop(t)
	if n.Running() {
		t.Fatal("Running after Stop")
	}
	if err := n.Call(ctx, nil, "eth_chainId"); err == nil {
		t.Fatal("eth_chainId answered with the node stopped")
	}
	n.Start(t)
	if !n.Running() {
		t.Fatal("not Running after Start")
	}
	if err := n.Call(ctx, &bal, "eth_getBalance", to, "latest"); err != nil || bal.ToInt().Cmp(amount) != 0 {
		t.Fatalf("balance after restart %v, %v; want %v", bal.ToInt(), err, amount)
	}
	n.Fund(t, to, amount)
}

func TestDevNodeMinesOnDemand(t *testing.T) {
	n := Start(t, WithPeriod(0))
	before := n.BlockNumber(t)
	r := n.Mine(t)
	if uint64(r.BlockNumber) <= before {
		t.Fatalf("Mine: block %d, head was %d", r.BlockNumber, before)
	}
	n.WaitBlock(t, uint64(r.BlockNumber)+2) // mines the blocks itself
}

func TestStartFailureShowsLog(t *testing.T) {
	// A flag geth does not know makes it exit at once; Start must report
	// geth's own words. Run in a subtest-like fake TB to catch the failure.
	ft := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { _ = recover() }()
		Start(ft, WithArgs("--no-such-flag"))
	}()
	<-done
	if !ft.failed || !strings.Contains(ft.msg, "no-such-flag") {
		t.Fatalf("Start with a bad flag: failed=%v msg=%q; want a failure showing geth's output", ft.failed, ft.msg)
	}
}

// fakeTB records Fatalf instead of failing the real test.
type fakeTB struct {
	testing.TB
	failed bool
	msg    string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = true
	f.msg = fmt.Sprintf(format, args...)
	panic("fatal")
}
