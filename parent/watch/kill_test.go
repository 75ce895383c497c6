package watch

// kill -9 of a real process running the watcher and the deliverer: the test
// binary runs itself as the child (TestWatchChild), against geth --dev, on
// one data folder; the child's Notify appends the alert to an "inbox" file
// (fsynced) as Telegram would accept a message.

import (
	"bufio"
	"context"
	"math/big"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/autowallet/autowallet/contracts"
	"github.com/autowallet/autowallet/internal/testchain"
	"github.com/autowallet/autowallet/networks"
	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/bolt"
)

const childEnv = "AUTOWALLET_WATCH_CHILD"

// TestWatchChild is the child process; it does nothing in a normal run.
func TestWatchChild(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		t.Skip("child process of TestKill9 (runs only when started by it)")
	}
	dir, url, inboxPath, mode := os.Getenv("CHILD_DIR"), os.Getenv("CHILD_RPC"), os.Getenv("CHILD_INBOX"), os.Getenv("CHILD_MODE")
	n := networks.DevL1()
	n.Confirmations = 1
	n.Tokens = []networks.Token{{Address: common.HexToAddress(os.Getenv("CHILD_TOKEN")), Symbol: "USDC", Decimals: 6}}
	db, err := bolt.Open(dir, bolt.Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	src, err := Dial(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	inbox, err := os.OpenFile(inboxPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	notify := func(ctx context.Context, d storage.Deposit) error {
		if mode == "hang" {
			// Stopped between the stored block and the message.
			os.WriteFile(inboxPath+".hang", []byte(d.TxHash.Hex()), 0o600)
			select {}
		}
		if _, err := inbox.WriteString(d.TxHash.Hex() + "\n"); err != nil {
			return err
		}
		return inbox.Sync()
	}
	a, err := NewAlerts(Config{Store: db, Networks: networks.Set{n}, Sources: map[uint64]Source{n.ChainID: src},
		Notify: notify, Poll: 50 * time.Millisecond, StepBlocks: 5})
	if err != nil {
		t.Fatal(err)
	}
	a.Deliverer.Poll = 50 * time.Millisecond
	os.WriteFile(inboxPath+".ready", nil, 0o600)
	a.Run(context.Background())
}

type childWorld struct {
	t               *testing.T
	dir, rpc, inbox string
	token           common.Address
}

func (c *childWorld) start(mode string) *exec.Cmd {
	c.t.Helper()
	os.Remove(c.inbox + ".ready")
	cmd := exec.Command(os.Args[0], "-test.run=^TestWatchChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=1", "CHILD_DIR="+c.dir, "CHILD_RPC="+c.rpc, "CHILD_INBOX="+c.inbox,
		"CHILD_MODE="+mode, "CHILD_TOKEN="+c.token.Hex())
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.waitFile(c.inbox+".ready", 30*time.Second)
	return cmd
}

func (c *childWorld) kill(cmd *exec.Cmd) {
	c.t.Helper()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		c.t.Fatal(err)
	}
	cmd.Wait()
}

func (c *childWorld) waitFile(path string, d time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s did not appear within %v", path, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// delivered counts the alerts in the inbox file by tx hash.
func (c *childWorld) delivered() map[common.Hash]int {
	out := map[common.Hash]int{}
	f, err := os.Open(c.inbox)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			out[common.HexToHash(line)]++
		}
	}
	return out
}

// waitDelivered waits until every tx in want has an alert.
func (c *childWorld) waitDelivered(want []common.Hash) map[common.Hash]int {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := c.delivered()
		missing := 0
		for _, h := range want {
			if got[h] == 0 {
				missing++
			}
		}
		if missing == 0 {
			return got
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%d of %d alerts not delivered: %v", missing, len(want), got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill -9 of the process between the stored block and the message: the
// alert is delivered exactly once after the restart. Then kill -9 at random
// moments during a catch-up: no alert is skipped, and each kill repeats at
// most one (the documented window: after the message, before the outbox
// entry is removed).
func TestKill9ExactlyOnce(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		t.Skip("in the child")
	}
	node := testchain.Start(t, testchain.WithPeriod(0))
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	ec, err := ethclient.DialContext(ctx, node.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	issuer, alice := newWallet(0), newWallet(1)
	node.Fund(t, issuer.addr, eth(10))
	dep := contracts.NewDeployer(ec, issuer.key, new(big.Int).SetUint64(testchain.ChainID))
	usdc, _, err := dep.DeployTestUSDC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dep.Mint(ctx, usdc, issuer.addr, big.NewInt(1e12)); err != nil {
		t.Fatal(err)
	}
	c := &childWorld{t: t, dir: tempDir(t), rpc: node.URL, inbox: filepath.Join(t.TempDir(), "inbox"), token: usdc}
	db := openStore(t, c.dir)
	storeWallets(t, db, alice)
	db.Close()

	// 1. Killed while the alert waits to be sent.
	child := c.start("hang")
	r, err := dep.Transfer(ctx, usdc, alice.addr, big.NewInt(25_000_000))
	if err != nil {
		t.Fatal(err)
	}
	node.Mine(t)
	c.waitFile(c.inbox+".hang", 30*time.Second)
	c.kill(child)
	child = c.start("normal")
	got := c.waitDelivered([]common.Hash{r.TxHash})
	time.Sleep(300 * time.Millisecond) // a repeat would show up by now
	if got = c.delivered(); got[r.TxHash] != 1 || len(got) != 1 {
		t.Fatalf("after kill -9 before the message: %v, want one alert for %s", got, r.TxHash)
	}
	c.kill(child)

	// 2. Down while deposits arrive, then killed at random moments while
	// catching up (steps of 5 blocks).
	want := []common.Hash{r.TxHash}
	for i := range 20 {
		if i%2 == 0 {
			want = append(want, node.Fund(t, alice.addr, big.NewInt(int64(i+1))).TxHash)
		} else {
			rr, err := dep.Transfer(ctx, usdc, alice.addr, big.NewInt(int64(i+1)))
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, rr.TxHash)
		}
		node.Mine(t)
	}
	node.Mine(t)
	kills := 0
	for range 6 {
		child = c.start("normal")
		time.Sleep(time.Duration(rand.IntN(150)) * time.Millisecond)
		c.kill(child)
		kills++
	}
	child = c.start("normal")
	got = c.waitDelivered(want)
	time.Sleep(300 * time.Millisecond)
	got = c.delivered()
	c.kill(child)
	repeats := 0
	for _, h := range want {
		repeats += got[h] - 1
	}
	if len(got) != len(want) || repeats > kills {
		t.Fatalf("%d alerts for %d deposits with %d repeats after %d kills: %v", len(got), len(want), repeats, kills, got)
	}
	t.Logf("%d deposits, %d kill -9 during catch-up, %d repeated alerts", len(want)-1, kills, repeats)
}
