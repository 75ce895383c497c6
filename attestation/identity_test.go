package attestation

import (
	"bytes"
	"errors"
	"testing"
)

func TestDocumentIdentityKey(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	got, err := (&Document{PublicKey: key}).IdentityKey()
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("%x %v", got, err)
	}
	for _, pk := range [][]byte{nil, {}, key[:31], append(key, 0), bytes.Repeat([]byte{1}, 294)} {
		if _, err := (&Document{PublicKey: pk}).IdentityKey(); !errors.Is(err, ErrNoIdentityKey) {
			t.Errorf("public_key of %d bytes: %v", len(pk), err)
		}
	}
}
