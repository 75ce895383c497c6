package bolt

import (
	"encoding/hex"
	"errors"
	"testing"

	"github.com/autowallet/autowallet/storage"
)

// TestSchemaVersionValue: the meta bucket's schema version value is frozen
// (every future program must read it to know whether it may open the
// file), and it decodes strictly.
func TestSchemaVersionValue(t *testing.T) {
	if got := hex.EncodeToString(encodeSchemaVersion(1)); got != "010000000000000001" {
		t.Errorf("schema version value %s", got)
	}
	for _, bad := range [][]byte{nil, {metaV1}, {2, 0, 0, 0, 0, 0, 0, 0, 1}, {metaV1, 0, 0, 0, 0, 0, 0, 0, 0}} {
		if _, err := decodeSchemaVersion(bad); !errors.Is(err, storage.ErrCorrupt) {
			t.Errorf("% x: %v, want ErrCorrupt", bad, err)
		}
	}
}

// TestSchemaKeyIsReserved: the key bbolt keeps the schema version under is
// the one storage.CheckMetaKey refuses to every caller (Meta, PutMeta and
// PutItems go through it).
func TestSchemaKeyIsReserved(t *testing.T) {
	if err := storage.CheckMetaKey(string(metaSchemaKey)); !errors.Is(err, storage.ErrInvalid) {
		t.Fatalf("CheckMetaKey(%q) = %v, want ErrInvalid", metaSchemaKey, err)
	}
}
