package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"math/big"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/jackc/pgx/v5"

	"github.com/autowallet/autowallet/bot/emulator"
	"github.com/autowallet/autowallet/internal/testenv"
	"github.com/autowallet/autowallet/internal/testvectors"
	"github.com/autowallet/autowallet/protocol"
	"github.com/autowallet/autowallet/storage/postgres"
)

// EnclaveOpens asks an enclave (the first running parent's) to approve a
// transfer from each user's stored wallet, with initData signed for the
// user: the stored record opens and signs as that wallet.
func (c *Cluster) EnclaveOpens(t testing.TB, users []*emulator.User) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := postgres.Open(ctx, c.DSN, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	vault, err := os.ReadFile(c.VaultKey)
	if err != nil {
		t.Fatal(err)
	}
	var p *Parent
	for _, q := range c.Parents {
		if q.Running() {
			p = q
			break
		}
	}
	client := &http.Client{Timeout: 30 * time.Second}
	if p.Host != nil {
		client = p.Host.HTTPClient(30 * time.Second) // the enclave is on p's loopback
	}
	for _, u := range users {
		wal, err := db.WalletByOwner(u.ID())
		if err != nil {
			t.Fatalf("user %d: %v", u.ID(), err)
		}
		in := &protocol.Intent{ChainID: c.Node.ChainID, From: wal.Address, To: common.HexToAddress("0x3333333333333333333333333333333333333333"),
			Amount: big.NewInt(1), Nonce: 999, GasLimit: 21000, MaxFeePerGas: big.NewInt(2e9), MaxPriorityFeePerGas: big.NewInt(1e9),
			Expiry:      uint64(time.Now().Add(time.Minute).Unix()),
			WalletProof: testvectors.WalletProof(vault, wal.Owner, wal.Address)}
		sp, err := in.EncodeStartParam()
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(protocol.ApproveRequest{InitData: testenv.SignInitData(c.tgKey, wal.Owner, sp, time.Now()), Record: wal.Record})
		resp, err := client.Post("http://"+p.encAddr+protocol.PathApprove, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var ar protocol.ApproveResponse
		derr := json.NewDecoder(resp.Body).Decode(&ar)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || derr != nil {
			t.Fatalf("wallet %s of user %d: the enclave does not open its record (HTTP %d)", wal.Address.Hex(), wal.Owner, resp.StatusCode)
		}
		raw, _ := hexutil.Decode(ar.RawTx)
		var tx types.Transaction
		if err := tx.UnmarshalBinary(raw); err != nil {
			t.Fatal(err)
		}
		if from, err := types.Sender(types.LatestSignerForChainID(tx.ChainId()), &tx); err != nil || from != wal.Address {
			t.Fatalf("wallet %s: signed by %s (%v)", wal.Address.Hex(), from.Hex(), err)
		}
	}
}

// SetServer sets a PostgreSQL server parameter (ALTER SYSTEM) and reloads
// the configuration, for settings a deployment makes (docs/postgres.md).
func (c *Cluster) SetServer(t testing.TB, name, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// name is the test's constant; the value goes quoted as a literal.
	if _, err := conn.Exec(ctx, "ALTER SYSTEM SET "+pgx.Identifier{name}.Sanitize()+" = "+quoteLiteral(value)); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		t.Fatal(err)
	}
}

func quoteLiteral(s string) string {
	return "'" + string(bytes.ReplaceAll([]byte(s), []byte("'"), []byte("''"))) + "'"
}
