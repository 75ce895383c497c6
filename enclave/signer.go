// Package enclave is the signer that runs inside the Nitro Enclave: it creates
// wallets, seals their keys under the vault key, and signs a transfer only when
// Telegram-signed initData approves exactly that transfer for the wallet's
// owner. It knows nothing of the Bot API, storage or an RPC client; everything
// it is handed by the parent is treated as hostile.
//
// Plaintext private keys exist only inside CreateWallet and Approve, for the
// time of one call, and are wiped before they return.
package enclave

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/autowallet/autowallet/protocol"
)

// VaultKeySize is the size of the vault key: AES-256.
const VaultKeySize = 32

// Signer holds the enclave's state: its config, entropy source and, once
// unlocked, the vault key (as an AES-GCM instance).
type Signer struct {
	cfg     *Config
	verify  protocol.VerifyConfig
	entropy io.Reader
	now     func() time.Time

	mu    sync.RWMutex
	vault cipher.AEAD // nil while locked
	// identity is the deployment identity key (identity.go), derived from
	// the vault key at unlock; nil while locked. It signs wallet statements
	// and its public half is bound in attestation documents.
	identity ed25519.PrivateKey

	attester     Attester
	configDigest []byte

	kms kmsState // unlock.go: the KMS key source and the blob of the vault key
}

// Options for NewSigner. Entropy is required: crypto/rand.Reader in dev, the
// NSM in an enclave. Now defaults to time.Now.
type Options struct {
	Entropy io.Reader
	Now     func() time.Time

	// Attester makes attestation documents (attest.go): the NSM in an
	// enclave, the dev NSM in dev mode. Nil answers attestation_unavailable.
	// Documents bind the identity public key in public_key once unlocked.
	Attester Attester
	// ConfigDigest is bound in each document's user_data; nil means
	// ConfigDigest(EncodeConfig(cfg)). cmd/enclave passes the digest of its
	// config file.
	ConfigDigest []byte
}

// NewSigner makes a locked signer for a validated config.
func NewSigner(cfg *Config, opts Options) (*Signer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Entropy == nil {
		return nil, errors.New("enclave: no entropy source")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ConfigDigest == nil {
		opts.ConfigDigest = ConfigDigest(EncodeConfig(cfg))
	}
	return &Signer{cfg: cfg, verify: cfg.verifyConfig(), entropy: opts.Entropy, now: opts.Now,
		attester: opts.Attester, configDigest: opts.ConfigDigest}, nil
}

// Unlock gives the signer its vault key, and derives from it the deployment
// identity key. The caller should wipe its copy.
func (s *Signer) Unlock(key []byte) error {
	if len(key) != VaultKeySize {
		return fmt.Errorf("enclave: vault key must be %d bytes", VaultKeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return fmt.Errorf("enclave: vault key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return fmt.Errorf("enclave: vault key: %w", err)
	}
	id, err := deriveIdentity(key)
	if err != nil {
		return err
	}
	// A previous identity is not wiped: a concurrent call may still be
	// signing with it, and it is the same key for the same vault key.
	s.mu.Lock()
	s.vault, s.identity = aead, id
	s.mu.Unlock()
	return nil
}

// Locked reports whether the signer still waits for its vault key.
func (s *Signer) Locked() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.vault == nil
}

// keys returns the vault key's AEAD and the identity key, or ErrVaultLocked.
func (s *Signer) keys() (cipher.AEAD, ed25519.PrivateKey, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.vault == nil {
		return nil, nil, fmt.Errorf("%w: the parent has not unlocked the enclave yet", protocol.ErrVaultLocked)
	}
	return s.vault, s.identity, nil
}

// Wallet is a newly created wallet: its address, the sealed record the
// parent stores, and the wallet proof (the identity key's statement that the
// address is the owner's).
type Wallet struct {
	Address common.Address
	Record  []byte
	Proof   []byte
}

// CreateWallet draws a fresh secp256k1 key for owner, seals it and returns the
// address and the sealed record.
func (s *Signer) CreateWallet(owner int64) (*Wallet, error) {
	if owner <= 0 {
		return nil, fmt.Errorf("%w: owner must be a positive Telegram user id", protocol.ErrMalformedRequest)
	}
	aead, id, err := s.keys()
	if err != nil {
		return nil, err
	}
	secret := make([]byte, 32)
	defer clear(secret)
	var priv *ecdsa.PrivateKey
	// A uniform 32-byte string is a valid secp256k1 scalar except with
	// probability about 2^-128; a few draws make failure impossible in practice.
	for range 4 {
		if _, err := io.ReadFull(s.entropy, secret); err != nil {
			return nil, fmt.Errorf("enclave: reading entropy: %w", err)
		}
		if priv, err = crypto.ToECDSA(secret); err == nil {
			break
		}
	}
	if priv == nil {
		return nil, errors.New("enclave: entropy source gave no valid key in 4 draws")
	}
	defer wipeKey(priv)
	addr := crypto.PubkeyToAddress(priv.PublicKey)

	rec := recordHeaderFor(owner, addr)[:recordHeader+recordNonce]
	nonce := rec[recordHeader:]
	if _, err := io.ReadFull(s.entropy, nonce); err != nil {
		return nil, fmt.Errorf("enclave: reading entropy: %w", err)
	}
	rec = aead.Seal(rec, nonce, secret, rec[:recordHeader])
	proof, err := protocol.SignStatement(id, owner, addr)
	if err != nil {
		return nil, err
	}
	return &Wallet{Address: addr, Record: rec, Proof: proof}, nil
}

// Signed is the result of an approval: the raw EIP-1559 transaction and its
// hash, and the intent it carries.
type Signed struct {
	RawTx  []byte
	Hash   common.Hash
	Intent *protocol.Intent
}

// Approve signs the transfer that initData approves, with the key sealed in
// rec. It checks, in this order, and refuses with the first failing reason:
//
//  1. the vault is unlocked;
//  2. initData parses and its Ed25519 signature verifies for the configured
//     bot (or, in a dev config, its bot-token HMAC);
//  3. auth_date is within MaxAuthAge (and not beyond ClockSkew ahead);
//  4. start_param decodes to a well-formed transfer intent;
//  5. the intent has not expired;
//  6. the record decodes, and its owner is the initData's user;
//  7. the intent is from the record's address;
//  8. the intent's wallet proof verifies with the identity key for the
//     initData's user and the intent's from (so an intent a host built
//     around a foreign or forged proof is refused, and the page's
//     "from: your wallet" check and the enclave's agree);
//  9. the intent is on an allowed chain;
//  10. its token is the native coin, or a token contract the config lists
//     for that very chain (token_not_allowed);
//  11. the record opens under the vault key (which also authenticates the
//     owner and address read in steps 6 and 7).
//
// Only then is the key unsealed, the intent signed as an EIP-1559
// transaction, and the key wiped. The transaction's to, value and data are
// the intent's TxTo, TxValue and TxData (protocol/token.go): for a token,
// value 0 to the token contract with transfer(to, amount) calldata that
// this code builds. No request carries calldata, so none handed in can be
// signed. Signing is deterministic (RFC 6979), so the
// same approval always yields the same transaction.
func (s *Signer) Approve(initData string, rec []byte) (*Signed, error) {
	aead, id, err := s.keys()
	if err != nil {
		return nil, err
	}
	now := s.now()
	d, err := protocol.VerifyInitData(initData, s.verify, now)
	if err != nil {
		return nil, err
	}
	if d.StartParam == "" {
		return nil, fmt.Errorf("%w: initData has no start_param: the Mini App was not opened from a transfer link", protocol.ErrMalformedIntent)
	}
	in, err := protocol.DecodeStartParam(d.StartParam)
	if err != nil {
		return nil, err
	}
	if uint64(now.Unix()) >= in.Expiry {
		return nil, fmt.Errorf("%w: it expired at %s", protocol.ErrIntentExpired, time.Unix(int64(in.Expiry), 0).UTC().Format(time.RFC3339))
	}
	r, err := decodeRecord(rec)
	if err != nil {
		return nil, err
	}
	if r.Owner != d.UserID {
		return nil, fmt.Errorf("%w: the approval is from user %d, the wallet is user %d's", protocol.ErrWrongOwner, d.UserID, r.Owner)
	}
	if in.From != r.Address {
		return nil, fmt.Errorf("%w: the intent is from %s, the wallet is %s", protocol.ErrWrongWallet, in.From.Hex(), r.Address.Hex())
	}
	// docs/protocol.md section 4, after wrong_wallet: the proof must be the
	// identity key's statement for this user and this from address.
	if err := protocol.VerifyStatement(id.Public().(ed25519.PublicKey), d.UserID, in.From, in.WalletProof); err != nil {
		return nil, err
	}
	if !slices.Contains(s.cfg.AllowedChainIDs, in.ChainID) {
		return nil, fmt.Errorf("%w: chain id %d", protocol.ErrChainNotAllowed, in.ChainID)
	}
	// A token is allowed per chain: the same address on another chain may
	// be another contract (or none), so a host cannot move an allowed
	// token's address to a chain where it is a look-alike.
	if !s.cfg.tokenAllowed(in.ChainID, in.Token) {
		return nil, fmt.Errorf("%w: token %s on chain id %d", protocol.ErrTokenNotAllowed, in.Token.Hex(), in.ChainID)
	}

	secret, err := aead.Open(make([]byte, 0, 32), r.Nonce, r.Sealed, r.header)
	if err != nil {
		return nil, fmt.Errorf("%w: it was altered, or sealed by another deployment", protocol.ErrRecordTampered)
	}
	defer clear(secret)
	// Build the key from the scalar alone: the address is already
	// authenticated by the record's additional data, so the public key (a
	// second scalar multiplication) is not needed to sign.
	priv := &ecdsa.PrivateKey{PublicKey: ecdsa.PublicKey{Curve: crypto.S256()}, D: new(big.Int).SetBytes(secret)}
	defer wipeKey(priv)

	tx := types.NewTx(unsignedTx(in))
	signed, err := types.SignTx(tx, types.LatestSignerForChainID(tx.ChainId()), priv)
	if err != nil {
		return nil, fmt.Errorf("enclave: signing: %w", err)
	}
	raw, err := signed.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("enclave: encoding the transaction: %w", err)
	}
	// A typed transaction's hash is the Keccak-256 of its envelope (EIP-2718),
	// which is raw: hashing it saves encoding the transaction again.
	return &Signed{RawTx: raw, Hash: crypto.Keccak256Hash(raw), Intent: in}, nil
}

// unsignedTx is the EIP-1559 transaction an intent stands for. To, value
// and data come only from protocol's one definition (TxTo, TxValue,
// TxData): the native coin to To with value Amount and no data, or a token
// as value 0 to the token contract with transfer(To, Amount) calldata built
// there. Nothing else can put data in a transaction the enclave signs.
func unsignedTx(in *protocol.Intent) *types.DynamicFeeTx {
	to := in.TxTo()
	return &types.DynamicFeeTx{
		ChainID:   new(big.Int).SetUint64(in.ChainID),
		Nonce:     in.Nonce,
		GasTipCap: in.MaxPriorityFeePerGas,
		GasFeeCap: in.MaxFeePerGas,
		Gas:       in.GasLimit,
		To:        &to,
		Value:     in.TxValue(),
		Data:      in.TxData(),
	}
}

// wipeKey overwrites the private scalar in place. Go's garbage collector may
// have copied it before (a limit of any Go program, written down in
// docs/threat-model.md); this removes the copy we hold.
func wipeKey(k *ecdsa.PrivateKey) {
	if k == nil || k.D == nil {
		return
	}
	clear(k.D.Bits())
	k.D.SetInt64(0)
}

// response is the API form of a signed transaction.
func (sg *Signed) response() protocol.ApproveResponse {
	return protocol.ApproveResponse{RawTx: hexutil.Encode(sg.RawTx), TxHash: sg.Hash.Hex()}
}
