package watch

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/autowallet/autowallet/internal/metrics"
	"github.com/autowallet/autowallet/networks"
	"github.com/autowallet/autowallet/parent/lease"
	"github.com/autowallet/autowallet/storage"
)

// Config wires the alerts of a deployment: a watcher per network and one
// deliverer.
type Config struct {
	Store    storage.Store
	Networks networks.Set
	// Sources has the node of each network, by chain id. A network without
	// a source is not watched (and logged).
	Sources map[uint64]Source
	Notify  Notify
	Logger  *slog.Logger
	// Addresses, if set, is filled from the store and used (register the
	// wallet-created hook on it before NewAlerts, so no wallet created
	// meanwhile is missed); nil makes a new set.
	Addresses *Addresses
	// Poll and StepBlocks: see Options (0 = defaults).
	Poll       time.Duration
	StepBlocks uint64
	// Metrics gets each watcher's lag (nil: none).
	Metrics *metrics.Metrics
}

// Alerts runs the watchers and the deliverer.
type Alerts struct {
	Addresses *Addresses
	Deliverer *Deliverer
	Watchers  []*Watcher
}

// NewAlerts loads the watched addresses from the store and builds the
// watchers; Run starts them.
func NewAlerts(cfg Config) (*Alerts, error) {
	if cfg.Store == nil || cfg.Notify == nil {
		return nil, fmt.Errorf("watch: store and notify are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	addrs := cfg.Addresses
	if addrs == nil {
		addrs = NewAddresses(0)
	}
	err := cfg.Store.ForEachWalletAddress(func(a common.Address, owner int64) error {
		addrs.Watch(a, owner)
		return nil
	})
	if err != nil {
		return nil, err
	}
	a := &Alerts{Addresses: addrs, Deliverer: NewDeliverer(cfg.Store, cfg.Notify, cfg.Logger)}
	a.Deliverer.Metrics = cfg.Metrics
	for _, n := range cfg.Networks {
		src := cfg.Sources[n.ChainID]
		if src == nil {
			cfg.Logger.Warn("watch: no node for network; incoming funds are not announced there", "network", n.Name)
			continue
		}
		w, err := New(Options{Network: n, Source: src, Store: cfg.Store, Addresses: addrs, Logger: cfg.Logger,
			Poll: cfg.Poll, StepBlocks: cfg.StepBlocks, Stored: a.Deliverer.Wake, Metrics: cfg.Metrics})
		if err != nil {
			return nil, err
		}
		a.Watchers = append(a.Watchers, w)
	}
	return a, nil
}

// Watch adds a new wallet to the watched set (the parent's wallet-created
// hook).
func (a *Alerts) Watch(addr common.Address, owner int64) { a.Addresses.Watch(addr, owner) }

// RunLeased runs every watcher and the deliverer until ctx ends, each
// under its lease (c names the holder and the timing): "watch/<chain id>"
// per network and "alerts" for the deliverer, so on several parents each
// runs on one parent at a time. The deliverer's retry state is in memory
// and starts afresh with each tenure; the outbox is in the store.
func (a *Alerts) RunLeased(ctx context.Context, c lease.Config) {
	var wg sync.WaitGroup
	for _, w := range a.Watchers {
		cfg := c
		cfg.Name = WatchLease(w.o.Network.ChainID)
		wg.Go(func() { _ = lease.Run(ctx, cfg, w.Run) })
	}
	cfg := c
	cfg.Name = AlertsLease
	wg.Go(func() { _ = lease.Run(ctx, cfg, a.Deliverer.Run) })
	wg.Wait()
}

// AlertsLease names the deliverer's lease.
const AlertsLease = "alerts"

// WatchLease names the lease of a network's watcher.
func WatchLease(chainID uint64) string { return "watch/" + strconv.FormatUint(chainID, 10) }

// Run runs every watcher and the deliverer until ctx ends.
func (a *Alerts) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, w := range a.Watchers {
		wg.Go(func() { _ = w.Run(ctx) })
	}
	wg.Go(func() { _ = a.Deliverer.Run(ctx) })
	wg.Wait()
}
