package bolt

import (
	"errors"
	"testing"
	"time"

	"github.com/autowallet/autowallet/storage"
	"go.etcd.io/bbolt"
)

// TestFlowRecordStrict: a flow record that does not decode is ErrCorrupt
// for reads and versioned writes, and DeleteFlow(chat, 0) and PruneFlows
// remove it.
func TestFlowRecordStrict(t *testing.T) {
	db, _ := openTestDB(t)
	good, err := db.PutFlow(5, 0, []byte("x"), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	enc := encodeFlow(&good)
	for name, raw := range map[string][]byte{
		"trailing":    append(append([]byte(nil), enc...), 0),
		"version 2":   append([]byte{2}, enc[1:]...),
		"version 0":   {flowV1, 0, 0, 1, 'x'},
		"no data":     {flowV1, 1, 0, 0},
		"truncated":   enc[:len(enc)-1],
		"empty value": {},
	} {
		if err := db.bdb.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketFlows).Put(flowKey(5), raw) }); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Flow(5); !errors.Is(err, storage.ErrCorrupt) {
			t.Fatalf("%s: read %v", name, err)
		}
		if _, err := db.PutFlow(5, good.Version, []byte("y"), time.Minute); !errors.Is(err, storage.ErrCorrupt) {
			t.Fatalf("%s: put %v", name, err)
		}
		if _, err := db.DeleteFlow(5, good.Version); !errors.Is(err, storage.ErrCorrupt) {
			t.Fatalf("%s: versioned delete %v", name, err)
		}
	}
	if live, err := db.DeleteFlow(5, 0); err != nil || live {
		t.Fatal(live, err)
	}
	if err := db.bdb.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketFlows).Put(flowKey(6), []byte{9}) }); err != nil {
		t.Fatal(err)
	}
	if n, err := db.PruneFlows(); err != nil || n != 1 {
		t.Fatal(n, err)
	}
}
