package contracts

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// generatedHeader starts every file abigen writes.
const generatedHeader = "// Code generated - DO NOT EDIT."

// TestRebuildGivesCommittedBytes reruns build.sh (pinned solc-js and
// OpenZeppelin from npm, abigen of go.mod's go-ethereum) into a temporary
// directory and fails unless every ABI, bytecode and binding is byte for
// byte the committed one, and no committed artifact is left over. It needs
// node and npm; it fails (never skips) without them.
func TestRebuildGivesCommittedBytes(t *testing.T) {
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found on PATH: run `make tools` (it installs Debian's nodejs and npm, then the pinned solc and OpenZeppelin into .tools/npm)", tool)
		}
	}
	out := t.TempDir()
	// The first run on a machine may install abigen with go install.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, "bash", "build.sh", out)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Run(); err != nil {
		t.Fatalf("build.sh: %v\n%s", err, log.String())
	}
	t.Logf("rebuild took %s", time.Since(start).Round(10*time.Millisecond))

	want := committedOutputs(t, ".")
	got := committedOutputs(t, out)
	if strings.Join(keys(got), " ") != strings.Join(keys(want), " ") {
		t.Fatalf("rebuild wrote %v, committed are %v: run `make contracts` and commit", keys(got), keys(want))
	}
	for _, name := range keys(want) {
		if !bytes.Equal(got[name], want[name]) {
			t.Errorf("%s differs from a rebuild (%d bytes committed, %d rebuilt): run `make contracts` and commit, or find what is not deterministic", name, len(want[name]), len(got[name]))
		}
	}
}

// committedOutputs reads build/* and the generated Go files under dir.
func committedOutputs(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	arts, err := filepath.Glob(filepath.Join(dir, "build", "*"))
	if err != nil {
		t.Fatal(err)
	}
	gos, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range append(arts, gos...) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(p, ".go") && !bytes.HasPrefix(b, []byte(generatedHeader)) {
			continue // hand-written
		}
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = b
	}
	if len(files) == 0 {
		t.Fatalf("no artifacts under %s", dir)
	}
	return files
}

func keys(m map[string][]byte) []string {
	k := make([]string, 0, len(m))
	for n := range m {
		k = append(k, n)
	}
	sort.Strings(k)
	return k
}

// TestCompileRefusesForeignImport: a source may import only from the pinned
// OpenZeppelin package, never a file elsewhere on the machine.
func TestCompileRefusesForeignImport(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node not found on PATH: run `make tools`")
	}
	if out, err := exec.Command("bash", "build.sh", "tools").CombinedOutput(); err != nil {
		t.Fatalf("build.sh tools: %v\n%s", err, out)
	}
	tools := os.Getenv("AUTOWALLET_TOOLS")
	if tools == "" {
		tools = filepath.Join("..", ".tools")
	}
	for _, imp := range []string{"/etc/hostname", "@openzeppelin/contracts/../../solc/package.json", "solc/soljson.js"} {
		src := t.TempDir()
		code := "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.24;\nimport \"" + imp + "\";\ncontract X {}\n"
		if err := os.WriteFile(filepath.Join(src, "X.sol"), []byte(code), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("node", "compile.js", filepath.Join(tools, "npm", "node_modules"), src, t.TempDir()).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "only @openzeppelin/contracts/... is allowed") {
			t.Errorf("import %q: %v\n%s", imp, err, out)
		}
	}
}
