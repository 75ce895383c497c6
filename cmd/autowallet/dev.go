package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
)

// DevMain is `autowallet dev`: the whole product on one machine.
type DevMain struct {
	log    *slog.Logger
	stdout io.Writer
}

// NewDevMain returns the dev program.
func NewDevMain(log *slog.Logger, stdout io.Writer) *DevMain {
	return &DevMain{log: log, stdout: stdout}
}

// ParseFlags reads the dev flags.
func (m *DevMain) ParseFlags(args []string) error {
	return flag.NewFlagSet("dev", flag.ContinueOnError).Parse(args)
}

// Run is not there yet: dev mode needs the bot, the Mini App page and the
// Telegram emulator (the next step of the plan).
func (m *DevMain) Run(ctx context.Context) error {
	return errors.New("dev mode is not built yet: it needs the bot, the Mini App and the Telegram emulator. " +
		"Today you can run the enclave (go run ./cmd/enclave -tcp 127.0.0.1:7000 -config <dev config> -dev-vault-key <file>) " +
		"and the host (go run ./cmd/autowallet parent -h)")
}

// Close has nothing to stop.
func (m *DevMain) Close() error { return nil }
