package loadtest

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// Phase collects one phase's latencies and errors; safe for concurrent use.
type Phase struct {
	Name    string
	Updates int // updates (or HTTP calls) the users made
	Note    string

	mu      sync.Mutex
	start   time.Time
	end     time.Time
	lat     []time.Duration
	errs    []string
	running bool
}

// NewPhase starts a phase's clock.
func NewPhase(name string, updates int, note string) *Phase {
	return &Phase{Name: name, Updates: updates, Note: note, start: time.Now(), running: true}
}

// OK records one answered update.
func (p *Phase) OK(d time.Duration) {
	p.mu.Lock()
	p.lat = append(p.lat, d)
	p.mu.Unlock()
}

// Err records one error (a missing reply, an error answer, a transfer that
// did not confirm).
func (p *Phase) Err(format string, args ...any) {
	p.mu.Lock()
	p.errs = append(p.errs, fmt.Sprintf(format, args...))
	p.mu.Unlock()
}

// Done stops the phase's clock.
func (p *Phase) Done() {
	p.mu.Lock()
	if p.running {
		p.end, p.running = time.Now(), false
	}
	p.mu.Unlock()
}

// Errors are the phase's errors.
func (p *Phase) Errors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.errs)
}

// Count of answered updates.
func (p *Phase) Count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lat)
}

// Percentile q (0..1) of the latencies, nearest rank.
func (p *Phase) Percentile(q float64) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Percentile(p.lat, q)
}

// Percentile q (0..1) of d, nearest rank; 0 for none.
func Percentile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(float64(len(s))*q+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// Wall is the phase's duration.
func (p *Phase) Wall() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.running {
		return time.Since(p.start)
	}
	return p.end.Sub(p.start)
}

// Mem samples the process's memory until Stop.
type Mem struct {
	stop chan struct{}
	done chan struct{}

	PeakHeap, PeakSys uint64 // sampled every 50ms
	HeapAfterGC       uint64 // at Stop, after runtime.GC
	SysAfterGC        uint64
	Goroutines        int
}

// SampleMem starts sampling.
func SampleMem() *Mem {
	m := &Mem{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			m.PeakHeap, m.PeakSys = max(m.PeakHeap, ms.HeapAlloc), max(m.PeakSys, ms.Sys)
			select {
			case <-m.stop:
				return
			case <-t.C:
			}
		}
	}()
	return m
}

// Stop ends sampling and measures after a GC.
func (m *Mem) Stop() {
	close(m.stop)
	<-m.done
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.HeapAfterGC, m.SysAfterGC = ms.HeapAlloc, ms.Sys
	m.PeakSys = max(m.PeakSys, ms.Sys)
	m.Goroutines = runtime.NumGoroutine()
}

// Print writes the phases as one table and the memory figures.
func Print(w io.Writer, phases []*Phase, mem *Mem) {
	rows := [][]string{{"phase", "updates", "answered", "errors", "p50", "p99", "max", "wall", "answers/s"}}
	for _, p := range phases {
		n := p.Count()
		rate := "-"
		if wall := p.Wall(); wall > 0 && n > 0 {
			rate = fmt.Sprintf("%.1f", float64(n)/wall.Seconds())
		}
		rows = append(rows, []string{p.Name, fmt.Sprint(p.Updates), fmt.Sprint(n), fmt.Sprint(len(p.Errors())),
			ms(p.Percentile(0.5)), ms(p.Percentile(0.99)), ms(p.Percentile(1)), ms(p.Wall()), rate})
	}
	width := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], len(c))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r {
			if i == 0 {
				fmt.Fprintf(&b, "%-*s", width[i], c)
			} else {
				fmt.Fprintf(&b, "  %*s", width[i], c)
			}
		}
		fmt.Fprintln(w, b.String())
	}
	for _, p := range phases {
		if p.Note != "" {
			fmt.Fprintf(w, "  %s: %s\n", p.Name, p.Note)
		}
	}
	if mem != nil {
		fmt.Fprintf(w, "memory (whole test process: parent, bot, enclave, emulator, dev chain, simulated users):\n"+
			"  HeapAlloc after GC %.1f MiB, Sys after GC %.1f MiB; peak HeapAlloc %.1f MiB, peak Sys %.1f MiB; %d goroutines at the end\n",
			mib(mem.HeapAfterGC), mib(mem.SysAfterGC), mib(mem.PeakHeap), mib(mem.PeakSys), mem.Goroutines)
	}
}

func ms(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	default:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
