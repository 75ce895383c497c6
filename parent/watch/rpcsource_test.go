package watch

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

// A block as an OP-stack node (Base, Optimism) answers it: the first
// transaction is a deposit transaction (type 0x7e), which go-ethereum's
// types cannot decode. RPCSource reads only hash, from, to and value, so
// such a block does not stop the watcher.
const opBlockJSON = `{
 "number":"0x%x","hash":"0x%064x","parentHash":"0x%064x","timestamp":"0x6553f100",
 "transactions":[
  {"type":"0x7e","hash":"0x01000000000000000000000000000000000000000000000000000000000000aa",
   "from":"0xdeaddeaddeaddeaddeaddeaddeaddeaddead0001","to":"0x4200000000000000000000000000000000000015",
   "value":"0x0","sourceHash":"0x02","mint":"0x0","isSystemTx":false,"gas":"0xf4240","input":"0x440a5e20"},
  {"type":"0x2","hash":"0x01000000000000000000000000000000000000000000000000000000000000bb",
   "from":"0x00000000000000000000000000000000000000f1","to":"0x00000000000000000000000000000000000000a1",
   "value":"0xde0b6b3a7640000","chainId":"0x2105","nonce":"0x1","gas":"0x5208",
   "maxFeePerGas":"0x1","maxPriorityFeePerGas":"0x1","input":"0x","v":"0x0","r":"0x1","s":"0x1"}
 ]}`

func TestRPCSourceReadsOPStackBlocks(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var reqs []struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params []json.RawMessage
		}
		if err := json.Unmarshal(body, &reqs); err != nil {
			http.Error(w, "batches only", 400)
			return
		}
		var out []json.RawMessage
		for _, q := range reqs {
			var num string
			json.Unmarshal(q.Params[0], &num)
			var n uint64
			fmt.Sscanf(num, "0x%x", &n)
			res := fmt.Sprintf(opBlockJSON, n, n+1000, n+999)
			out = append(out, json.RawMessage(fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":%s}`, q.ID, res)))
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out)
	}))
	defer srv.Close()
	src, err := Dial(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	src.BatchSize = 2
	blocks, err := src.Blocks(context.Background(), 10, 14)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 5 || blocks[4].Number != 14 || blocks[1].ParentHash != blocks[0].Hash {
		t.Fatalf("blocks: %+v", blocks)
	}
	tx := blocks[0].Txs[1]
	if len(blocks[0].Txs) != 2 || *tx.To != common.HexToAddress("0xa1") || tx.Value.String() != "1000000000000000000" ||
		tx.From != common.HexToAddress("0xf1") || blocks[0].Time != 0x6553f100 {
		t.Fatalf("transactions: %+v", blocks[0].Txs)
	}
}

// Errors name the node by scheme and host only: providers put API keys in
// the URL's path or query, and these errors are logged.
func TestRPCSourceErrorsHideTheURLKey(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close() // nothing listens there now
	src, err := Dial(context.Background(), u+"/v2/SECRETKEY123?key=SECRETQUERY")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	_, err1 := src.Head(context.Background())
	_, err2 := src.Blocks(context.Background(), 1, 2)
	for _, err := range []error{err1, err2} {
		if err == nil || strings.Contains(err.Error(), "SECRET") {
			t.Fatalf("error %v: want a failure without the key", err)
		}
	}
}
