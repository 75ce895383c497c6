// Command enclave is the main of the enclave image: it serves the enclave API
// (docs/protocol.md) on vsock inside a Nitro Enclave, or on loopback TCP for
// development and tests.
//
// Its configuration is a file baked into the image (-config); nothing the
// parent sends at run time changes what counts as a valid approval.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hf/nsm"
	"github.com/mdlayher/vsock"

	"github.com/autowallet/autowallet/enclave"
)

func main() {
	m := NewMain(slog.New(slog.NewJSONHandler(os.Stderr, nil)))
	if err := m.ParseFlags(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "enclave:", err)
		os.Exit(2)
	}
	if m.CheckConfig != "" {
		os.Exit(checkConfig(os.Stdout, os.Stderr, m.CheckConfig, m.RequireProduction))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := m.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "enclave:", err)
		os.Exit(1)
	}
	fmt.Printf("enclave listening on %s\n", m.Addr())
	<-ctx.Done()
	if err := m.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "enclave:", err)
		os.Exit(1)
	}
}

// Main is the enclave program: flags in, a running server out.
type Main struct {
	ConfigPath   string
	VsockPort    uint
	TCPAddr      string
	Entropy      string
	DevVaultKey  string
	DevNSMRoot   string
	Log          *slog.Logger
	listener     net.Listener
	server       *enclave.Server
	closeEntropy func() error
	served       chan error

	// CheckConfig, when set, only checks that config file (checkconfig.go).
	CheckConfig       string
	RequireProduction bool
}

// NewMain returns a Main with the production defaults.
func NewMain(log *slog.Logger) *Main {
	return &Main{ConfigPath: "/etc/autowallet/enclave.json", VsockPort: 5000, Entropy: "auto", Log: log}
}

// ParseFlags reads the command line.
func (m *Main) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("enclave", flag.ContinueOnError)
	fs.StringVar(&m.ConfigPath, "config", m.ConfigPath, "enclave config file (baked into the image)")
	fs.UintVar(&m.VsockPort, "vsock-port", m.VsockPort, "vsock port to serve the API on")
	fs.StringVar(&m.TCPAddr, "tcp", "", "serve on this loopback TCP address instead of vsock (dev and tests)")
	fs.StringVar(&m.Entropy, "entropy", m.Entropy, "entropy source: nsm, os, or auto (nsm when /dev/nsm exists)")
	fs.StringVar(&m.DevVaultKey, "dev-vault-key", "", "dev configs only: vault key file, created 0600 if missing")
	fs.StringVar(&m.DevNSMRoot, "dev-nsm-root", "", "dev configs without /dev/nsm only: attest with a dev NSM under this root file, created 0600 if missing")
	fs.StringVar(&m.CheckConfig, "check-config", "", "only check this config file with the enclave's parser and exit 0 (valid) or 1")
	fs.BoolVar(&m.RequireProduction, "require-production", false, "with -check-config: a mode \"dev\" config fails too")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if m.RequireProduction && m.CheckConfig == "" {
		return errors.New("-require-production goes with -check-config")
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return nil
}

// Run loads the config, opens the entropy source, unlocks the vault if a dev
// key is given, and starts serving. It returns once the listener is open.
func (m *Main) Run(ctx context.Context) error {
	raw, err := os.ReadFile(m.ConfigPath)
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	cfg, err := enclave.ParseConfig(raw)
	if err != nil {
		return err
	}
	entropy, err := m.openEntropy()
	if err != nil {
		return err
	}
	attester, err := m.attester(cfg, raw, entropy)
	if err != nil {
		return err
	}
	signer, err := enclave.NewSigner(cfg, enclave.Options{Entropy: entropy, Attester: attester, ConfigDigest: enclave.ConfigDigest(raw)})
	if err != nil {
		return fmt.Errorf("creating signer: %w", err)
	}
	if err := useKMS(signer, cfg, attester, raw); err != nil {
		return err
	}
	if m.DevVaultKey != "" {
		if !cfg.Dev {
			return errors.New("-dev-vault-key needs a dev config: a production enclave gets its vault key from KMS")
		}
		key, err := enclave.LoadOrCreateDevVaultKey(m.DevVaultKey)
		if err != nil {
			return err
		}
		err = signer.Unlock(key)
		clear(key)
		if err != nil {
			return err
		}
	}
	if m.listener, err = m.listen(); err != nil {
		return err
	}
	m.server = enclave.NewServer(signer, m.Log)
	m.served = make(chan error, 1)
	go func() { m.served <- enclave.Serve(m.server, m.listener) }()
	m.Log.Info("enclave serving", "addr", m.listener.Addr().String(), "dev", cfg.Dev, "locked", signer.Locked())
	return nil
}

func (m *Main) openEntropy() (io.Reader, error) {
	mode := m.Entropy
	if mode == "auto" {
		mode = "os"
		if _, err := os.Stat("/dev/nsm"); err == nil {
			mode = "nsm"
		}
	}
	switch mode {
	case "os":
		return rand.Reader, nil
	case "nsm":
		sess, err := nsm.OpenDefaultSession()
		if err != nil {
			return nil, fmt.Errorf("opening the NSM device: %w", err)
		}
		m.closeEntropy = sess.Close
		return sess, nil
	default:
		return nil, fmt.Errorf("-entropy %q: want nsm, os or auto", m.Entropy)
	}
}

// attester is the NSM when entropy comes from it (in an enclave), the dev
// NSM when -dev-nsm-root is given with a dev config, or nil (attestation
// requests are then refused with attestation_unavailable).
func (m *Main) attester(cfg *enclave.Config, raw []byte, entropy io.Reader) (enclave.Attester, error) {
	if sess, ok := entropy.(*nsm.Session); ok {
		if m.DevNSMRoot != "" {
			return nil, errors.New("-dev-nsm-root: this enclave has a real NSM")
		}
		return enclave.NewNSMAttester(sess), nil
	}
	if m.DevNSMRoot == "" {
		return nil, nil
	}
	if !cfg.Dev {
		return nil, errors.New("-dev-nsm-root needs a dev config: production attests with the NSM")
	}
	root, err := enclave.LoadOrCreateDevRoot(m.DevNSMRoot)
	if err != nil {
		return nil, err
	}
	return enclave.NewDevNSM(root, raw, nil)
}

func (m *Main) listen() (net.Listener, error) {
	if m.TCPAddr != "" {
		host, _, err := net.SplitHostPort(m.TCPAddr)
		if err != nil {
			return nil, fmt.Errorf("-tcp: %w", err)
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return nil, fmt.Errorf("-tcp %s: only loopback addresses are allowed", m.TCPAddr)
		}
		l, err := net.Listen("tcp", m.TCPAddr)
		if err != nil {
			return nil, fmt.Errorf("listening on tcp %s: %w", m.TCPAddr, err)
		}
		return l, nil
	}
	l, err := vsock.Listen(uint32(m.VsockPort), nil)
	if err != nil {
		return nil, fmt.Errorf("listening on vsock port %d: %w", m.VsockPort, err)
	}
	return l, nil
}

// Addr is the address the API is served on (valid after Run).
func (m *Main) Addr() net.Addr { return m.listener.Addr() }

// Close stops serving, waiting a short while for requests in flight.
func (m *Main) Close() error {
	var errs []error
	if m.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		errs = append(errs, m.server.Shutdown(ctx), <-m.served)
	}
	if m.closeEntropy != nil {
		errs = append(errs, m.closeEntropy())
	}
	return errors.Join(errs...)
}
