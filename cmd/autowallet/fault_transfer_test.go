package main

import (
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/bot/emulator"
	"github.com/autowallet/autowallet/protocol"
	"github.com/autowallet/autowallet/storage"
	"github.com/autowallet/autowallet/storage/bolt"
)

// fundedUser creates a wallet for a new user through the bot and funds it.
func (w *faultWorld) fundedUser(id int64, name string) (*emulator.User, common.Address) {
	w.t.Helper()
	u := w.emu.User(id, name, strings.ToLower(name))
	card := createWallet(w.t, u)
	addr := common.HexToAddress(addressPattern.FindString(card.Caption))
	w.node.Fund(w.t, addr, big.NewInt(1e18))
	return u, addr
}

// approval opens the card's Review & approve link in the Mini App, as the
// user, and returns the Telegram-signed initData.
func approval(t *testing.T, u *emulator.User, link string) string {
	t.Helper()
	_, initData, err := u.OpenMiniApp(link)
	if err != nil {
		t.Fatal(err)
	}
	return initData
}

// cardSays waits until the card with id says want.
func cardSays(t *testing.T, u *emulator.User, id int, want string) {
	t.Helper()
	ok := waitFor(60*time.Second, func() bool {
		for _, m := range u.Messages() {
			if m.ID == id && strings.Contains(m.Text, want) {
				return true
			}
		}
		return false
	})
	if !ok {
		for _, m := range u.Messages() {
			if m.ID == id {
				t.Fatalf("card %d says %q, want %q", id, m.Text, want)
			}
		}
		t.Fatalf("card %d is gone", id)
	}
}

func transferState(t *testing.T, data, id string) storage.State {
	t.Helper()
	store, err := bolt.Open(data, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	tr, err := store.Transfer(id)
	if err != nil {
		t.Fatal(err)
	}
	return tr.State
}

var recipient = common.HexToAddress("0x4444444444444444444444444444444444444444")

// TestFaultKillWhileSent: the parent is killed (SIGKILL) while a transfer is
// sent and waiting for confirmations; a new parent process on the same
// data folder follows it to confirmed, exactly once (one "transfer
// confirmed" in all the parents' logs), and the card says so.
func TestFaultKillWhileSent(t *testing.T) {
	w := newFaultWorld(t)
	p := w.startParent("-confirmations", "3")
	u, _ := w.fundedUser(7101, "Cleo")
	card, link := sendCard(t, u, "0.01", recipient)
	status, ans, code := approveVia(t, p, approval(t, u, link))
	if status != http.StatusOK || ans.Status != "sent" {
		t.Fatalf("approve: %d %+v %s", status, ans, code)
	}
	kill9(t, p)
	if s := transferState(t, w.data, ans.TransferID); s != storage.StateSent {
		t.Fatalf("killed with the transfer %s, want sent", s)
	}

	p = w.startParent("-confirmations", "3")
	cardSays(t, u, card.ID, "Confirmed in block")
	stopParent(t, p)
	if s := transferState(t, w.data, ans.TransferID); s != storage.StateConfirmed {
		t.Fatalf("after restart the transfer is %s", s)
	}
	if n := w.countLog(`msg="transfer confirmed"`); n != 1 {
		t.Fatalf("%d confirmations logged, want exactly 1\n%s", n, w.parentLogs())
	}
	w.checkPromises(u)
}

// TestFaultNodeDown: the RPC node stops for a while. The parent keeps
// running and says so (/healthz: chain unreachable); an approval is signed
// and stored but waits (API status "approved", card "not accepted by the
// network yet: the network node is not reachable"); a new /send is refused
// with a message saying the network is not reachable. When the node
// returns, the waiting transfer is sent and confirmed; a transfer built then
// takes the next nonce and is confirmed once approved, each once.
func TestFaultNodeDown(t *testing.T) {
	w := newFaultWorld(t)
	p := w.startParent()
	u, _ := w.fundedUser(7201, "Dora")
	card1, link1 := sendCard(t, u, "0.01", recipient)

	w.node.Stop(t)
	if h := health(t, p); h.Chain != "unreachable" || h.Status != "degraded" {
		t.Fatalf("healthz with the node down: %+v", h)
	}
	status, ans, code := approveVia(t, p, approval(t, u, link1))
	if status != http.StatusOK || ans.Status != "approved" || ans.TxHash == "" {
		t.Fatalf("approve with the node down: %d %+v %s", status, ans, code)
	}
	cardSays(t, u, card1.ID, "not accepted by the network yet: the network node is not reachable")
	reply := ask(t, u, "/send 0.03 ETH to "+recipient.Hex(), func(m emulator.Message) bool { return !m.Edited })
	if !strings.Contains(reply.Text, "network is not reachable") {
		t.Fatalf("/send with the node down answered %q", reply.Text)
	}
	if h := health(t, p); h.Status != "degraded" {
		t.Fatalf("healthz: %+v", h)
	}

	w.node.Start(t)
	card2, link2 := sendCard(t, u, "0.02", recipient)
	cardSays(t, u, card1.ID, "Confirmed in block")
	status, ans2, code := approveVia(t, p, approval(t, u, link2))
	if status != http.StatusOK || ans2.Status != "sent" {
		t.Fatalf("approve after the node returned: %d %+v %s", status, ans2, code)
	}
	cardSays(t, u, card2.ID, "Confirmed in block")
	if h := health(t, p); h.Status != "ok" {
		t.Fatalf("healthz after the node returned: %+v", h)
	}
	stopParent(t, p)
	w.checkPromises(u)
}

// TestFaultEnclaveRestart: the enclave process is killed (SIGKILL) and
// started again on the same loopback port with its dev vault key file. While
// it is down, /healthz says so, an approval answers enclave_unavailable and
// nothing is signed (the card still asks for approval), wallet creation
// tells the user the signer is not available. Back up, it is unlocked from
// the key file, the same approval goes through, old records open, new
// wallets work. (The KMS path, where the parent's KeepEnclaveUnlocked
// unlocks a restarted enclave with the stored blob, is
// parent.TestKeepEnclaveUnlocked: cmd/enclave reaches KMS only over vsock.)
func TestFaultEnclaveRestart(t *testing.T) {
	w := newFaultWorld(t)
	p := w.startParent()
	u, _ := w.fundedUser(7301, "Eve")
	card, link := sendCard(t, u, "0.01", recipient)
	initData := approval(t, u, link)

	w.killEnclave()
	if h := health(t, p); h.Enclave != "unreachable" || h.Status != "degraded" {
		t.Fatalf("healthz with the enclave down: %+v", h)
	}
	status, _, code := approveVia(t, p, initData)
	if code != protocol.CodeEnclaveUnavailable || status != protocol.CodeEnclaveUnavailable.HTTPStatus() {
		t.Fatalf("approve with the enclave down: %d %s", status, code)
	}
	cardSays(t, u, card.ID, "Waiting for your approval")
	fay := w.emu.User(7302, "Fay", "fay")
	greeting := ask(t, fay, "/start", anyMessage)
	if _, err := fay.Press(greeting.ID, "w:create"); err != nil {
		t.Fatal(err)
	}
	told := waitMessage(t, fay, "answer to Create wallet", func(m emulator.Message) bool { return m.FromBot && m.ID > greeting.ID })
	if !strings.Contains(told.Text, "signer is not available") || isPhoto(told) {
		t.Fatalf("Create wallet with the enclave down answered %q", told.Text)
	}

	w.startEnclave()
	if !waitFor(30*time.Second, func() bool { return health(t, p).Enclave == "unlocked" }) {
		t.Fatalf("the enclave did not come back unlocked: %+v", health(t, p))
	}
	var ans struct{ status string }
	if !waitFor(30*time.Second, func() bool {
		st, a, c := approveVia(t, p, initData)
		if st == http.StatusOK {
			ans.status = a.Status
			return true
		}
		if c != protocol.CodeEnclaveUnavailable {
			t.Fatalf("approve after the restart: %d %s", st, c)
		}
		return false
	}) || ans.status != "sent" {
		t.Fatalf("approve after the restart: %q", ans.status)
	}
	cardSays(t, u, card.ID, "Confirmed in block")
	walletCard(t, fay)
	stopParent(t, p)
	w.checkPromises(u, fay)
}
