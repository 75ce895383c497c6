// Package netns gives tests separate hosts on one machine: Linux network
// namespaces joined by veth pairs to a switch (a bridge in a namespace of
// its own), made and removed by the test itself.
//
//	n := netns.New(t)              // skips unless root with ip(8)
//	db := n.Host("db")             // 10.77.0.2 in namespace <prefix>-db
//	app := n.Host("app")           // 10.77.0.3
//	cmd := app.Command("/path/prog", "-listen", app.Addr("8080"))
//	n.Isolate(app)                 // app's cable pulled: it reaches no host
//	n.Partition(app, db)           // only app <-> db is cut (both directions)
//	n.Heal()                       // every cut restored
//
// Why the switch lives in a namespace too: nothing is added to the test
// machine's own network (the root namespace), so parallel tests can use the
// same addresses and a test that dies leaves nothing routable behind. The
// test process itself stays in the root namespace and reaches the hosts
// through sockets made inside them (Host.Listen, Host.DialContext,
// Host.HTTPClient): a socket belongs to the namespace it was created in.
//
// A cut drops packets silently, as a pulled cable or a partition does:
// nothing answers "refused", so the far side only notices by its own
// timeouts. Isolate sets the switch's end of the host's veth down.
// Partition pins, in each of the two hosts, the other's address to a
// hardware address no host has (a permanent neighbour entry): their packets
// to each other leave and are lost on the switch, while every other path
// stays up. This needs nothing but ip(8): the test machine's kernel has no
// iptables, nftables or tc qdiscs to drop with. Heal removes both kinds.
//
// Everything is removed by t.Cleanup, also after a failed test: deleting a
// namespace kills its veth ends. Names carry a random per-Net prefix, so two
// tests (or two test binaries) never share one.
package netns

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Subnet is the addresses of every Net's hosts: 10.77.0.2, .3, ... in the
// order Host is called. Each Net is its own world, so they may repeat.
const Subnet = "10.77.0.0/24"

// maxHosts bounds a Net (addresses .2 to .201; names of interfaces stay short).
const maxHosts = 200

// Net is one test's set of hosts around one switch.
type Net struct {
	t      testing.TB
	prefix string // e.g. "aw3f9c2a": namespace names are prefix-host
	hub    string // the switch's namespace

	mu    sync.Mutex
	hosts []*Host
	cuts  map[[2]int]bool // partitions (host indexes, smaller first)
}

// Host is one namespace with one interface, eth0, on the switch.
type Host struct {
	n    *Net
	idx  int
	Name string // short name given to Net.Host
	NS   string // namespace name (ip netns)
	IP   net.IP
	port string // the switch's end of the veth, in the hub namespace
}

// Available reports why netns tests cannot run here, or nil.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("network namespaces need root (ip netns add)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("ip(8) is missing (Debian: iproute2): %w", err)
	}
	return nil
}

// New makes the switch for t, or skips t with the reason it cannot.
func New(t testing.TB) *Net {
	t.Helper()
	if err := Available(); err != nil {
		t.Skipf("netns: %v", err)
	}
	var b [3]byte
	rand.Read(b[:])
	n := &Net{t: t, prefix: "aw" + hex.EncodeToString(b[:]), cuts: map[[2]int]bool{}}
	n.hub = n.prefix + "-hub"
	t.Cleanup(n.destroy)
	n.must("ip", "netns", "add", n.hub)
	n.must("ip", "-n", n.hub, "link", "add", "br0", "type", "bridge")
	n.must("ip", "-n", n.hub, "link", "set", "br0", "up")
	return n
}

// Host adds a host named name (letters and digits, at most 8) and returns it
// with its address on the switch and its loopback up.
func (n *Net) Host(name string) *Host {
	n.t.Helper()
	if name == "" || len(name) > 8 || strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
		n.t.Fatalf("netns: host name %q: want 1 to 8 lowercase letters or digits", name)
	}
	n.mu.Lock()
	idx := len(n.hosts)
	if idx >= maxHosts {
		n.mu.Unlock()
		n.t.Fatalf("netns: more than %d hosts", maxHosts)
	}
	h := &Host{n: n, idx: idx, Name: name, NS: n.prefix + "-" + name,
		IP: net.IPv4(10, 77, 0, byte(idx+2)), port: "p" + strconv.Itoa(idx)}
	n.hosts = append(n.hosts, h)
	n.mu.Unlock()

	// The veth is created in the hub with both ends there, then one end
	// moves into the host and is renamed eth0: no interface ever appears
	// in the root namespace.
	n.must("ip", "netns", "add", h.NS)
	n.must("ip", "-n", h.NS, "link", "set", "lo", "up")
	n.must("ip", "-n", n.hub, "link", "add", h.port, "type", "veth", "peer", "name", "h"+h.port)
	n.must("ip", "-n", n.hub, "link", "set", "h"+h.port, "netns", h.NS)
	n.must("ip", "-n", h.NS, "link", "set", "h"+h.port, "name", "eth0")
	n.must("ip", "-n", h.NS, "addr", "add", h.IP.String()+"/24", "dev", "eth0")
	n.must("ip", "-n", h.NS, "link", "set", "eth0", "up")
	n.must("ip", "-n", n.hub, "link", "set", h.port, "master", "br0")
	n.must("ip", "-n", n.hub, "link", "set", h.port, "up")
	return h
}

// Addr is host:port on this host, for flags of the programs it runs.
func (h *Host) Addr(port string) string { return net.JoinHostPort(h.IP.String(), port) }

// Command is exec.Command for a program run inside the host's namespace
// (through `ip netns exec`, which execs it: the process's pid is the
// program's). The program dies with the test process (Pdeathsig).
func (h *Host) Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command("ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// Isolate pulls the host's cable: the switch's end of its veth goes down,
// so no packet reaches or leaves the host. Reconnect or Heal undoes it.
func (n *Net) Isolate(h *Host) {
	n.t.Helper()
	n.must("ip", "-n", n.hub, "link", "set", h.port, "down")
}

// Reconnect plugs an isolated host back in.
func (n *Net) Reconnect(h *Host) {
	n.t.Helper()
	n.must("ip", "-n", n.hub, "link", "set", h.port, "up")
}

// Partition cuts a and b from each other (both directions), leaving every
// other path up: each sends the other's packets to a hardware address no
// host has, so the switch floods them and nobody takes them.
func (n *Net) Partition(a, b *Host) {
	n.t.Helper()
	key := pair(a, b)
	n.mu.Lock()
	if n.cuts[key] {
		n.mu.Unlock()
		return
	}
	n.cuts[key] = true
	n.mu.Unlock()
	n.must("ip", "-n", a.NS, "neigh", "replace", b.IP.String(), "lladdr", nowhere, "nud", "permanent", "dev", "eth0")
	n.must("ip", "-n", b.NS, "neigh", "replace", a.IP.String(), "lladdr", nowhere, "nud", "permanent", "dev", "eth0")
}

// nowhere is a locally administered unicast hardware address that no veth
// has (the kernel gives veths random ones; the chance of this one is 2^-46).
const nowhere = "02:00:5e:ff:ff:01"

func pair(a, b *Host) [2]int {
	if a.idx > b.idx {
		a, b = b, a
	}
	return [2]int{a.idx, b.idx}
}

// Heal restores every cut: every port up, every pinned neighbour removed.
func (n *Net) Heal() {
	n.t.Helper()
	n.mu.Lock()
	hosts := append([]*Host(nil), n.hosts...)
	cuts := n.cuts
	n.cuts = map[[2]int]bool{}
	n.mu.Unlock()
	for _, h := range hosts {
		n.must("ip", "-n", n.hub, "link", "set", h.port, "up")
	}
	for key := range cuts {
		a, b := hosts[key[0]], hosts[key[1]]
		// The next packet asks ARP again and finds the real address.
		n.must("ip", "-n", a.NS, "neigh", "del", b.IP.String(), "dev", "eth0")
		n.must("ip", "-n", b.NS, "neigh", "del", a.IP.String(), "dev", "eth0")
	}
}

// destroy deletes every namespace (the veths go with them). It reports, but
// does not stop at, a failure, so one stuck namespace leaves no others.
func (n *Net) destroy() {
	n.mu.Lock()
	hosts := n.hosts
	n.mu.Unlock()
	for _, h := range hosts {
		if out, err := exec.Command("ip", "netns", "del", h.NS).CombinedOutput(); err != nil {
			n.t.Errorf("netns: deleting %s: %v: %s", h.NS, err, out)
		}
	}
	if out, err := exec.Command("ip", "netns", "del", n.hub).CombinedOutput(); err != nil {
		n.t.Errorf("netns: deleting %s: %v: %s", n.hub, err, out)
	}
}

func (n *Net) must(name string, args ...string) {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, name, args...).CombinedOutput(); err != nil {
		n.t.Fatalf("netns: %s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

// Listen listens on addr (host:port; host empty or the host's IP) inside the
// host's namespace, for servers the test runs in its own process.
func (h *Host) Listen(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := h.inNS(func() error {
		var err error
		l, err = net.Listen(network, addr)
		return err
	})
	return l, err
}

// DialContext dials from inside the host's namespace. addr must hold an IP
// address, not a name: resolving could run on another thread, outside it.
func (h *Host) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := h.inNS(func() error {
		var err error
		// The socket is made on this thread, in the namespace; connecting
		// then waits in the poller, on whatever thread, with that socket.
		c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// HTTPClient is a client whose connections start from inside the host.
func (h *Host) HTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		DialContext: h.DialContext, MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second,
	}}
}

// inNS runs fn on a locked thread switched into the host's namespace, then
// switches the thread back and unlocks it.
//
// Why not let the thread die instead (lock, setns, exit locked): a child
// process started with Pdeathsig (every process of these tests, and geth,
// and PostgreSQL) is killed when the *thread* that forked it exits, and any
// pool thread may have forked one earlier. Only if switching back fails does
// the thread stay locked and die with its goroutine, rather than run other
// goroutines in the wrong namespace.
func (h *Host) inNS(fn func() error) error {
	target, err := os.Open("/run/netns/" + h.NS)
	if err != nil {
		return fmt.Errorf("netns: %w", err)
	}
	defer target.Close()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("netns: %w", err)
			return
		}
		defer self.Close()
		if err := setns(target); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("netns: entering %s: %w", h.NS, err)
			return
		}
		ferr := fn()
		if err := setns(self); err != nil {
			done <- fmt.Errorf("netns: leaving %s: %w (thread retired)", h.NS, err)
			return // still locked: the thread exits with this goroutine
		}
		runtime.UnlockOSThread()
		done <- ferr
	}()
	return <-done
}

func setns(f *os.File) error { return unix.Setns(int(f.Fd()), unix.CLONE_NEWNET) }

// Expose makes a server of the test process (a unix socket, or a TCP
// address in the root namespace such as geth's 127.0.0.1 port) appear on
// h's address: it listens on h.Addr(port) inside h and joins every
// connection to a new one to target. It returns h.Addr(port). Cutting h
// (Isolate, Partition) cuts the server off as if it ran on h.
func (h *Host) Expose(t testing.TB, port, network, target string) string {
	t.Helper()
	l, err := h.Listen("tcp", h.Addr(port))
	if err != nil {
		t.Fatalf("netns: %v", err)
	}
	Forward(t, l, func(ctx context.Context) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, target)
	})
	return l.Addr().String()
}

// Reach is the other way round: it listens on 127.0.0.1 (a free port) in the
// test process and joins every connection to a new one dialed from inside h
// to addr. It returns the local address, for a tool of the test that dials
// only from the root namespace (e.g. an HTTP proxy).
func (h *Host) Reach(t testing.TB, addr string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("netns: %v", err)
	}
	Forward(t, l, func(ctx context.Context) (net.Conn, error) { return h.DialContext(ctx, "tcp", addr) })
	return l.Addr().String()
}

// DialTimeout bounds Forward's dial to its target: a cut target answers
// nothing, and the caller's own timeout should be what it sees.
const DialTimeout = 30 * time.Second

// Forward accepts connections on l until t ends and joins each to a
// connection from dial, copying both ways; when either side ends, both are
// closed. At the end of t the listener and every joined connection close.
func Forward(t testing.TB, l net.Listener, dial func(context.Context) (net.Conn, error)) {
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	open := map[net.Conn]bool{}
	track := func(c net.Conn) bool {
		mu.Lock()
		defer mu.Unlock()
		if ctx.Err() != nil {
			c.Close()
			return false
		}
		open[c] = true
		return true
	}
	t.Cleanup(func() {
		cancel()
		l.Close()
		mu.Lock()
		for c := range open {
			c.Close()
		}
		mu.Unlock()
	})
	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			if !track(in) {
				return
			}
			go func() {
				defer in.Close()
				dctx, dcancel := context.WithTimeout(ctx, DialTimeout)
				out, err := dial(dctx)
				dcancel()
				if err != nil {
					t.Logf("netns: forwarding a connection from %s: %v", in.RemoteAddr(), err)
					return // the client sees its connection close
				}
				if !track(out) {
					return
				}
				defer out.Close()
				done := make(chan struct{}, 2)
				go func() { io.Copy(out, in); done <- struct{}{} }()
				go func() { io.Copy(in, out); done <- struct{}{} }()
				<-done
				mu.Lock()
				delete(open, in)
				delete(open, out)
				mu.Unlock()
			}()
		}
	}()
}
