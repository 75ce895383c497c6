package parent

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestCORS(t *testing.T) {
	called := 0
	h := CORS(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { called++ }), []string{"https://pages.example/"})
	cases := []struct {
		method, path, origin string
		wantACAO             string
		wantStatus, wantNext int
	}{
		{"OPTIONS", "/miniapp/api/approve", "https://pages.example", "https://pages.example", 204, 0},
		{"POST", "/miniapp/api/approve", "https://pages.example", "https://pages.example", 200, 1},
		{"POST", "/miniapp/api/approve", "https://evil.example", "", 200, 1},
		{"OPTIONS", "/miniapp/api/approve", "https://evil.example", "", 200, 1},
		{"GET", "/healthz", "https://pages.example", "", 200, 1},
	}
	for _, c := range cases {
		called = 0
		r := httptest.NewRequest(c.method, c.path, nil)
		r.Header.Set("Origin", c.origin)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if got := w.Header().Get("Access-Control-Allow-Origin"); got != c.wantACAO || w.Code != c.wantStatus || called != c.wantNext {
			t.Errorf("%s %s from %s: ACAO %q status %d next %d; want %q %d %d", c.method, c.path, c.origin, got, w.Code, called, c.wantACAO, c.wantStatus, c.wantNext)
		}
	}
}
