package lbproxy_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/autowallet/autowallet/internal/lbproxy"
)

func backend(t *testing.T, name string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Backend", name)
		io.WriteString(w, name+" "+r.URL.Path+" "+string(b)+" "+r.Header.Get("X-Test"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// refusedURL is a 127.0.0.1 address nothing listens on.
func refusedURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func post(t *testing.T, url string) (int, string) {
	req, _ := http.NewRequest("POST", url+"/hook/x?q=1", strings.NewReader("body"))
	req.Header.Set("X-Test", "hdr")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRoundRobinAndRefused(t *testing.T) {
	a, b := backend(t, "a"), backend(t, "b")
	p, err := lbproxy.Start([]string{a.URL, refusedURL(t), b.URL}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if !strings.HasPrefix(p.URL(), "http://127.0.0.1:") {
		t.Fatalf("proxy listens on %s", p.URL())
	}
	var got []string
	for range 6 {
		code, body := post(t, p.URL())
		if code != 200 {
			t.Fatalf("status %d %q", code, body)
		}
		got = append(got, body)
	}
	// a, (refused -> b), b, a, (refused -> b), b; path, body and headers are forwarded.
	want := "a /hook/x body hdr"
	if got[0] != want {
		t.Fatalf("first = %q, want %q", got[0], want)
	}
	c := p.Counts()
	if c[0].Forwarded != 2 || c[1].Refused != 2 || c[1].Forwarded != 0 || c[2].Forwarded != 4 {
		t.Fatalf("counts %+v", c)
	}
	p.SetDown(0, true)
	p.SetDown(2, true)
	if code, _ := post(t, p.URL()); code != http.StatusServiceUnavailable {
		t.Fatalf("all down/refused: status %d, want 503", code)
	}
}

func TestStartRefusesBadBackends(t *testing.T) {
	if _, err := lbproxy.Start(nil, time.Second); err == nil {
		t.Fatal("no backends accepted")
	}
	if _, err := lbproxy.Start([]string{"ftp://x"}, time.Second); err == nil {
		t.Fatal("ftp backend accepted")
	}
}
