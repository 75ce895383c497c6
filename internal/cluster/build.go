package cluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Bins are the two programs a cluster runs, built from this checkout.
type Bins struct {
	Autowallet, Enclave string
}

var built struct {
	once sync.Once
	bins Bins
	err  error
}

// Build builds cmd/autowallet and cmd/enclave once per test binary (into a
// temporary directory removed when the process exits normally; a killed
// test binary leaves autowallet-cluster-* in $TMPDIR).
func Build(t testing.TB) Bins {
	t.Helper()
	built.once.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			built.err = fmt.Errorf("go env GOMOD: %v", err)
			return
		}
		root := filepath.Dir(strings.TrimSpace(string(out)))
		dir, err := os.MkdirTemp("", "autowallet-cluster-")
		if err != nil {
			built.err = err
			return
		}
		built.bins = Bins{Autowallet: filepath.Join(dir, "autowallet"), Enclave: filepath.Join(dir, "enclave")}
		for bin, pkg := range map[string]string{built.bins.Autowallet: "./cmd/autowallet", built.bins.Enclave: "./cmd/enclave"} {
			cmd := exec.Command("go", "build", "-o", bin, pkg)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				built.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
				return
			}
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bins
}
