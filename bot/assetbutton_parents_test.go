package bot_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/bot"
	"github.com/autowallet/autowallet/bot/emulator"
	"github.com/autowallet/autowallet/internal/devchain"
	"github.com/autowallet/autowallet/internal/teststack"
	"github.com/autowallet/autowallet/networks"
	"github.com/autowallet/autowallet/parent"
)

// to sends the world's next update to instance i.
func (a *alternator) to(i int) {
	a.mu.Lock()
	a.next = i
	a.mu.Unlock()
}

// TestAssetButtonAcrossParentsWithOtherLists: two parents behind one
// webhook run different token lists on the same network (a rolling change
// of the network files): parent a lists FAKE, USDC; parent b lists USDC,
// FAKE, OLD. The asset question is asked by b and its buttons tapped on a
// (review 12, finding 5):
//   - "USDC on <net>" picks USDC on a too (by an index into a's list it
//     would have picked FAKE);
//   - "OLD on <net>", which a does not list, is refused with a sentence
//     that names the token, and the choice is asked again with a's coins;
//   - a button of the old format (an index, "f:asset:1", from a message sent
//     before the upgrade) is refused as such, and the choice asked again.
func TestAssetButtonAcrossParentsWithOtherLists(t *testing.T) {
	usdc := networks.Token{Address: common.HexToAddress("0x00000000000000000000000000000000000a5dc0"), Symbol: "USDC", Decimals: 6}
	fake := networks.Token{Address: common.HexToAddress("0x00000000000000000000000000000000000fa4e0"), Symbol: "FAKE", Decimals: 18}
	old := networks.Token{Address: common.HexToAddress("0x00000000000000000000000000000000000001d0"), Symbol: "OLD", Decimals: 18}
	lists := [][]networks.Token{{fake, usdc}, {usdc, fake, old}}
	var netName string
	w := newFlowWorld(t, flowOptions{instances: 2,
		service: func(i int, st *teststack.Stack) (*parent.Service, bot.UpdateStore) {
			pc, err := parent.DialChain(context.Background(), st.Chain.URL, devchain.ChainID, parent.ChainOptions{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(pc.Close)
			n := networks.ForChainID(devchain.ChainID)
			n.Tokens = lists[i]
			netName = n.Name
			svc, err := parent.NewService(st.Store, parent.NewEnclaveClientTCP(st.Enclave.Addr, 10*time.Second),
				[]parent.NetworkChain{{Network: n, Chain: pc}},
				parent.ServiceConfig{Confirmations: 1, PollInterval: 200 * time.Millisecond}, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			return svc, st.Store
		},
	})
	const a, b = 0, 1
	// question has b ask alice's coin: /send on a, the recipient on b. The
	// wallet holds nothing, so every coin of b's list is offered.
	question := func(u *user) emulator.Message {
		t.Helper()
		if _, _, err := w.bots[0].svc.EnsureWallet(context.Background(), u.ID()); err != nil {
			t.Fatal(err)
		}
		w.alt.to(a)
		u.say("/send")
		w.alt.to(b)
		q := u.say(bobAddr)
		if !strings.Contains(q.Text, "What do you want to send") || !hasButton(q, "OLD on "+netName) {
			t.Fatalf("b's question: %q %+v", q.Text, q.Buttons)
		}
		return q
	}

	alice := &user{User: w.emu.User(1701, "Alice", "alice"), t: t}
	q := question(alice)
	w.alt.to(a)
	alice.press(q, "USDC on "+netName)
	if m := alice.next(); !strings.Contains(m.Text, "How much USDC on "+netName) || strings.Contains(m.Text, "FAKE") {
		t.Fatalf("USDC tapped on the other parent: %q", m.Text)
	}

	carol := &user{User: w.emu.User(1702, "Carol", "carol"), t: t}
	q = question(carol)
	w.alt.to(a)
	carol.press(q, "OLD on "+netName)
	if m := carol.next(); !strings.Contains(m.Text, "not offered on "+netName) || !strings.Contains(m.Text, old.Address.Hex()) || !strings.Contains(m.Text, "Nothing was chosen") {
		t.Fatalf("OLD tapped on a parent without it: %q", m.Text)
	}
	if m := carol.next(); !strings.Contains(m.Text, "What do you want to send") || hasButton(m, "OLD") || !hasButton(m, "USDC on "+netName) {
		t.Fatalf("the choice asked again: %q %+v", m.Text, m.Buttons)
	}

	// An old-format button: the update Telegram would deliver for a tap
	// on a question sent before the upgrade (the emulator only presses
	// buttons it sent, so the update is posted as Telegram posts it).
	dave := &user{User: w.emu.User(1703, "Dave", "dave"), t: t}
	q = question(dave)
	update := fmt.Sprintf(`{"update_id":990001,"callback_query":{"id":"990001","from":{"id":1703,"is_bot":false,"first_name":"Dave"},`+
		`"message":{"message_id":%d,"date":1,"chat":{"id":1703,"type":"private"}},"chat_instance":"1703","data":"f:asset:1"}}`, q.ID)
	if code, body := post(t, w.bots[a].srv.URL+hookPath, hookSecret, update); code != 200 {
		t.Fatalf("old-format tap: HTTP %d %s", code, body)
	}
	if m := dave.next(); !strings.Contains(m.Text, "from before an update") || strings.Contains(m.Text, "How much") {
		t.Fatalf("old-format tap answered %q", m.Text)
	}
	if m := dave.next(); !strings.Contains(m.Text, "What do you want to send") {
		t.Fatalf("the choice asked again: %q", m.Text)
	}
}
