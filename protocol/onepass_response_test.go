package protocol

import (
	"bytes"
	"testing"
)

// The approval's answer has two readers too (onepass.go,
// decodeApproveResponse; DecodeStrict): on the same bytes they must agree
// on acceptance and on what they read, and DecodeJSON must answer as the
// strict reader does.

func sameApproveResponseReading(t *testing.T, b []byte) {
	t.Helper()
	var strict, fast ApproveResponse
	errStrict := DecodeStrict(b, &strict)
	errFast := decodeApproveResponse(b, &fast)
	if (errStrict == nil) != (errFast == nil) {
		t.Fatalf("%q: strict reader %v, one-pass reader %v", b, errStrict, errFast)
	}
	if errStrict != nil && fast != (ApproveResponse{}) {
		t.Fatalf("%q: the one-pass reader refused and still set %+v", b, fast)
	}
	if strict != fast {
		t.Fatalf("%q: strict reader %+v, one-pass reader %+v", b, strict, fast)
	}
	var via ApproveResponse
	err := DecodeJSON(bytes.NewReader(b), MaxRequestBody, &via)
	switch {
	case len(b) == 0:
	case errStrict == nil && (err != nil || via != strict):
		t.Fatalf("%q: DecodeJSON %+v %v", b, via, err)
	case errStrict != nil && (err == nil || err.Error() != ErrMalformedRequest.Error()+": "+errStrict.Error()):
		t.Fatalf("%q: DecodeJSON %v, want the strict reader's %v", b, err, errStrict)
	}
}

// responseCorpus is the approval request corpus with its keys renamed to
// the answer's (so every shape the request readers were held to is tried
// on the answer's), the answers the enclave writes, and the refusals of
// the parent's strict read.
func responseCorpus(t testing.TB) [][]byte {
	var out [][]byte
	for _, b := range approveCorpus(t) {
		b = bytes.ReplaceAll(b, []byte("init_data"), []byte("raw_tx"))
		b = bytes.ReplaceAll(b, []byte("init\\u005fdata"), []byte("raw\\u005ftx"))
		out = append(out, bytes.ReplaceAll(b, []byte("record"), []byte("tx_hash")))
	}
	out = append(out, fuzzCorpus(t, "testdata/fuzz/FuzzApproveResponseReaders")...)
	for _, s := range []string{
		`{"raw_tx":"0x02f86b","tx_hash":"0x` + string(bytes.Repeat([]byte("ab"), 32)) + `"}` + "\n",
		`{"raw_tx":"0x02","tx_hash":"0x01","raw_tx":"0x03"}`, `{"raw_tx":"0x02","Tx_Hash":"0x01"}`, `{"raw_tx":null,"tx_hash":"0x01"}`,
		`{"raw_tx":"0x02","tx_hash":"0x01","x":1}`, `{"raw_tx":"0x02"}{}`, `{"raw_tx":2}`, `{"raw_tx":"\u0030x02"}`, `{"raw_tx":"0x02",}`,
		`{"raw_tx":"0x02","tx_hash":"0x01"`, `{"tx_hash":"\ud800"}`, `{"raw\u005ftx":"a","raw_tx":"b"}`, `{}`, `[]`, `null`, ``,
	} {
		out = append(out, []byte(s))
	}
	return out
}

// TestOnePassResponseReadersAgree: the differential check over the corpus,
// each input also cut short and with one byte changed.
func TestOnePassResponseReadersAgree(t *testing.T) {
	corpus := responseCorpus(t)
	if len(corpus) < 100 {
		t.Fatalf("only %d answers: a corpus is missing", len(corpus))
	}
	for _, b := range corpus {
		sameApproveResponseReading(t, b)
		for _, m := range mutations(b) {
			sameApproveResponseReading(t, m)
		}
	}
}

func FuzzApproveResponseReaders(f *testing.F) {
	for _, b := range responseCorpus(f) {
		f.Add(b)
	}
	f.Fuzz(sameApproveResponseReading)
}
