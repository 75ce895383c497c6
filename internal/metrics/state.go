package metrics

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/autowallet/autowallet/storage"
)

// errStoreRead stands for any failed read: the scrape's error text is
// fixed, since a database error may quote its connection settings.
var errStoreRead = errors.New("reading the store failed (see the parent's log)")

// OutboxCap bounds the alert outbox depth a scrape reads: the gauge says
// OutboxCap when at least that many alerts wait.
const OutboxCap = 1000

// OpenStates are the states of transfers not yet final: the values of
// autowallet_transfers{state}. Final states only grow and are counted by
// autowallet_transfer_transitions_total.
var OpenStates = []storage.State{storage.StateBuilt, storage.StateApproved, storage.StateSent}

// WatchStore exports, read from s at each scrape: the open transfers by
// state (autowallet_transfers{state}), the age of the oldest transfer in
// state sent (autowallet_transfer_oldest_sent_seconds, 0 when none) and the
// alert outbox depth (autowallet_alert_outbox_depth). The store is the one
// truth all parents share, so every parent reports the same values: sum
// them over instances with max(), not sum().
func (m *Metrics) WatchStore(s storage.Store) {
	if m == nil || s == nil {
		return
	}
	m.reg.MustRegister(&storeCollector{s: s, now: time.Now,
		transfers: prometheus.NewDesc(Namespace+"_transfers", "Open transfers in the store, by state (built, approved, sent).", []string{"state"}, nil),
		oldest:    prometheus.NewDesc(Namespace+"_transfer_oldest_sent_seconds", "Age (since it was built) of the oldest transfer in state sent; 0 when none.", nil, nil),
		outbox:    prometheus.NewDesc(Namespace+"_alert_outbox_depth", "Incoming-funds alerts stored and not yet delivered (at most 1000 are counted).", nil, nil),
	})
}

type storeCollector struct {
	s                         storage.Store
	now                       func() time.Time
	transfers, oldest, outbox *prometheus.Desc
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.transfers
	ch <- c.oldest
	ch <- c.outbox
}

// Collect reads the store; a read that fails is reported as the metric's
// error (the scrape answers 500 and Prometheus marks it failed) rather than
// as a zero that would look healthy.
func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	open, err := c.s.TransfersInState(OpenStates...)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.transfers, errStoreRead)
	} else {
		count := map[storage.State]int{}
		var oldest time.Duration
		for _, t := range open {
			count[t.State]++
			if t.State == storage.StateSent {
				oldest = max(oldest, c.now().Sub(t.Created))
			}
		}
		for _, s := range OpenStates {
			ch <- prometheus.MustNewConstMetric(c.transfers, prometheus.GaugeValue, float64(count[s]), s.String())
		}
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, oldest.Seconds())
	}
	alerts, err := c.s.PendingAlerts(OutboxCap)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.outbox, errStoreRead)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.outbox, prometheus.GaugeValue, float64(len(alerts)))
}
