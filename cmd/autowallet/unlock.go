package main

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/autowallet/autowallet/parent"
)

// Test hooks: where credentials come from, and how often the enclave's
// health is checked.
var (
	awsCredentials = func(ctx context.Context, region string) (aws.CredentialsProvider, error) {
		cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region))
		if err != nil {
			return nil, err
		}
		return cfg.Credentials, nil
	}
	unlockEvery = 5 * time.Second
)

// startUnlocker runs the unlock loop (parent.KeepEnclaveUnlocked) when
// -kms-region is set: the enclave is unlocked at start and again whenever
// /v1/health says locked or the parent does not know it holds the stored
// key. On first boot the parent holding the store lease
// parent.FirstUnlockLease (-instance is its holder name) makes the vault key;
// the others wait for its blob (docs/kms.md).
func (m *ParentMain) startUnlocker(ctx context.Context, enc *parent.EnclaveClient) error {
	if m.Config.KMSRegion == "" {
		return nil
	}
	creds, err := awsCredentials(ctx, m.Config.KMSRegion)
	if err != nil {
		return fmt.Errorf("loading AWS credentials: %w", err)
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		parent.KeepEnclaveUnlocked(ctx, enc, m.store, creds, m.Config.Instance, unlockEvery, m.log.With("component", "unlock"))
	}()
	return nil
}
