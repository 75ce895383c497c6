// Command autowallet is the host side of autowallet:
//
//	autowallet dev      everything on one machine, embedded defaults
//	autowallet parent   the production host beside a Nitro Enclave
//
// Each subcommand is a Main with ParseFlags, Run and Close, so end-to-end tests
// can start it on port 0 in a temp dir.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// program is the shape every subcommand has.
type program interface {
	ParseFlags(args []string) error
	Run(ctx context.Context) error
	Close() error
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	var p program
	switch args[0] {
	case "parent":
		p = NewParentMain(log, stdout)
	case "dev":
		p = NewDevMain(log, stdout)
	case "backup":
		p = NewBackupMain(log, stdout)
	case "migrate":
		p = NewMigrateMain(log, stdout)
	case "verify":
		p = NewVerifyMain(stdout)
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "autowallet: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	if err := p.ParseFlags(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "autowallet %s: %v\n", args[0], err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := p.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "autowallet %s: %v\n", args[0], err)
		p.Close()
		return 1
	}
	// A one-shot command (backup) has finished when Run returns.
	if d, ok := p.(interface{ Done() bool }); ok && d.Done() {
		if err := p.Close(); err != nil {
			fmt.Fprintf(stderr, "autowallet %s: %v\n", args[0], err)
			return 1
		}
		return 0
	}
	<-ctx.Done()
	fmt.Fprintf(stderr, "autowallet %s: stopping\n", args[0])
	if err := p.Close(); err != nil {
		fmt.Fprintf(stderr, "autowallet %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: autowallet <command> [flags]

commands:
  dev      run the whole product on this machine (enclave, chain, Telegram emulator)
  parent   run the production host beside a Nitro Enclave
  backup   copy the database consistently (from a running parent's -admin listener, or a stopped data folder)
  verify   check a deployment's attestation document (docs/attestation.md)
  migrate  copy a stopped data folder's bbolt file into PostgreSQL, verified (docs/postgres.md)

Run "autowallet <command> -h" for the flags of a command.
`)
}

// envOr is the value of an environment variable, or def when it is unset.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

// secretValue is a string flag whose value never appears in usage text.
// The flag package prints each flag's default on -h or a flag error, and
// these defaults come from the environment: a bot token, a database URL
// with its password. String returns "" so the flag package treats the
// default as empty and prints nothing.
type secretValue struct{ p *string }

func (s secretValue) String() string { return "" }

func (s secretValue) Set(v string) error { *s.p = v; return nil }

// secretVar defines flag name on fs, set from the environment variable env
// when it is present, without ever printing the value.
func secretVar(fs *flag.FlagSet, p *string, name, env, usage string) {
	*p = os.Getenv(env)
	fs.Var(secretValue{p}, name, usage)
}
