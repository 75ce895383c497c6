package netns

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// echo serves one line back per connection on h:port.
func echo(t *testing.T, h *Host, port string) {
	t.Helper()
	l, err := h.Listen("tcp", h.Addr(port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				line, _ := bufio.NewReader(c).ReadString('\n')
				c.Write([]byte(line))
			}()
		}
	}()
}

// roundTrip sends a line from `from` to addr and reads it back.
func roundTrip(from *Host, addr string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := from.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "ping\n" {
		return errors.New("echo answered " + line)
	}
	return nil
}

// timedOut: a cut drops packets, so a dial waits out its deadline; a
// refusal (RST, "no route") would be a different network.
func timedOut(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded)
}

func TestHostsTalkAcrossTheSwitch(t *testing.T) {
	n := New(t)
	a, b, c := n.Host("a"), n.Host("b"), n.Host("c")
	if a.IP.String() != "10.77.0.2" || c.IP.String() != "10.77.0.4" {
		t.Fatalf("addresses %s %s", a.IP, c.IP)
	}
	echo(t, b, "7000")
	echo(t, c, "7000")
	if err := roundTrip(a, b.Addr("7000"), 5*time.Second); err != nil {
		t.Fatalf("a -> b: %v", err)
	}

	// A program run in a: it sees a's address, not the machine's.
	out, err := a.Command("ip", "-4", "-o", "addr", "show", "dev", "eth0").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "10.77.0.2/24") {
		t.Fatalf("ip addr in a: %v %s", err, out)
	}
	// And it reaches b through the switch.
	out, err = a.Command("bash", "-c", "exec 3<>/dev/tcp/10.77.0.3/7000; echo hello >&3; head -1 <&3").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "hello" {
		t.Fatalf("bash in a -> b: %v %q", err, out)
	}

	// Nothing was added to the root namespace: no interface has a host's
	// address there. (Dialing from it proves nothing: a machine's default
	// route may lead to a proxy that accepts every connection.)
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	_, subnet, _ := net.ParseCIDR(Subnet)
	for _, a := range addrs {
		if ip, _, _ := net.ParseCIDR(a.String()); subnet.Contains(ip) {
			t.Fatalf("the root namespace has %s", a)
		}
	}
}

func TestIsolateDropsAndReconnectRestores(t *testing.T) {
	n := New(t)
	a, b := n.Host("a"), n.Host("b")
	echo(t, b, "7000")
	if err := roundTrip(a, b.Addr("7000"), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	n.Isolate(a)
	if err := roundTrip(a, b.Addr("7000"), 500*time.Millisecond); !timedOut(err) {
		t.Fatalf("a isolated: dial to b gave %v, want a timeout (packets dropped)", err)
	}
	if err := roundTrip(b, a.Addr("7001"), 500*time.Millisecond); !timedOut(err) {
		t.Fatalf("a isolated: dial from b gave %v, want a timeout", err)
	}
	n.Reconnect(a)
	if err := roundTrip(a, b.Addr("7000"), 5*time.Second); err != nil {
		t.Fatalf("after Reconnect: %v", err)
	}
}

func TestPartitionCutsOnlyThePair(t *testing.T) {
	n := New(t)
	a, b, c := n.Host("a"), n.Host("b"), n.Host("c")
	echo(t, a, "7000")
	echo(t, b, "7000")
	echo(t, c, "7000")
	n.Partition(a, b)
	n.Partition(b, a) // twice is once
	for _, cut := range [][2]*Host{{a, b}, {b, a}} {
		if err := roundTrip(cut[0], cut[1].Addr("7000"), 500*time.Millisecond); !timedOut(err) {
			t.Fatalf("%s -> %s across the partition: %v, want a timeout", cut[0].Name, cut[1].Name, err)
		}
	}
	for _, ok := range [][2]*Host{{a, c}, {c, a}, {b, c}, {c, b}} {
		if err := roundTrip(ok[0], ok[1].Addr("7000"), 5*time.Second); err != nil {
			t.Fatalf("%s -> %s outside the partition: %v", ok[0].Name, ok[1].Name, err)
		}
	}
	n.Isolate(c)
	n.Heal()
	for _, ok := range [][2]*Host{{a, b}, {b, a}, {a, c}} {
		if err := roundTrip(ok[0], ok[1].Addr("7000"), 5*time.Second); err != nil {
			t.Fatalf("%s -> %s after Heal: %v", ok[0].Name, ok[1].Name, err)
		}
	}
}

// TestCleanupRemovesNamespaces: after a Net's test ends (here a subtest
// that fails on purpose is not possible, so one that ends), none of its
// namespaces is left.
func TestCleanupRemovesNamespaces(t *testing.T) {
	var prefix string
	t.Run("world", func(t *testing.T) {
		n := New(t)
		n.Host("a")
		n.Host("b")
		prefix = n.prefix
	})
	out, err := os.ReadDir("/run/netns")
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range out {
		if strings.HasPrefix(e.Name(), prefix) {
			t.Fatalf("namespace %s left behind", e.Name())
		}
	}
}

func TestHostNameChecked(t *testing.T) {
	if err := Available(); err != nil {
		t.Skip(err)
	}
	for _, bad := range []string{"", "UPPER", "with-dash", "muchtoolong"} {
		ft := &fatalT{TB: t}
		n := &Net{t: ft, prefix: "awtest00", cuts: map[[2]int]bool{}}
		func() {
			defer func() { recover() }()
			n.Host(bad)
		}()
		if !ft.failed {
			t.Fatalf("host name %q accepted", bad)
		}
	}
}

// fatalT records Fatalf and stops the caller (by panic) instead of the test.
type fatalT struct {
	testing.TB
	failed bool
}

func (f *fatalT) Helper() {}
func (f *fatalT) Fatalf(string, ...any) {
	f.failed = true
	panic("fatal")
}

// TestExposeAndReach: a server of the test process appears on a host's
// address (Expose), a host's server is reachable from 127.0.0.1 (Reach), and
// cutting the host cuts the exposed server off.
func TestExposeAndReach(t *testing.T) {
	n := New(t)
	db, app := n.Host("db"), n.Host("app")

	// A unix socket server in the test process, exposed on db:5432.
	sock := t.TempDir() + "/s"
	ul, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	go func() {
		for {
			c, err := ul.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				line, _ := bufio.NewReader(c).ReadString('\n')
				c.Write([]byte(line))
			}()
		}
	}()
	addr := db.Expose(t, "5432", "unix", sock)
	if addr != "10.77.0.2:5432" {
		t.Fatalf("exposed on %s", addr)
	}
	if err := roundTrip(app, addr, 5*time.Second); err != nil {
		t.Fatalf("app -> exposed socket: %v", err)
	}

	// app's echo server, reached from the root namespace.
	echo(t, app, "7000")
	local := app.Reach(t, app.Addr("7000"))
	c, err := net.DialTimeout("tcp", local, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("via reach\n"))
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "via reach\n" {
		t.Fatalf("Reach: %q %v", line, err)
	}
	c.Close()

	n.Partition(app, db)
	if err := roundTrip(app, addr, 500*time.Millisecond); !timedOut(err) {
		t.Fatalf("app cut from db: %v, want a timeout", err)
	}
	n.Heal()
	if err := roundTrip(app, addr, 5*time.Second); err != nil {
		t.Fatalf("after Heal: %v", err)
	}
}

// TestChildrenSurviveSocketsInHosts: making sockets inside hosts retires no
// thread, so no child process started with Pdeathsig (bound to the thread
// that forked it) dies of it. Children are forked from many threads here,
// and sockets made in hosts between them.
func TestChildrenSurviveSocketsInHosts(t *testing.T) {
	n := New(t)
	a := n.Host("a")
	var kids []*exec.Cmd
	for i := 0; i < 20; i++ {
		cmd := exec.Command("sleep", "60")
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		kids = append(kids, cmd)
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		for j := 0; j < 5; j++ {
			l, err := a.Listen("tcp", a.Addr("0"))
			if err != nil {
				t.Fatal(err)
			}
			l.Close()
		}
		runtime.Gosched()
	}
	time.Sleep(100 * time.Millisecond)
	for i, k := range kids {
		if err := k.Process.Signal(syscall.Signal(0)); err != nil {
			t.Fatalf("child %d died: %v", i, err)
		}
		var ws syscall.WaitStatus
		if pid, _ := syscall.Wait4(k.Process.Pid, &ws, syscall.WNOHANG, nil); pid != 0 {
			t.Fatalf("child %d exited: %v", i, ws)
		}
	}
}
