package main

import (
	"fmt"

	"github.com/autowallet/autowallet/networks"
	"github.com/autowallet/autowallet/parent/lease"
	"github.com/autowallet/autowallet/parent/watch"
	"github.com/autowallet/autowallet/storage"
)

// startAlerts runs the incoming-funds watchers (parent/watch, issue 10) of
// every network in nets that has an RPC URL, and the deliverer that hands
// each confirmed deposit to notify (the bot's "Received …" message). Call it
// after open; it stops with the host. docs/watcher.md.
//
// Each watcher and the deliverer run under their lease (leases names this
// parent), so several parents on one store watch and alert once.
func (h *host) startAlerts(nets networks.Set, notify watch.Notify, leases lease.Config) (*watch.Alerts, error) {
	// The hook first, then the load: a wallet created in between is in
	// the set either way.
	addrs := watch.NewAddresses(0)
	h.service.OnWalletCreated(func(w storage.Wallet) { addrs.Watch(w.Address, w.Owner) })
	sources := map[uint64]watch.Source{}
	var dialed []*watch.RPCSource
	closeAll := func() {
		for _, s := range dialed {
			s.Close()
		}
	}
	for _, n := range nets {
		if n.RPCURL == "" {
			continue
		}
		src, err := watch.Dial(h.runCtx, n.RPCURL)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("incoming-funds watcher of %s: %w", n.Name, err)
		}
		src.Metrics, src.Network = h.metrics, n.Name
		dialed = append(dialed, src)
		sources[n.ChainID] = src
	}
	a, err := watch.NewAlerts(watch.Config{Store: h.metered, Networks: nets, Sources: sources, Notify: notify,
		Logger: h.log.With("component", "watch"), Addresses: addrs, Metrics: h.metrics})
	if err != nil {
		closeAll()
		return nil, err
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		a.RunLeased(h.runCtx, leases)
		closeAll()
	}()
	return a, nil
}
