package enclave

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"

	"github.com/autowallet/autowallet/protocol"
)

// identityInfo is the HKDF info of the deployment identity key
// (docs/protocol.md, "Deployment identity key").
const identityInfo = "autowallet deployment identity v1"

// deriveIdentity derives the deployment identity key from the vault key:
// seed = HKDF-SHA256(secret = vault key, salt = empty, info = identityInfo).
// Every enclave of a deployment shares the vault key, so they all hold the
// same identity, across restarts, without it ever being stored or leaving
// the enclave. The HKDF info separates it from the vault key's other use
// (AES-GCM sealing), so neither use can help attack the other.
func deriveIdentity(vaultKey []byte) (ed25519.PrivateKey, error) {
	seed, err := hkdf.Key(sha256.New, vaultKey, nil, identityInfo, ed25519.SeedSize)
	if err != nil {
		return nil, fmt.Errorf("enclave: deriving the identity key: %w", err)
	}
	defer clear(seed)
	return ed25519.NewKeyFromSeed(seed), nil
}

// IdentityPublicKey is the deployment identity public key, or nil while the
// signer is locked.
func (s *Signer) IdentityPublicKey() ed25519.PublicKey {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.identity == nil {
		return nil
	}
	return ed25519.PublicKey(append([]byte(nil), s.identity[ed25519.SeedSize:]...))
}

// Statement is a wallet statement made from a sealed record.
type Statement struct {
	Owner   int64
	Address [20]byte
	Proof   []byte
}

// Statement opens rec under the vault key and answers the statement "its
// address belongs to its owner" with the identity key's proof. It checks,
// in order: the vault is unlocked, the record decodes, it opens (which
// authenticates owner and address). The plaintext key is wiped at once:
// only the header is stated, but opening is what proves the record is this
// deployment's, so a host cannot get a proof for an owner and address it
// wrote itself.
func (s *Signer) Statement(rec []byte) (*Statement, error) {
	aead, id, err := s.keys()
	if err != nil {
		return nil, err
	}
	r, err := decodeRecord(rec)
	if err != nil {
		return nil, err
	}
	secret, err := aead.Open(make([]byte, 0, 32), r.Nonce, r.Sealed, r.header)
	clear(secret)
	if err != nil {
		return nil, fmt.Errorf("%w: it was altered, or sealed by another deployment", protocol.ErrRecordTampered)
	}
	proof, err := protocol.SignStatement(id, r.Owner, r.Address)
	if err != nil {
		return nil, err
	}
	return &Statement{Owner: r.Owner, Address: r.Address, Proof: proof}, nil
}
