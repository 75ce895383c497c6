package enclave

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/hf/nsm"
	"github.com/hf/nsm/request"

	"github.com/autowallet/autowallet/protocol"
)

// Attester makes NSM attestation documents (COSE_Sign1 over a CBOR payload,
// docs/attestation.md) that carry the caller's nonce, user data and public
// key. The NSM implements it in an enclave (NSMAttester), the dev NSM in dev
// mode and tests (DevNSM).
type Attester interface {
	Attest(nonce, userData, publicKey []byte) ([]byte, error)
}

// NSM limits on the attested fields (AWS's nsm-api).
const (
	maxNSMNonce     = 512
	maxNSMUserData  = 512
	maxNSMPublicKey = 1024
)

// NSMAttester asks the Nitro Secure Module for attestation documents.
type NSMAttester struct{ sess *nsm.Session }

// NewNSMAttester attests with an open NSM session (the one cmd/enclave also
// reads entropy from).
func NewNSMAttester(sess *nsm.Session) *NSMAttester { return &NSMAttester{sess: sess} }

// Attest implements Attester.
func (a *NSMAttester) Attest(nonce, userData, publicKey []byte) ([]byte, error) {
	res, err := a.sess.Send(&request.Attestation{Nonce: nonce, UserData: userData, PublicKey: publicKey})
	if err != nil {
		return nil, fmt.Errorf("nsm: attestation: %w", err)
	}
	if res.Error != "" {
		return nil, fmt.Errorf("nsm: attestation: %s", res.Error)
	}
	if res.Attestation == nil || len(res.Attestation.Document) == 0 {
		return nil, fmt.Errorf("nsm: attestation: empty answer")
	}
	return res.Attestation.Document, nil
}

// EncodeConfig writes cfg as its version 2 config file (docs/protocol.md,
// section 5), fields in the file's order, chains with their tokens
// (EIP-55) included, so the digest covers what the enclave may sign. Dev
// mode, which builds its config in code, hashes these bytes where a
// production enclave hashes its file.
func EncodeConfig(cfg *Config) []byte {
	mode := "production"
	if cfg.Dev {
		mode = "dev"
	}
	b, err := json.Marshal(configFile{
		Version: ConfigVersion, Mode: mode, BotID: cfg.BotID,
		TelegramPublicKey: hex.EncodeToString(cfg.TelegramPublicKey),
		HMACBotToken:      cfg.HMACBotToken, Chains: cfg.chainTokens(),
		MaxAuthAge: cfg.MaxAuthAge.String(), ClockSkew: cfg.ClockSkew.String(),
		KMSKeyARN: cfg.KMS.keyARN(), KMSRegion: cfg.KMS.region(), KMSProxyPort: cfg.KMS.proxyPort(),
	})
	if err != nil {
		panic(err) // plain fields: cannot fail
	}
	return b
}

// ConfigDigest is what the enclave binds in an attestation's user_data: the
// SHA-256 of its config file's bytes, so a verifier sees which config runs.
func ConfigDigest(configFile []byte) []byte {
	sum := sha256.Sum256(configFile)
	return sum[:]
}

// Attest answers an attestation document over nonce (1 to
// protocol.MaxAttestationNonce bytes) whose user_data is the config digest
// and whose public_key is the raw 32-byte deployment identity public key
// while unlocked (absent while locked). Binding it ties the key the Mini
// App pins (config.json) to the measured image: an auditor who checks PCR0
// in this document learns the only key whose statements the page trusts.
// (The KMS recipient document made during unlock is a separate one, made
// by kmsvault with its own RSA key.)
func (s *Signer) Attest(nonce []byte) ([]byte, error) {
	if len(nonce) == 0 || len(nonce) > protocol.MaxAttestationNonce {
		return nil, fmt.Errorf("%w: nonce must be 1 to %d bytes", protocol.ErrMalformedRequest, protocol.MaxAttestationNonce)
	}
	if s.attester == nil {
		return nil, fmt.Errorf("%w: this enclave has no NSM", protocol.ErrAttestationUnavailable)
	}
	var pub []byte
	if id := s.IdentityPublicKey(); id != nil {
		pub = id
	}
	doc, err := s.attester.Attest(nonce, s.configDigest, pub)
	if err != nil {
		return nil, fmt.Errorf("enclave: %w", err)
	}
	return doc, nil
}
