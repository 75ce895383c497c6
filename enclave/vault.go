package enclave

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// LoadOrCreateDevVaultKey is the dev stand-in for KMS: a 32-byte vault key in a
// file, created with mode 0600 on first use. It is for `autowallet dev` and
// tests only: whoever can read the file can open every sealed record.
func LoadOrCreateDevVaultKey(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	switch {
	case err == nil:
		if len(key) != VaultKeySize {
			clear(key)
			return nil, fmt.Errorf("dev vault key %s: %d bytes, want %d", path, len(key), VaultKeySize)
		}
		return key, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("dev vault key: %w", err)
	}
	key = make([]byte, VaultKeySize)
	if _, err := io.ReadFull(rand.Reader, key); err != nil {
		return nil, fmt.Errorf("dev vault key: %w", err)
	}
	// O_EXCL: if two processes race to create it, one loses and rereads,
	// rather than both writing different keys.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		clear(key)
		return LoadOrCreateDevVaultKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("dev vault key: %w", err)
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("dev vault key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("dev vault key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("dev vault key: %w", err)
	}
	return key, nil
}
