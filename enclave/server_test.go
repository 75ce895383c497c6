package enclave

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/autowallet/autowallet/internal/testvectors"
	"github.com/autowallet/autowallet/protocol"
)

// call makes one request and returns the status and body.
func call(t testing.TB, method, url string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("content type %q", ct)
	}
	return resp.StatusCode, b
}

// decodeStrict decodes exactly one JSON value with no unknown fields.
func decodeStrict(t testing.TB, b []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if dec.More() {
		t.Fatalf("%s: more than one value", b)
	}
}

// wantErrorShape asserts a response is {"error":{"code","message"}} with the
// code's status, and that it reads back as the reason.
func wantErrorShape(t testing.TB, status int, body []byte, code protocol.Code) {
	t.Helper()
	var e struct {
		Error *struct {
			Code    protocol.Code `json:"code"`
			Message string        `json:"message"`
		} `json:"error"`
	}
	decodeStrict(t, body, &e)
	if e.Error == nil || e.Error.Code != code || e.Error.Message == "" || status != code.HTTPStatus() {
		t.Fatalf("status %d, body %s; want code %s, status %d", status, body, code, code.HTTPStatus())
	}
	resp := &http.Response{StatusCode: status, Body: io.NopCloser(bytes.NewReader(body))}
	if err := protocol.ReadError(resp); !errors.Is(err, &protocol.Error{Code: code}) {
		t.Fatalf("ReadError: %v", err)
	}
}

func approveBody(t testing.TB, initData string, rec []byte) []byte {
	b, err := json.Marshal(protocol.ApproveRequest{InitData: initData, Record: rec})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHTTPHealth(t *testing.T) {
	f := newFixture(t)
	idHex := hex.EncodeToString(testvectors.IdentityKey().Public().(ed25519.PublicKey))
	for _, c := range []struct {
		signer   *Signer
		vault    string
		identity string
	}{{f.signer, "unlocked", idHex}, {f.newSigner(f.cfg, nil), "locked", ""}} {
		url, _ := startServer(t, c.signer)
		status, body := call(t, "GET", url+protocol.PathHealth, nil)
		var h protocol.HealthResponse
		decodeStrict(t, body, &h)
		// The baked config's chains and tokens, locked or not, in its order.
		chains := []protocol.ChainTokens{{ChainID: testvectors.ChainID, Tokens: []string{testvectors.TokenHex}},
			{ChainID: testvectors.DevChainID, Tokens: []string{testvectors.OtherChainTokenHex}}}
		if status != 200 || !reflect.DeepEqual(h, protocol.HealthResponse{Status: "ok", Vault: c.vault, Protocol: protocol.ProtocolVersion, IdentityKey: c.identity, Chains: chains}) {
			t.Fatalf("%d %+v", status, h)
		}
		// Absent, not empty, while locked.
		if c.identity == "" && bytes.Contains(body, []byte("identity_key")) {
			t.Fatalf("locked health names an identity key: %s", body)
		}
	}
}

// TestHTTPCreateAndApprove is the happy path over a real loopback server.
func TestHTTPCreateAndApprove(t *testing.T) {
	f := newFixture(t)
	url, _ := startServer(t, f.signer)
	status, body := call(t, "POST", url+protocol.PathWallets, []byte(`{"owner":424242}`))
	var w protocol.CreateWalletResponse
	decodeStrict(t, body, &w)
	if status != 200 || len(w.Record) != RecordV1Length || !strings.HasPrefix(w.Address, "0x") {
		t.Fatalf("%d %s", status, body)
	}
	r, err := decodeRecord(w.Record)
	if err != nil || r.Address.Hex() != w.Address || r.Owner != alice {
		t.Fatalf("record %+v, %v", r, err)
	}
	a := &approval{signer: f.signer, user: alice, authDate: f.now, startParam: f.startParam(f.intent(r.Address)), record: w.Record}
	status, body = call(t, "POST", url+protocol.PathApprove, approveBody(t, f.signInitData(a), w.Record))
	var ar protocol.ApproveResponse
	decodeStrict(t, body, &ar)
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	raw, err := hexutil.Decode(ar.RawTx)
	if err != nil {
		t.Fatal(err)
	}
	var tx types.Transaction
	if err := tx.UnmarshalBinary(raw); err != nil {
		t.Fatal(err)
	}
	sender, err := types.Sender(types.LatestSignerForChainID(tx.ChainId()), &tx)
	if err != nil || sender != r.Address || tx.Hash().Hex() != ar.TxHash {
		t.Fatalf("sender %s (%v), hash %s vs %s", sender, err, tx.Hash().Hex(), ar.TxHash)
	}
}

// TestHTTPErrors sends one request per error code and checks its status and
// shape.
func TestHTTPErrors(t *testing.T) {
	f := newFixture(t)
	url, _ := startServer(t, f.signer)
	lockedURL, _ := startServer(t, f.newSigner(f.cfg, nil))
	valid, w := f.validApproval()
	approveWith := func(change func(a *approval)) []byte {
		a := *valid
		change(&a)
		return approveBody(t, f.signInitData(&a), a.record)
	}
	cases := []struct {
		name, method, url string
		body              []byte
		code              protocol.Code
	}{
		{"invalid JSON", "POST", url + protocol.PathApprove, []byte(`{"init_data":`), protocol.CodeMalformedRequest},
		{"empty body", "POST", url + protocol.PathWallets, nil, protocol.CodeMalformedRequest},
		{"unknown field", "POST", url + protocol.PathWallets, []byte(`{"owner":1,"admin":true}`), protocol.CodeMalformedRequest},
		{"trailing data", "POST", url + protocol.PathWallets, []byte(`{"owner":1} {"owner":2}`), protocol.CodeMalformedRequest},
		{"wrong type", "POST", url + protocol.PathWallets, []byte(`{"owner":"1"}`), protocol.CodeMalformedRequest},
		{"record not base64", "POST", url + protocol.PathApprove, []byte(`{"init_data":"a=b","record":"***"}`), protocol.CodeMalformedRequest},
		{"owner zero", "POST", url + protocol.PathWallets, []byte(`{"owner":0}`), protocol.CodeMalformedRequest},
		{"body over the limit", "POST", url + protocol.PathApprove, bytes.Repeat([]byte(" "), protocol.MaxRequestBody+1), protocol.CodeTooLarge},
		{"GET approve", "GET", url + protocol.PathApprove, nil, protocol.CodeMethodNotAllowed},
		{"PUT wallets", "PUT", url + protocol.PathWallets, []byte(`{}`), protocol.CodeMethodNotAllowed},
		{"POST health", "POST", url + protocol.PathHealth, nil, protocol.CodeMethodNotAllowed},
		{"root", "GET", url + "/", nil, protocol.CodeNotFound},
		{"unknown path", "POST", url + "/v1/sign", nil, protocol.CodeNotFound},
		{"other version", "POST", url + "/v2/approve", nil, protocol.CodeNotFound},
		{"below a path", "POST", url + protocol.PathApprove + "/x", nil, protocol.CodeNotFound},
		{"locked create", "POST", lockedURL + protocol.PathWallets, []byte(`{"owner":1}`), protocol.CodeVaultLocked},
		{"locked approve", "POST", lockedURL + protocol.PathApprove, approveWith(func(*approval) {}), protocol.CodeVaultLocked},
		{"malformed initData", "POST", url + protocol.PathApprove, approveBody(t, "a=%zz", w.Record), protocol.CodeMalformedInitData},
		{"bad signature", "POST", url + protocol.PathApprove, approveWith(func(a *approval) { a.botToken = "1:t" }), protocol.CodeBadSignature},
		{"stale auth", "POST", url + protocol.PathApprove, approveWith(func(a *approval) { a.authDate = f.now.Add(-2 * f.cfg.MaxAuthAge) }), protocol.CodeStaleAuth},
		{"malformed intent", "POST", url + protocol.PathApprove, approveWith(func(a *approval) { a.startParam = "" }), protocol.CodeMalformedIntent},
		{"intent expired", "POST", url + protocol.PathApprove, approveWith(func(a *approval) {
			in := f.intent(w.Address)
			in.Expiry = 1000
			a.startParam = f.startParam(in)
		}), protocol.CodeIntentExpired},
		{"malformed record", "POST", url + protocol.PathApprove, approveWith(func(a *approval) { a.record = a.record[:5] }), protocol.CodeMalformedRecord},
		{"record tampered", "POST", url + protocol.PathApprove, approveWith(func(a *approval) { a.record = flipBit(a.record, 60) }), protocol.CodeRecordTampered},
		{"wrong owner", "POST", url + protocol.PathApprove, approveWith(func(a *approval) { a.user = bob }), protocol.CodeWrongOwner},
		{"wrong wallet", "POST", url + protocol.PathApprove, approveWith(func(a *approval) {
			a.startParam = f.startParam(f.intent(f.wallet(alice).Address))
		}), protocol.CodeWrongWallet},
		{"chain not allowed", "POST", url + protocol.PathApprove, approveWith(func(a *approval) {
			in := f.intent(w.Address)
			in.ChainID = 5
			a.startParam = f.startParam(in)
		}), protocol.CodeChainNotAllowed},
		{"token not allowed", "POST", url + protocol.PathApprove, approveWith(func(a *approval) {
			in := f.intent(w.Address)
			in.Token = in.To
			a.startParam = f.startParam(in)
		}), protocol.CodeTokenNotAllowed},
	}
	seen := map[protocol.Code]bool{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := call(t, c.method, c.url, c.body)
			wantErrorShape(t, status, body, c.code)
			seen[c.code] = true
		})
	}
	for code := range map[protocol.Code]bool{
		protocol.CodeMalformedRequest: true, protocol.CodeTooLarge: true, protocol.CodeNotFound: true, protocol.CodeMethodNotAllowed: true,
		protocol.CodeMalformedInitData: true, protocol.CodeBadSignature: true, protocol.CodeStaleAuth: true, protocol.CodeMalformedIntent: true,
		protocol.CodeIntentExpired: true, protocol.CodeMalformedRecord: true, protocol.CodeRecordTampered: true, protocol.CodeWrongOwner: true,
		protocol.CodeWrongWallet: true, protocol.CodeChainNotAllowed: true, protocol.CodeTokenNotAllowed: true, protocol.CodeVaultLocked: true,
	} {
		if !seen[code] {
			t.Errorf("no request produced %s", code)
		}
	}
}

// A body of exactly the limit is read; one byte more is refused.
func TestHTTPBodyLimit(t *testing.T) {
	f := newFixture(t)
	url, _ := startServer(t, f.signer)
	body := []byte(`{"owner":424242}`)
	body = append(body, bytes.Repeat([]byte(" "), protocol.MaxRequestBody-len(body))...)
	if status, resp := call(t, "POST", url+protocol.PathWallets, body); status != 200 {
		t.Fatalf("%d %s", status, resp)
	}
	status, resp := call(t, "POST", url+protocol.PathWallets, append(body, ' '))
	wantErrorShape(t, status, resp, protocol.CodeTooLarge)
}

// A panic in a handler becomes a plain internal error; neither the response
// nor the log carries the panic value, which could hold request data.
func TestHTTPPanicIsInternal(t *testing.T) {
	var logs syncBuffer
	h := logAndRecover(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("SECRET-PANIC-VALUE") }), slog.New(slog.NewTextHandler(&logs, nil)))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", protocol.PathApprove, nil))
	wantErrorShape(t, rec.Code, rec.Body.Bytes(), protocol.CodeInternal)
	if strings.Contains(rec.Body.String()+logs.String(), "SECRET-PANIC-VALUE") {
		t.Fatal("the panic value leaked")
	}
}

// TestHTTPNoSecretsInResponsesOrLogs approves and refuses over HTTP and then
// searches every approve response and the whole log for the initData, its
// signature, the record and the vault key, in every encoding they could take.
func TestHTTPNoSecretsInResponsesOrLogs(t *testing.T) {
	f := newFixture(t)
	url, logs := startServer(t, f.signer)
	valid, w := f.validApproval()
	initData := f.signInitData(valid)
	signature := initData[strings.Index(initData, "signature=")+len("signature=") : strings.Index(initData, "&start_param")]
	var responses []byte
	for _, req := range [][]byte{
		approveBody(t, initData, w.Record),                                         // approved
		approveBody(t, initData, flipBit(w.Record, 60)),                            // tampered record
		approveBody(t, initData, w.Record[:40]),                                    // malformed record
		approveBody(t, initData+"&x=%zz", w.Record),                                // malformed initData
		approveBody(t, strings.Replace(initData, "private", "group", 1), w.Record), // bad signature
		approveBody(t, initData, nil),
		append(approveBody(t, initData, w.Record), '}'),                                                // trailing data
		[]byte(`{"init_data":` + strings.Repeat(" ", protocol.MaxRequestBody) + `"` + initData + `"}`), // too large
	} {
		_, body := call(t, "POST", url+protocol.PathApprove, req)
		responses = append(responses, body...)
	}
	vaultKey := testvectors.VaultKey()
	secrets := map[string]string{
		"initData":            initData,
		"initData signature":  signature,
		"user field":          "%7B%22id%22%3A424242",
		"start_param":         valid.startParam,
		"record (base64)":     base64.StdEncoding.EncodeToString(w.Record),
		"sealed key (base64)": base64.StdEncoding.EncodeToString(w.Record[41:])[:20],
		"sealed key (hex)":    hex.EncodeToString(w.Record[41:]),
		"vault key (hex)":     hex.EncodeToString(vaultKey),
		"vault key (base64)":  base64.StdEncoding.EncodeToString(vaultKey),
		"vault key (raw)":     string(vaultKey),
	}
	// Each request's line is written after its answer (the loop's
	// afterAnswer): wait for all eight, so that every line is searched.
	for deadline := time.Now().Add(10 * time.Second); strings.Count(logs.String(), `msg="enclave request"`) < 8; {
		if time.Now().After(deadline) {
			t.Fatalf("the log has not got the eight request lines: %q", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	all := string(responses) + logs.String()
	if !strings.Contains(logs.String(), protocol.PathApprove) {
		t.Fatal("the log is empty: the capture is not working")
	}
	for name, secret := range secrets {
		if strings.Contains(all, secret) {
			t.Errorf("the %s appears in a response or the log", name)
		}
	}
}
