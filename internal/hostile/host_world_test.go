package hostile

// The world of the host-against-user suite (host_user_test.go): the real
// wallet service, enclave, chain and bbolt file (internal/teststack), the real
// bot against the Telegram emulator, the real Mini App page on its own origin,
// and a host that records everything that reaches it and replays it to the
// enclave, as a compromised parent would.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/autowallet/autowallet/bot"
	"github.com/autowallet/autowallet/bot/emulator"
	"github.com/autowallet/autowallet/bot/miniapp"
	"github.com/autowallet/autowallet/internal/testenv"
	"github.com/autowallet/autowallet/internal/teststack"
	"github.com/autowallet/autowallet/networks"
	"github.com/autowallet/autowallet/parent"
	"github.com/autowallet/autowallet/protocol"
	"github.com/autowallet/autowallet/storage"
)

const (
	worldToken   = "4242:hostile-world-token" // bot id 4242 = testenv.BotID
	worldBotName = "hostile_wallet_bot"
	worldMiniApp = "https://t.me/" + worldBotName + "/wallet"
)

// seen is one request that reached the host, with the answer it got.
type seen struct {
	Kind   string // "api" (the Mini App API), "botapi" (the bot's Telegram traffic), "page" (the page's own origin)
	Method string
	URL    string
	Header http.Header
	Body   []byte
	Answer []byte // "botapi" only: Telegram's answer (updates, messages)
}

func (s seen) dump() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", s.Method, s.URL)
	for k, vs := range s.Header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	b.Write(s.Body)
	b.WriteString("\n")
	b.Write(s.Answer)
	return b.String()
}

// hostLog records everything that reaches the host.
type hostLog struct {
	mu  sync.Mutex
	all []seen
}

func (l *hostLog) add(s seen) {
	l.mu.Lock()
	l.all = append(l.all, s)
	l.mu.Unlock()
}

// since returns what was recorded from mark on (mark from len).
func (l *hostLog) since(mark int) []seen {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.all[mark:])
}

func (l *hostLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.all)
}

// world is the system a user touches, with the host in the attacker's hands.
type userWorld struct {
	st      *teststack.Stack
	emu     *emulator.Emulator
	log     *hostLog
	hostURL string // the parent's API, as the page calls it (?api=)
	tgURL   string // Telegram (the emulator)
	pageURL string // the page's origin (not the host's)

	mu      sync.Mutex
	answers func(r *http.Request) (int, string, bool) // the attacker's own answers to the page, if set
}

func newUserWorld(t *testing.T) *userWorld {
	t.Helper()
	st := teststack.Start(t, teststack.Options{})
	w := &userWorld{st: st, log: &hostLog{}}

	// Listeners first: the page's policy names the host, the host's CORS
	// the page, and Telegram's Mini App URL both.
	hostSrv := httptest.NewUnstartedServer(nil)
	pageSrv := httptest.NewUnstartedServer(nil)
	tgSrv := httptest.NewUnstartedServer(nil)
	w.hostURL = "http://" + hostSrv.Listener.Addr().String()
	pageURL := "http://" + pageSrv.Listener.Addr().String()
	w.tgURL = "http://" + tgSrv.Listener.Addr().String()
	w.pageURL = pageURL

	emu, err := emulator.New(emulator.Config{
		BotToken: worldToken, BotUsername: worldBotName, MiniAppShortName: "wallet",
		MiniAppURL: pageURL + "/miniapp/?api=" + url.QueryEscape(w.hostURL), SigningKey: st.Enclave.Key,
	})
	if err != nil {
		t.Fatal(err)
	}
	w.emu = emu
	tgSrv.Config.Handler = emu.Handler()

	// The page is served from an origin the host does not control; what
	// reaches it is recorded too, to show the launch never travels there.
	// It is published with the deployment's identity key (config.json), as
	// an operator publishes it, so the page checks wallet statements itself,
	// and with the bot id and the (emulated) Telegram's key, so it checks
	// Telegram's signature on its own launch data.
	pageSrv.Config.Handler = w.record("page", miniapp.Handler(miniapp.WithAPIOrigin(w.hostURL),
		miniapp.WithConfig(st.Enclave.IdentityKey(), testenv.BotID, hex.EncodeToString(st.Enclave.Key.Public().(ed25519.PublicKey)),
			networks.Set{networks.DevL1()})))

	apiMux := http.NewServeMux()
	st.Service.RegisterAPI(apiMux)
	api := parent.CORS(apiMux, []string{pageURL})
	hostSrv.Config.Handler = w.record("api", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		answer := w.answers
		w.mu.Unlock()
		if answer != nil && r.Method == http.MethodPost {
			if status, body, ok := answer(r); ok {
				rw.Header().Set("Access-Control-Allow-Origin", pageURL)
				rw.Header().Set("Content-Type", "application/json")
				rw.WriteHeader(status)
				io.WriteString(rw, body)
				return
			}
		}
		api.ServeHTTP(rw, r)
	}))
	for _, s := range []*httptest.Server{hostSrv, pageSrv, tgSrv} {
		s.Start()
		t.Cleanup(s.Close)
	}

	// The bot runs on the host: its Telegram traffic passes a recording
	// proxy, so the attacker sees every update and every message.
	tg, _ := url.Parse(w.tgURL)
	proxy := httputil.NewSingleHostReverseProxy(tg)
	proxy.ErrorLog = log.New(io.Discard, "", 0) // long polls cut at the end of the test
	var pmu sync.Mutex
	answersOf := map[*http.Request][]byte{}
	proxy.ModifyResponse = func(resp *http.Response) error {
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(b))
		pmu.Lock()
		answersOf[resp.Request] = b
		pmu.Unlock()
		return err
	}
	botSrv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		out := r.Clone(r.Context())
		out.Body = io.NopCloser(bytes.NewReader(body))
		rec := &responseTap{ResponseWriter: rw}
		proxy.ServeHTTP(rec, out)
		w.log.add(seen{Kind: "botapi", Method: r.Method, URL: r.URL.String(), Header: r.Header.Clone(), Body: body, Answer: rec.buf.Bytes()})
	}))
	t.Cleanup(botSrv.Close)

	b, err := bot.New(bot.Config{Token: worldToken, APIURL: botSrv.URL, MiniAppLink: worldMiniApp, Faucet: st.Chain}, st.Service)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); b.Run(ctx) }()
	go func() { defer wg.Done(); st.Service.Track(ctx) }()
	t.Cleanup(func() {
		cancel()
		emu.Close()
		wg.Wait()
	})
	return w
}

// responseTap copies what the proxy writes back to the bot.
type responseTap struct {
	http.ResponseWriter
	buf bytes.Buffer
}

func (r *responseTap) Write(b []byte) (int, error) {
	r.buf.Write(b)
	return r.ResponseWriter.Write(b)
}

func (r *responseTap) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// record logs every request to next, whole, before serving it.
func (w *userWorld) record(kind string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		r.Body = io.NopCloser(bytes.NewReader(body))
		w.log.add(seen{Kind: kind, Method: r.Method, URL: r.URL.String(), Header: r.Header.Clone(), Body: body})
		next.ServeHTTP(rw, r)
	})
}

// hostAnswers makes the attacker answer the page's POSTs itself (nil: the
// parent answers).
func (w *userWorld) hostAnswers(f func(r *http.Request) (int, string, bool)) {
	w.mu.Lock()
	w.answers = f
	w.mu.Unlock()
}

// victim is a Telegram user with a funded wallet and the chat helpers.
type victim struct {
	*emulator.User
	w    *userWorld
	t    *testing.T
	addr common.Address
}

func (w *userWorld) victim(t *testing.T, id int64, name string) *victim {
	t.Helper()
	v := &victim{User: w.emu.User(id, name, strings.ToLower(name)), w: w, t: t}
	mark := v.Send("/start")
	greet := v.wait(func(m emulator.Message) bool { return m.FromBot && m.ID > mark && len(m.Buttons) > 0 })
	if _, err := v.Press(greet.ID, buttonData(t, greet, "Create wallet")); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if wal, err := w.st.Service.Wallet(id); err == nil {
			v.addr = wal.Address
			break
		} else if i == 300 {
			t.Fatalf("%s has no wallet", name)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, _, err := w.st.Chain.Drip(context.Background(), v.addr); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if b, err := w.st.Service.Balance(context.Background(), v.addr); err == nil && b.Sign() > 0 {
			return v
		} else if i == 300 {
			t.Fatal("the faucet's ETH never arrived")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (v *victim) wait(ok func(emulator.Message) bool) emulator.Message {
	v.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := v.WaitMessage(ctx, ok)
	if err != nil {
		v.t.Fatalf("no such message: %v", err)
	}
	return m
}

// send asks the bot for a transfer and returns its card and transfer.
func (v *victim) send(amount string, to common.Address) (emulator.Message, storage.Transfer) {
	v.t.Helper()
	mark := v.Send("/send " + amount + " ETH to " + to.Hex())
	card := v.wait(func(m emulator.Message) bool {
		return m.FromBot && m.ID > mark && hasButtonText(m, "Review")
	})
	link := buttonURL(v.t, card, "Review")
	sp := strings.TrimPrefix(link[strings.Index(link, "?startapp="):], "?startapp=")
	tr, err := v.w.st.Service.Transfer(parent.TransferID(sp))
	if err != nil {
		v.t.Fatal(err)
	}
	return card, tr
}

func hasButtonText(m emulator.Message, text string) bool {
	for _, row := range m.Buttons {
		for _, b := range row {
			if strings.Contains(b.Text, text) {
				return true
			}
		}
	}
	return false
}

func findButtonIn(t *testing.T, m emulator.Message, text string) emulator.Button {
	t.Helper()
	for _, row := range m.Buttons {
		for _, b := range row {
			if strings.Contains(b.Text, text) {
				return b
			}
		}
	}
	t.Fatalf("message #%d has no button %q: %+v", m.ID, text, m.Buttons)
	return emulator.Button{}
}

func buttonData(t *testing.T, m emulator.Message, text string) string {
	t.Helper()
	return findButtonIn(t, m, text).CallbackData
}

func buttonURL(t *testing.T, m emulator.Message, text string) string {
	t.Helper()
	return findButtonIn(t, m, text).URL
}

// replay is one attempt of the attacker at the enclave.
type replay struct {
	Candidate string
	Status    int
	Code      protocol.Code
	RawTx     string
}

// replayAll is the attacker's move: every string the host saw since mark
// (each whole request and answer, every URL, query value, header value, JSON
// string and form value in them, percent-decoded too) is sent to the
// enclave's /v1/approve as initData with every wallet record the host holds.
func (w *userWorld) replayAll(t *testing.T, mark int) []replay {
	t.Helper()
	cands := map[string]bool{}
	for _, s := range w.log.since(mark) {
		for _, c := range candidates(s) {
			cands[c] = true
			if d, err := url.QueryUnescape(c); err == nil {
				cands[d] = true
			}
		}
	}
	delete(cands, "")
	var records [][]byte // every sealed record in the host's bbolt file
	if err := w.st.Store.ForEachWallet(func(wal storage.Wallet) error {
		records = append(records, wal.Record)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(records) == 0 {
		t.Fatal("the attacker found no wallet record")
	}
	if n := len(cands) * len(records); n > 20000 {
		t.Fatalf("%d replays: bound the world's traffic", n)
	}
	var out []replay
	for _, c := range slices.Sorted(mapsKeys(cands)) {
		for _, rec := range records {
			out = append(out, w.approveAtEnclave(t, c, rec))
		}
	}
	return out
}

func mapsKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// approveAtEnclave posts one approval to the enclave, as the host can.
func (w *userWorld) approveAtEnclave(t *testing.T, initData string, record []byte) replay {
	t.Helper()
	body, _ := json.Marshal(protocol.ApproveRequest{InitData: initData, Record: record})
	resp, err := http.Post("http://"+w.st.Enclave.Addr+protocol.PathApprove, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := replay{Candidate: initData, Status: resp.StatusCode}
	if resp.StatusCode == http.StatusOK {
		var ok protocol.ApproveResponse
		if err := json.Unmarshal(raw, &ok); err != nil {
			t.Fatalf("enclave 200 %q", raw)
		}
		r.RawTx = ok.RawTx
		return r
	}
	var bad struct {
		Error *protocol.Error `json:"error"`
	}
	if err := json.Unmarshal(raw, &bad); err != nil || bad.Error == nil {
		t.Fatalf("enclave %d %q", resp.StatusCode, raw)
	}
	r.Code = bad.Error.Code
	return r
}

// candidates are the strings of one recorded request a host could try.
func candidates(s seen) []string {
	out := []string{s.URL, string(s.Body), string(s.Answer)}
	if u, err := url.Parse(s.URL); err == nil {
		for _, vs := range u.Query() {
			out = append(out, vs...)
		}
	}
	for _, vs := range s.Header {
		out = append(out, vs...)
	}
	for _, b := range [][]byte{s.Body, s.Answer} {
		var v any
		if json.Unmarshal(b, &v) == nil {
			out = appendStrings(out, v)
		}
	}
	if q, err := url.ParseQuery(string(s.Body)); err == nil {
		for _, vs := range q {
			out = append(out, vs...)
		}
	}
	if mt, p, err := mime.ParseMediaType(s.Header.Get("Content-Type")); err == nil && strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(bytes.NewReader(s.Body), p["boundary"])
		for range 100 {
			part, err := mr.NextPart()
			if err != nil {
				break
			}
			b, _ := io.ReadAll(io.LimitReader(part, 1<<16))
			out = append(out, string(b))
			var v any
			if json.Unmarshal(b, &v) == nil {
				out = appendStrings(out, v)
			}
		}
	}
	return out
}

// appendStrings adds every string inside a decoded JSON value (JSON inside
// a string too, as Telegram nests reply_markup).
func appendStrings(out []string, v any) []string {
	switch v := v.(type) {
	case string:
		out = append(out, v)
		var inner any
		if strings.HasPrefix(v, "{") && json.Unmarshal([]byte(v), &inner) == nil {
			out = appendStrings(out, inner)
		}
	case []any:
		for _, e := range v {
			out = appendStrings(out, e)
		}
	case map[string]any:
		for k, e := range v {
			out = appendStrings(append(out, k), e)
		}
	}
	return out
}

// noSignature asserts that no replay got a transaction other than one in
// approved (the transfers the user approved with a tap), that every refusal
// has one of the expected codes, and returns the codes seen.
func noSignature(t *testing.T, rs []replay, approved ...storage.Transfer) map[protocol.Code]int {
	t.Helper()
	codes := map[protocol.Code]int{}
	for _, r := range rs {
		if r.RawTx != "" {
			if !isOneOf(t, r.RawTx, approved) {
				t.Fatalf("the attacker got an unapproved transaction signed from a replay of %.80q", r.Candidate)
			}
			continue
		}
		switch r.Code {
		// wrong_owner: the user's own approval (after a tap) replayed with
		// another user's record.
		case protocol.CodeMalformedInitData, protocol.CodeBadSignature, protocol.CodeMalformedIntent, protocol.CodeWrongOwner:
			codes[r.Code]++
		default:
			t.Errorf("replay of %.80q: %d %s, want malformed_init_data, bad_signature, malformed_intent or wrong_owner", r.Candidate, r.Status, r.Code)
		}
	}
	return codes
}

// isOneOf reports whether raw is the transaction of one of the transfers.
func isOneOf(t *testing.T, rawHex string, ts []storage.Transfer) bool {
	t.Helper()
	var tx types.Transaction
	raw, err := hexutil.Decode(rawHex)
	if err != nil {
		t.Fatalf("enclave returned raw_tx %.20q: %v", rawHex, err)
	}
	if err := tx.UnmarshalBinary(raw); err != nil {
		t.Fatalf("enclave returned an undecodable transaction: %v", err)
	}
	for _, tr := range ts {
		var in protocol.Intent
		if err := in.UnmarshalBinary(tr.Intent); err != nil {
			t.Fatal(err)
		}
		if tx.ChainId().Uint64() == in.ChainID && tx.Nonce() == in.Nonce && tx.To() != nil && *tx.To() == in.To &&
			tx.Value().Cmp(in.Amount) == 0 && tx.GasFeeCap().Cmp(in.MaxFeePerGas) == 0 {
			return true
		}
	}
	return false
}

// carrying returns the recorded requests that carry initData or its
// signature, raw or percent-encoded, anywhere.
func carrying(log []seen, initData string) []seen {
	q, err := url.ParseQuery(initData)
	sig := q.Get("signature")
	if err != nil || len(sig) < 40 {
		panic("initData without a signature")
	}
	var out []seen
	for _, s := range log {
		d := s.dump()
		dec, _ := url.QueryUnescape(d)
		for _, n := range []string{initData, url.QueryEscape(initData), sig} {
			if strings.Contains(d, n) || strings.Contains(dec, n) {
				out = append(out, s)
				break
			}
		}
	}
	return out
}

// forgeries are the approvals the attacker can make itself for a transfer:
// with the bot token (HMAC `hash`) and with its own Ed25519 key.
func forgeries(t *testing.T, user int64, startParam string) []string {
	t.Helper()
	key := newTelegram(t).key
	v := initValues(user, startParam, time.Now())
	return []string{
		protocol.SignInitData(v, testenv.BotID, nil, worldToken), // bot-token HMAC only
		protocol.SignInitData(v, testenv.BotID, key, worldToken), // the attacker's key + HMAC
		protocol.SignInitData(v, testenv.BotID, key, ""),         // the attacker's key
	}
}
