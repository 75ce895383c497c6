// Package deploy holds the deployment files (Dockerfile, enclave configs, KMS
// key policy, systemd units, allocator and vsock-proxy settings). Its tests
// check what can be checked without AWS: that the files parse and keep the
// security properties docs/deploy.md relies on.
package deploy

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/autowallet/autowallet/enclave"
)

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestEnclaveConfigs: every deploy/enclave-config*.json parses with the
// enclave's own strict parser; the production template is a production config.
func TestEnclaveConfigs(t *testing.T) {
	files, err := filepath.Glob("enclave-config*.json")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(files, "enclave-config.json") || !slices.Contains(files, "enclave-config.dev.json") {
		t.Fatalf("configs found: %v; want enclave-config.json and enclave-config.dev.json", files)
	}
	for _, f := range files {
		cfg, err := enclave.ParseConfig([]byte(read(t, f)))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		isDev := strings.Contains(f, ".dev.")
		if cfg.Dev != isDev {
			t.Errorf("%s: dev mode = %v, want %v (only *.dev.json files may be dev configs)", f, cfg.Dev, isDev)
		}
	}
}

// TestJSONFilesAreValid: every JSON file here is one well-formed value.
func TestJSONFilesAreValid(t *testing.T) {
	files, _ := filepath.Glob("*.json")
	if len(files) < 3 {
		t.Fatalf("JSON files: %v", files)
	}
	for _, f := range files {
		dec := json.NewDecoder(strings.NewReader(read(t, f)))
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Errorf("%s: %v", f, err)
		} else if dec.More() {
			t.Errorf("%s: trailing data", f)
		}
	}
}

type policy struct {
	Version   string
	ID        string `json:"Id"`
	Statement []statement
}

type statement struct {
	Sid       string
	Effect    string
	Principal map[string]any
	Action    any
	NotAction any
	Resource  any
	Condition map[string]map[string]any
}

func (s statement) actions() []string { return stringList(s.Action) }

func stringList(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// covers reports whether an IAM action pattern (with * and ?) matches action.
func covers(pattern, action string) bool {
	re := "^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(strings.ToLower(pattern))) + "$"
	return regexp.MustCompile(re).MatchString(strings.ToLower(action))
}

func anyCovers(patterns []string, action string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return covers(p, action) })
}

const attestationKey = "kms:RecipientAttestation:ImageSha384"

// plaintextActions return key material when called without a Recipient.
var plaintextActions = []string{"kms:Decrypt", "kms:GenerateDataKey"}

func loadPolicy(t *testing.T) policy {
	t.Helper()
	var p policy
	dec := json.NewDecoder(strings.NewReader(read(t, "kms-key-policy.json")))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatal(err)
	}
	if p.Version != "2012-10-17" {
		t.Fatalf("policy version %q", p.Version)
	}
	return p
}

// TestKMSKeyPolicy: the vault key is released only to an attested enclave.
//   - no Allow statement grants Decrypt/GenerateDataKey (also through a
//     wildcard or NotAction) without the PCR0 condition;
//   - the attested Allow names the instance role and the ${PCR0} placeholder;
//   - a Deny for every principal refuses those actions when the request has
//     no attestation (kms:RecipientAttestation:ImageSha384 is null);
//   - the key admins are a different principal and cannot use the key.
func TestKMSKeyPolicy(t *testing.T) {
	p := loadPolicy(t)
	var attested, nullDeny, admin bool
	for _, s := range p.Statement {
		principal, _ := json.Marshal(s.Principal)
		if s.NotAction != nil && s.Effect == "Allow" {
			t.Errorf("statement %q: Allow with NotAction can grant Decrypt; list actions instead", s.Sid)
		}
		switch s.Effect {
		case "Allow":
			grantsPlaintext := false
			for _, a := range plaintextActions {
				if anyCovers(s.actions(), a) {
					grantsPlaintext = true
				}
			}
			if !grantsPlaintext {
				if strings.Contains(string(principal), "${KEY_ADMIN_ROLE}") {
					admin = true
				}
				continue
			}
			cond := s.Condition["StringEqualsIgnoreCase"][attestationKey]
			if cond == nil {
				cond = s.Condition["StringEquals"][attestationKey]
			}
			if cond == nil {
				t.Errorf("statement %q allows %v to %s without the %s condition", s.Sid, s.actions(), principal, attestationKey)
				continue
			}
			if !slices.Contains(stringList(cond), "${PCR0}") {
				t.Errorf("statement %q: %s = %v, want the ${PCR0} placeholder", s.Sid, attestationKey, cond)
			}
			if !strings.Contains(string(principal), "${INSTANCE_ROLE}") || strings.Contains(string(principal), "${KEY_ADMIN_ROLE}") || strings.Contains(string(principal), `"*"`) {
				t.Errorf("statement %q: attested use is for the instance role only, got %s", s.Sid, principal)
			}
			attested = true
		case "Deny":
			if s.Condition["Null"][attestationKey] != "true" {
				continue
			}
			if s.Principal["AWS"] != "*" {
				t.Errorf("statement %q: the no-attestation Deny must cover every principal, got %s", s.Sid, principal)
			}
			nullDeny = true
			for _, a := range plaintextActions {
				if !anyCovers(s.actions(), a) {
					t.Errorf("statement %q: the no-attestation Deny does not cover %s", s.Sid, a)
				}
			}
		default:
			t.Errorf("statement %q: effect %q", s.Sid, s.Effect)
		}
	}
	if !attested {
		t.Error("no statement allows the attested enclave (instance role, PCR0) to use the key")
	}
	if !nullDeny {
		t.Errorf("no Deny statement refuses Decrypt/GenerateDataKey when %s is null (a plaintext path outside the enclave)", attestationKey)
	}
	if !admin {
		t.Error("no key administration statement for ${KEY_ADMIN_ROLE}")
	}
	// Anything that would let a principal re-wrap the vault key under
	// another key, or grant itself use, is denied outright; so is every way
	// to make a ciphertext under this key of a plaintext the caller chose
	// (Encrypt, ReEncrypt*, imported key material): with the pinned key and
	// encryption context, such a blob handed to the enclave as
	// ciphertext_blob would make it adopt a vault key the host knows.
	for _, a := range deniedOutright {
		if !deniedToEveryone(p, a) {
			t.Errorf("%s is not denied to every principal unconditionally", a)
		}
	}
}

// deniedOutright are the KMS actions the key policy denies to everyone.
var deniedOutright = []string{"kms:Encrypt", "kms:ImportKeyMaterial", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:CreateGrant"}

// deniedToEveryone: a Deny statement without a condition, for principal
// "*", covers action.
func deniedToEveryone(p policy, action string) bool {
	return slices.ContainsFunc(p.Statement, func(s statement) bool {
		return s.Effect == "Deny" && s.Condition == nil && s.Principal["AWS"] == "*" && anyCovers(s.actions(), action)
	})
}

// TestKMSPolicyCheckerFindsMissingDenies: the check above fails a policy
// that drops any one of the outright denies (each check can fail).
func TestKMSPolicyCheckerFindsMissingDenies(t *testing.T) {
	for _, a := range deniedOutright {
		p := loadPolicy(t)
		for i, s := range p.Statement {
			if s.Effect != "Deny" || s.Condition != nil {
				continue
			}
			var kept []any
			for _, x := range s.actions() {
				if !covers(x, a) {
					kept = append(kept, x)
				}
			}
			p.Statement[i].Action = kept
		}
		if deniedToEveryone(p, a) {
			t.Errorf("a policy without a Deny of %s passes", a)
		}
	}
	// A Deny for one principal only is not a Deny to everyone.
	p := loadPolicy(t)
	for i := range p.Statement {
		if p.Statement[i].Effect == "Deny" {
			p.Statement[i].Principal = map[string]any{"AWS": "arn:aws:iam::111122223333:role/someone"}
		}
	}
	if deniedToEveryone(p, "kms:Encrypt") {
		t.Error("a Deny for one role counts as a Deny to everyone")
	}
}

// builderPinned matches a FROM line pinned by digest; placeholder is the
// marked stand-in until someone with registry access pins it.
var (
	fromLine      = regexp.MustCompile(`(?im)^FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?\s*$`)
	digestPinned  = regexp.MustCompile(`@sha256:[0-9a-f]{64}$`)
	digestPending = "@sha256:PIN_ME"
)

// checkDockerfile returns what is wrong with a Dockerfile for the enclave
// image; release makes the digest placeholder an error too.
func checkDockerfile(src string, release bool) []string {
	var errs []string
	froms := fromLine.FindAllStringSubmatch(src, -1)
	if len(froms) < 2 {
		return []string{"want a multi-stage build: a builder stage and a final FROM scratch"}
	}
	last := froms[len(froms)-1]
	if last[1] != "scratch" {
		errs = append(errs, "the final stage is FROM "+last[1]+", want FROM scratch")
	}
	for _, f := range froms[:len(froms)-1] {
		image := f[1]
		switch {
		case digestPinned.MatchString(image):
		case strings.HasSuffix(image, digestPending) && !release:
			// Marked placeholder: docker refuses it and build-eif.sh says how to pin.
		case strings.HasSuffix(image, digestPending):
			errs = append(errs, "builder "+image+": the digest is still the placeholder; release builds need image@sha256:<64 hex> (docker buildx imagetools inspect <image>)")
		default:
			errs = append(errs, "builder "+image+" is not pinned by digest: a tag can be moved to other bytes and change PCR0; write image:tag@sha256:<64 hex> (or, until it can be looked up, the marked placeholder @sha256:PIN_ME, which docker refuses to build)")
		}
	}
	final := src[strings.LastIndex(src, last[0]):]
	for _, line := range strings.Split(final, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		word := strings.ToUpper(strings.Fields(line)[0])
		switch word {
		case "FROM", "ENTRYPOINT", "CMD":
		case "COPY":
			if !strings.Contains(line, "--from=") {
				errs = append(errs, "final stage copies from the build context: "+line)
			}
		default:
			errs = append(errs, "final stage has "+word+": only the binary and the config belong in it")
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-buildvcs=false", "-buildid=", "SOURCE_DATE_EPOCH", "/etc/autowallet/enclave.json", "./cmd/enclave"} {
		if !strings.Contains(src, want) {
			errs = append(errs, "the Dockerfile lacks "+want)
		}
	}
	return errs
}

// TestDockerfile checks deploy/Dockerfile. With AUTOWALLET_RELEASE=1 the
// builder digest placeholder fails the test.
func TestDockerfile(t *testing.T) {
	release := os.Getenv("AUTOWALLET_RELEASE") == "1"
	src := read(t, "Dockerfile")
	for _, e := range checkDockerfile(src, release) {
		t.Error(e)
	}
	if strings.Contains(src, digestPending) {
		t.Logf("NOTE: the builder digest in deploy/Dockerfile is the placeholder %s; pin it before a release (AUTOWALLET_RELEASE=1 makes this a failure)", digestPending)
	}
}

// TestDockerfileChecker: the checker itself refuses what it must.
func TestDockerfileChecker(t *testing.T) {
	good := "FROM golang:1.26@sha256:" + strings.Repeat("ab", 32) + " AS build\n" +
		"RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags=\"-s -w -buildid=\" ./cmd/enclave # SOURCE_DATE_EPOCH /etc/autowallet/enclave.json\n" +
		"FROM scratch\nCOPY --from=build /out/ /\nENTRYPOINT [\"/enclave\"]\n"
	if errs := checkDockerfile(good, true); len(errs) != 0 {
		t.Fatalf("a good Dockerfile: %v", errs)
	}
	bad := map[string]string{
		"unpinned tag":        strings.Replace(good, "@sha256:"+strings.Repeat("ab", 32), "", 1),
		"short digest":        strings.Replace(good, strings.Repeat("ab", 32), "abcd", 1),
		"final not scratch":   strings.Replace(good, "FROM scratch", "FROM alpine", 1),
		"shell in final":      good + "RUN echo hi\n",
		"context copy":        good + "COPY enclave.json /etc/\n",
		"no trimpath":         strings.Replace(good, "-trimpath ", "", 1),
		"placeholder release": strings.Replace(good, "@sha256:"+strings.Repeat("ab", 32), digestPending, 1),
	}
	for name, src := range bad {
		if errs := checkDockerfile(src, true); len(errs) == 0 {
			t.Errorf("%s: accepted", name)
		}
	}
	placeholder := strings.Replace(good, "@sha256:"+strings.Repeat("ab", 32), digestPending, 1)
	if errs := checkDockerfile(placeholder, false); len(errs) != 0 {
		t.Errorf("the marked placeholder outside a release: %v", errs)
	}
}

// unitValue returns the values of key= in a systemd unit.
func unitValues(src, key string) []string {
	var out []string
	for _, line := range strings.Split(src, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), key+"="); ok {
			out = append(out, v)
		}
	}
	return out
}

// TestSystemdUnits: no debug mode anywhere; the enclave's resources fit the
// allocator; the parent is hardened and reads its env file; the KMS proxy
// goes to the one allowlisted endpoint.
func TestSystemdUnits(t *testing.T) {
	units, _ := filepath.Glob("systemd/*")
	if len(units) < 3 {
		t.Fatalf("units: %v", units)
	}
	for _, f := range append(units, "build-eif.sh") {
		src := read(t, f)
		if strings.Contains(src, "--debug-mode") || strings.Contains(src, "debug_mode") || strings.Contains(src, "--attach-console") {
			t.Errorf("%s runs the enclave in debug mode (all-zero PCRs: KMS refuses it, verify rejects it)", f)
		}
	}

	enc := read(t, "systemd/autowallet-enclave.service")
	run := strings.Join(unitValues(enc, "ExecStart"), " ")
	flag := func(name string) string {
		m := regexp.MustCompile(regexp.QuoteMeta(name) + `\s+(\S+)`).FindStringSubmatch(run)
		if m == nil {
			t.Fatalf("enclave unit: no %s in %q", name, run)
		}
		return m[1]
	}
	alloc := read(t, "allocator.yaml")
	allocValue := func(key string) string {
		m := regexp.MustCompile(`(?m)^` + key + `:\s*(\d+)\s*$`).FindStringSubmatch(alloc)
		if m == nil {
			t.Fatalf("allocator.yaml: no %s", key)
		}
		return m[1]
	}
	if !strings.Contains(run, "nitro-cli run-enclave") || flag("--enclave-cid") != "16" || !strings.HasSuffix(flag("--eif-path"), ".eif") {
		t.Errorf("enclave unit ExecStart = %q", run)
	}
	if got, want := flag("--cpu-count"), allocValue("cpu_count"); got != want {
		t.Errorf("enclave --cpu-count %s, allocator cpu_count %s", got, want)
	}
	if got, want := flag("--memory"), allocValue("memory_mib"); got != want {
		t.Errorf("enclave --memory %s, allocator memory_mib %s", got, want)
	}

	parentUnit := read(t, "systemd/autowallet-parent.service")
	for _, want := range []string{
		"EnvironmentFile=/etc/autowallet/parent.env", "DynamicUser=yes", "StateDirectory=autowallet",
		"ProtectSystem=strict", "NoNewPrivileges=yes", "PrivateTmp=yes", "Restart=on-failure",
		"ExecStart=/usr/local/bin/autowallet parent",
	} {
		if !strings.Contains(parentUnit, want) {
			t.Errorf("parent unit lacks %s", want)
		}
	}
	for _, env := range unitValues(parentUnit, "Environment") {
		if addr, ok := strings.CutPrefix(env, "AUTOWALLET_ADMIN="); ok && !strings.HasPrefix(addr, "127.0.0.1:") {
			t.Errorf("parent unit: admin listener %s is not loopback", addr)
		}
	}

	proxy := read(t, "systemd/autowallet-kms-proxy.service")
	var region, port string
	for _, env := range unitValues(proxy, "Environment") {
		if v, ok := strings.CutPrefix(env, "AWS_REGION="); ok {
			region = v
		}
		if v, ok := strings.CutPrefix(env, "KMS_PROXY_PORT="); ok {
			port = v
		}
	}
	if region == "" || port == "" || !strings.Contains(strings.Join(unitValues(proxy, "ExecStart"), ""), "vsock-proxy ${KMS_PROXY_PORT} kms.${AWS_REGION}.amazonaws.com 443 --config /etc/nitro_enclaves/vsock-proxy.yaml") {
		t.Errorf("kms proxy unit: region %q port %q ExecStart %q", region, port, unitValues(proxy, "ExecStart"))
	}
	var allow []string
	for _, line := range strings.Split(read(t, "vsock-proxy.yaml"), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "- ") {
			allow = append(allow, strings.TrimSpace(line))
		}
	}
	want := "- {address: kms." + region + ".amazonaws.com, port: 443}"
	if len(allow) != 1 || allow[0] != want {
		t.Errorf("vsock-proxy.yaml allowlist = %q, want only %q", allow, want)
	}

	// The production config's KMS settings (once it has them) name the same
	// region and vsock port as the proxy.
	var cfg struct {
		Region string `json:"kms_region"`
		Port   any    `json:"kms_proxy_port"`
	}
	if err := json.Unmarshal([]byte(read(t, "enclave-config.json")), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "" && cfg.Region != region {
		t.Errorf("enclave-config.json kms_region %q, the KMS proxy's region %q", cfg.Region, region)
	}
	if cfg.Port != nil {
		if p, _ := json.Marshal(cfg.Port); string(p) != port {
			t.Errorf("enclave-config.json kms_proxy_port %s, the KMS proxy's port %s", p, port)
		}
	}
}

// TestParentEnvExample: the example env file is NAME=value lines naming the
// settings the parent and the runbook need.
func TestParentEnvExample(t *testing.T) {
	src := read(t, "parent.env.example")
	names := map[string]bool{}
	for i, line := range bytes.Split([]byte(src), []byte("\n")) {
		l := strings.TrimSpace(string(line))
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		name, _, ok := strings.Cut(l, "=")
		if !ok || !regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`).MatchString(name) {
			t.Errorf("line %d: %q is not NAME=value", i+1, l)
		}
		names[name] = true
	}
	for _, n := range []string{"ETH_RPC_URL", "ETH_CHAIN_ID", "TELEGRAM_BOT_TOKEN", "TELEGRAM_MINIAPP", "AUTOWALLET_MINIAPP_ORIGIN"} {
		if !names[n] {
			t.Errorf("parent.env.example lacks %s", n)
		}
	}
}
