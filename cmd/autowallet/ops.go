package main

import (
	"context"
	"errors"
	"net/http"

	"github.com/autowallet/autowallet/internal/metrics"
	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/storage"
)

// The operators' endpoints (docs/metrics.md): GET /metrics, /healthz
// (alive) and /readyz (ready) on the parent's loopback admin listener;
// `autowallet dev` serves /metrics and /readyz on its one listener, beside
// the API's own /healthz. /readyz is also on the parent's public listener,
// for the load balancer's health check (docs/deploy.md).

// readiness is what /readyz checks: the enclave answers and is unlocked
// with the stored vault key (vault: Service.VaultKeyCheck; an enclave that
// holds another key must be restarted; a blob the database lost, emptied or
// replaced has its own word, vaultReason), the store answers, and every
// network's node answers. Each check gives a fixed word, never an error's
// text (metrics.Check).
func readiness(enc *parent.EnclaveClient, vault func() error, store storage.Store, nets []parent.NetworkChain) *metrics.Readiness {
	return metrics.NewReadiness(0, 0, readinessChecks(enc, vault, store, nets...)...)
}

func readinessChecks(enc *parent.EnclaveClient, vault func() error, store storage.Store, nets ...parent.NetworkChain) []metrics.Check {
	checks := []metrics.Check{
		{Name: "enclave", Run: func(ctx context.Context) string {
			h, err := enc.Health(ctx)
			if err != nil {
				return metrics.ReasonUnreachable
			}
			// A refusal caused by the database comes first, locked or not:
			// it is what the operator must act on (restore the blob).
			r := vaultReason(vault())
			if h.Vault != "unlocked" && (r == "" || r == metrics.ReasonKeyNotStored) {
				return metrics.ReasonLocked
			}
			return r
		}},
		{Name: "store", Run: func(ctx context.Context) string {
			if err := store.Ping(ctx); err != nil {
				return metrics.ReasonUnreachable
			}
			return ""
		}},
	}
	for _, n := range nets {
		c := n.Chain
		checks = append(checks, metrics.Check{Name: "node:" + n.Network.Name, Run: func(ctx context.Context) string {
			if _, err := c.BlockNumber(ctx); err != nil {
				return metrics.ReasonUnreachable
			}
			return ""
		}})
	}
	return checks
}

// vaultReason is the fixed word for Service.VaultKeyCheck's answer: ""
// when wallet work may go to the enclave; a refusal caused by the database
// (restore the blob; do not restart the enclave) by its reason; otherwise
// key_not_stored (restart or unlock the enclave).
func vaultReason(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, parent.ErrVaultKeyChanged):
		return metrics.ReasonKeyChanged
	case errors.Is(err, parent.ErrVaultKeyMissing):
		return metrics.ReasonKeyMissing
	case errors.Is(err, parent.ErrVaultKeyMismatch):
		return metrics.ReasonKeyMismatch
	case errors.Is(err, storage.ErrCorrupt):
		return metrics.ReasonKeyCorrupt
	}
	return metrics.ReasonKeyNotStored
}

// opsRoutes adds /metrics, /healthz and /readyz to the admin listener.
// None needs the admin token: the listener is loopback only, and none
// answers anything secret (TestMetricsCountRealWork).
func (h *host) opsRoutes(mux *http.ServeMux) {
	mux.Handle("GET "+metrics.PathMetrics, h.metrics.Handler())
	mux.Handle("GET "+metrics.PathHealthz, metrics.HealthzHandler())
	mux.Handle("GET "+metrics.PathReadyz, h.ready.Handler())
}
