package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"net"

	"github.com/mdlayher/vsock"

	"github.com/autowallet/autowallet/enclave"
	"github.com/autowallet/autowallet/enclave/kmsvault"
)

// parentCID is the vsock context id of the parent instance, where
// vsock-proxy relays to KMS.
const parentCID = 3

// attester makes NSM attestation documents: enclave.Attester (the NSM in an
// enclave), or nil when there is none.
type attester interface {
	Attest(nonce, userData, publicKey []byte) ([]byte, error)
}

// useKMS gives the signer its KMS key source when the config names a KMS
// key (always in production): /v1/unlock then gets the vault key from KMS
// over vsock -> vsock-proxy -> kms.<region>.amazonaws.com:443, TLS ending
// here. The Recipient attestation binds the ephemeral RSA key and the
// config digest.
func useKMS(signer *enclave.Signer, cfg *enclave.Config, att attester, rawConfig []byte) error {
	if cfg.KMS == nil {
		return nil
	}
	if att == nil {
		return errors.New("the config names a KMS key but there is no NSM to attest with: KMS releases the vault key only to an attested enclave")
	}
	digest := configDigest(rawConfig)
	port := cfg.KMS.ProxyPort
	client, err := kmsvault.New(kmsvault.Options{
		KeyARN: cfg.KMS.KeyARN,
		Region: cfg.KMS.Region,
		Attest: func(pub []byte) ([]byte, error) { return att.Attest(nil, digest, pub) },
		Dial: func(ctx context.Context) (net.Conn, error) {
			return vsock.DialContext(ctx, parentCID, port, nil)
		},
	})
	if err != nil {
		return err
	}
	signer.SetKeySource(client)
	return nil
}

// configDigest is the SHA-256 of the config file, bound in user_data (as
// enclave.ConfigDigest).
func configDigest(raw []byte) []byte {
	sum := sha256.Sum256(raw)
	return sum[:]
}
