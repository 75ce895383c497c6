package parent_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/protocol"
)

// TestEnclaveClientReadsAnswersStrictly: the parent reads the enclave's
// answers as strictly as the enclave reads requests, so the record it
// stores has one spelling; and it declares its bodies as application/json,
// which the enclave requires.
func TestEnclaveClientReadsAnswersStrictly(t *testing.T) {
	const addr = `"address":"0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"`
	var mu sync.Mutex
	var answer string
	var contentTypes []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		contentTypes = append(contentTypes, r.Header.Get("Content-Type"))
		a := answer
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, a)
	}))
	t.Cleanup(srv.Close)
	c := parent.NewEnclaveClientTCP(strings.TrimPrefix(srv.URL, "http://"), 5*time.Second)
	create := func(body string) error {
		mu.Lock()
		answer = body
		mu.Unlock()
		_, _, err := c.CreateWallet(context.Background(), 77)
		return err
	}
	if err := create(`{` + addr + `,"record":"AQID"}`); err != nil {
		t.Fatalf("a canonical answer: %v", err)
	}
	for name, body := range map[string]string{
		"record with a line break": `{` + addr + `,"record":"AQ\nID"}`,
		"record unpadded":          `{` + addr + `,"record":"AQI"}`,
		"record twice":             `{` + addr + `,"record":"AQID","record":"BBBB"}`,
		"Record":                   `{` + addr + `,"Record":"AQID"}`,
		"record null":              `{` + addr + `,"record":null}`,
		"unknown field":            `{` + addr + `,"record":"AQID","extra":1}`,
		"two objects":              `{` + addr + `,"record":"AQID"}{}`,
	} {
		if err := create(body); !errors.Is(err, parent.ErrEnclaveUnavailable) {
			t.Errorf("%s: %v, want ErrEnclaveUnavailable", name, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, ct := range contentTypes {
		if protocol.CheckContentType(http.Header{"Content-Type": {ct}}) != nil {
			t.Fatalf("the client sent Content-Type %q", ct)
		}
	}
}
