package storage

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestStorageImportsNoEngine keeps the split of database/sql and its
// drivers: package storage (the domain types, the Store interface, the
// shared checks and encodings) links no engine. bbolt lives in
// storage/bolt, PostgreSQL in storage/postgres; a program that needs only
// the types, or only one engine, does not carry the other.
func TestStorageImportsNoEngine(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if !strings.Contains(string(out), "github.com/autowallet/autowallet/storage/internal/codec\n") {
		t.Fatalf("go list gave an implausible list: %q", out)
	}
	for _, dep := range deps {
		for _, banned := range []string{
			"go.etcd.io/bbolt",
			"github.com/autowallet/autowallet/storage/bolt",
			"github.com/autowallet/autowallet/storage/postgres",
			"github.com/jackc/pgx",
		} {
			if dep == banned || strings.HasPrefix(dep, banned+"/") {
				t.Errorf("package storage links %s", dep)
			}
		}
	}
}
