package attestation

import (
	"crypto/ed25519"
	"errors"
	"fmt"
)

// ErrNoIdentityKey: the document binds no deployment identity key (an
// enclave attests with one only while unlocked).
var ErrNoIdentityKey = errors.New("the document binds no deployment identity key")

// IdentityKey is the deployment identity public key an autowallet enclave
// binds in a verified document's public_key (docs/attestation.md): exactly
// 32 raw bytes of an Ed25519 key. It is the key the Mini App's config.json
// must pin, tied by this document to the measured image (PCR0).
func (d *Document) IdentityKey() (ed25519.PublicKey, error) {
	switch {
	case len(d.PublicKey) == 0:
		return nil, ErrNoIdentityKey
	case len(d.PublicKey) != ed25519.PublicKeySize:
		return nil, fmt.Errorf("%w: public_key is %d bytes, an Ed25519 key is %d", ErrNoIdentityKey, len(d.PublicKey), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(append([]byte(nil), d.PublicKey...)), nil
}
