package parent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/internal/devchain"
	"github.com/autowallet/autowallet/networks"
	"github.com/autowallet/autowallet/parent"
)

// lyingNode forwards JSON-RPC to a real node but answers eth_call of the
// selectors in lies with its own result (an RPC node that lies about a
// token balance or the L1 data fee).
func lyingNode(t *testing.T, target string, lies map[string]string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		var req struct {
			ID     json.RawMessage   `json:"id"`
			Method string            `json:"method"`
			Params []json.RawMessage `json:"params"`
		}
		if json.Unmarshal(body, &req) == nil && req.Method == "eth_call" && len(req.Params) > 0 {
			var call struct {
				Data  string `json:"data"`
				Input string `json:"input"`
			}
			json.Unmarshal(req.Params[0], &call)
			data := call.Input + call.Data
			for sel, result := range lies {
				if strings.HasPrefix(data, sel) {
					w.Header().Set("Content-Type", "application/json")
					json.NewEncoder(w).Encode(map[string]any{"jsonrpc": "2.0", "id": req.ID, "result": result})
					return
				}
			}
		}
		resp, err := http.Post(target, "application/json", bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestLyingNode: an RPC node that claims a huge USDC balance and a zero L1
// data fee. The card would show the lies (the parent has no other source),
// but a transfer over the real balance is still refused: eth_estimateGas
// runs the real transfer on the node's real state (ErrTransferWouldFail),
// and had the node lied there too, the enclave signs only the intent and
// the chain reverts it (the fee is the loss, shown as failed). The L1 fee
// the node reports is shown as such; docs/threat-model.md says what that
// means.
func TestLyingNode(t *testing.T) {
	m := newMultiStack(t)
	m.wallet(t, 1, false, false, true, true)                             // ETH and 100 USDC on the L2
	huge := "0x" + strings.Repeat("0", 39) + "c9f2c9cd04674edea40000000" // 10^30 as a 32-byte word
	url := lyingNode(t, m.l2.URL, map[string]string{
		"0x70a08231": huge,                           // balanceOf
		"0x49948e0e": "0x" + strings.Repeat("0", 64), // getL1Fee: zero
	})
	ctx := context.Background()
	c, err := parent.DialChain(ctx, url, networks.DevL2ChainID, parent.ChainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	l2 := m.nets[1]
	svc, err := parent.NewService(m.store, parent.NewEnclaveClientTCP(m.enclave.Addr, 10*time.Second),
		[]parent.NetworkChain{{Network: l2, Chain: c}}, parent.ServiceConfig{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	w, _ := svc.Wallet(1)
	bs, _ := svc.Balances(ctx, w.Address)
	if len(bs) != 2 || !bs[1].Known() || bs[1].Amount.Cmp(new(big.Int).Exp(big.NewInt(10), big.NewInt(30), nil)) != 0 {
		t.Fatalf("balances through the lying node: %+v", bs)
	}
	_, err = svc.Build(ctx, parent.BuildRequest{Owner: 1, ChainID: l2.ChainID, Token: l2.Tokens[0].Address,
		To: common.HexToAddress("0x00000000000000000000000000000000000000e1"), Amount: new(big.Int).Add(devchain.TokenDripAmount, big.NewInt(1))})
	if !errors.Is(err, parent.ErrTransferWouldFail) {
		t.Fatalf("transfer over the real balance through a lying node: %v, want ErrTransferWouldFail", err)
	}
	tr, err := svc.Build(ctx, parent.BuildRequest{Owner: 1, ChainID: l2.ChainID, Token: l2.Tokens[0].Address,
		To: common.HexToAddress("0x00000000000000000000000000000000000000e1"), Amount: big.NewInt(1_000_000)})
	if err != nil {
		t.Fatal(err)
	}
	if tr.L1Fee != nil && tr.L1Fee.Sign() != 0 {
		t.Errorf("L1 fee %v, the node said zero", tr.L1Fee)
	}
}
