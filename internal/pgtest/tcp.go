package pgtest

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// TCP listener, password, network namespace and Kill (Options.TCP,
// Options.Password, Options.NetNS).

// pickTCP reads Options.TCP; port 0 becomes a free port of that host.
func (s *Server) pickTCP() error {
	host, port, err := net.SplitHostPort(s.opts.TCP)
	if err != nil {
		return fmt.Errorf("pgtest: Options.TCP %q: %v", s.opts.TCP, err)
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return fmt.Errorf("pgtest: Options.TCP %q: the host must be an IP address", s.opts.TCP)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("pgtest: Options.TCP %q: bad port", s.opts.TCP)
	}
	if p == 0 {
		if s.opts.NetNS != "" {
			return fmt.Errorf("pgtest: Options.TCP %q: give a port with NetNS (a free port cannot be picked from outside the namespace)", s.opts.TCP)
		}
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return fmt.Errorf("pgtest: finding a free port on %s: %v", host, err)
		}
		p = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	s.tcpHost, s.port = host, p
	return nil
}

// allowTCP puts the TCP rules first in pg_hba.conf (the first matching
// line decides; initdb's "reject" lines for host connections follow, so
// every other TCP client is refused).
func (s *Server) allowTCP() error {
	from := s.opts.AllowFrom
	if len(from) == 0 {
		addr, _ := netip.ParseAddr(s.tcpHost)
		from = []string{netip.PrefixFrom(addr, addr.BitLen()).String()}
	}
	method := "trust"
	if s.opts.Password != "" {
		method = "scram-sha-256"
	}
	var lines strings.Builder
	lines.WriteString("# pgtest: TCP clients (Options.TCP, AllowFrom)\n")
	for _, cidr := range from {
		if _, err := netip.ParsePrefix(cidr); err != nil {
			return fmt.Errorf("pgtest: Options.AllowFrom %q is not a CIDR prefix", cidr)
		}
		fmt.Fprintf(&lines, "host all all %s %s\n", cidr, method)
	}
	path := filepath.Join(s.dataDir(), "pg_hba.conf")
	old, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("pgtest: %v", err)
	}
	// WriteFile truncates in place: the file keeps its owner (the server's user).
	if err := os.WriteFile(path, append([]byte(lines.String()), old...), 0o600); err != nil {
		return fmt.Errorf("pgtest: %v", err)
	}
	return nil
}

// startIn starts cmd, inside Options.NetNS when set. release must be called
// once cmd has exited.
//
// A namespace is entered by one OS thread (setns), and a child forked from
// that thread is born in it. The thread stays locked and alive until
// release: the server's Pdeathsig fires when the thread that started it
// ends, not only the process.
func (s *Server) startIn(cmd *exec.Cmd) (release func(), err error) {
	if s.opts.NetNS == "" {
		return func() {}, cmd.Start()
	}
	errc := make(chan error, 1)
	hold := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		// Never unlocked: the thread's namespace was changed, so Go ends
		// the thread when this goroutine returns.
		f, err := os.Open(filepath.Join("/var/run/netns", s.opts.NetNS))
		if err != nil {
			errc <- fmt.Errorf("pgtest: network namespace %q: %v", s.opts.NetNS, err)
			return
		}
		err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
		f.Close()
		if err != nil {
			errc <- fmt.Errorf("pgtest: entering network namespace %q: %v", s.opts.NetNS, err)
			return
		}
		errc <- cmd.Start()
		<-hold
	}()
	if err := <-errc; err != nil {
		close(hold)
		return nil, err
	}
	return func() { close(hold) }, nil
}

// Kill ends the server at once, as a crash of the database host would:
// SIGKILL to the postmaster and to every backend. No shutdown checkpoint is
// written; Start runs crash recovery from the WAL. (Backends call setsid,
// so a signal to the postmaster's process group would miss them; the
// postmaster is stopped first, so it forks no new one while its children are
// listed.)
func (s *Server) Kill() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	cmd, done := s.cmd, s.done
	s.cmd, s.done = nil, nil
	pm := cmd.Process.Pid
	_ = syscall.Kill(pm, syscall.SIGSTOP)
	kids := childrenOf(pm)
	_ = syscall.Kill(pm, syscall.SIGKILL)
	for _, pid := range kids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	<-done
	// The backends' shared memory must be released before the next start:
	// wait until they are gone (reaped by init once the postmaster is).
	deadline := time.Now().Add(StopTimeout)
	for _, pid := range kids {
		for alive(pid) {
			if time.Now().After(deadline) {
				s.t.Errorf("pgtest: backend %d of the killed server still running after %v", pid, StopTimeout)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// childrenOf lists the processes whose parent is pid (from /proc).
func childrenOf(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, ok := parentOf(child); ok && ppid == pid {
			out = append(out, child)
		}
	}
	return out
}

// parentOf reads the parent pid from /proc/<pid>/stat: "pid (comm) state ppid ...".
func parentOf(pid int) (int, bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, false
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return ppid, err == nil
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i >= 0 && i+2 < len(b) && b[i+2] != 'Z'
}

// TCPAddr is the server's TCP address (host:port); empty without
// Options.TCP.
func (s *Server) TCPAddr() string {
	if s.tcpHost == "" {
		return ""
	}
	return net.JoinHostPort(s.tcpHost, strconv.Itoa(s.port))
}

// TCPDSN is a connection string for the database "test" over TCP, with
// the password when one is set.
func (s *Server) TCPDSN() string { return s.TCPDSNFor(Database) }

// TCPDSNFor is TCPDSN for the named database.
func (s *Server) TCPDSNFor(db string) string {
	if s.tcpHost == "" {
		s.t.Fatal("pgtest: TCPDSN of a server without Options.TCP")
	}
	dsn := fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", s.tcpHost, s.port, quote(User), quote(db))
	if s.opts.Password != "" {
		dsn += " password=" + quote(s.opts.Password)
	}
	return dsn
}

// literal quotes v as an SQL string literal.
func literal(v string) string { return "'" + strings.ReplaceAll(v, "'", "''") + "'" }
