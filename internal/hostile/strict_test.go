package hostile

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/autowallet/autowallet/internal/rawhttp"
	"github.com/autowallet/autowallet/protocol"
)

// strictBodies sends the inputs the black-box run found read loosely
// (issue 9, part 5) to the real enclave process and asserts each refusal's
// code and status and that no transaction came out. docs/threat-model.md,
// "Part 5: one reading of every byte", lists them.
func strictBodies(t *testing.T, wd *world, valid string) {
	w, tg, now := wd.w, wd.tg, time.Now()
	sp := startParam(t, transfer(wd.aliceAddr, 0))
	rec := b64(wd.aliceRec)
	signUser := func(user string) string {
		v := initValues(alice, sp, now)
		v["user"] = user
		return protocol.SignInitData(v, botID, tg.key, "")
	}

	// user {"ID":…}: no key "id", so no user: malformed_init_data.
	w.refused(protocol.CodeMalformedInitData, signUser(`{"ID":`+itoa(alice)+`,"first_name":"Test"}`), wd.aliceRec)
	// {"id":B,"ID":A}: the enclave reads B, as JavaScript does; B is not the
	// record's owner A.
	w.refused(protocol.CodeWrongOwner, signUser(`{"id":`+itoa(bob)+`,"ID":`+itoa(alice)+`}`), wd.aliceRec)
	// Two equal keys, at the top of user or nested in it.
	w.refused(protocol.CodeMalformedInitData, signUser(`{"id":`+itoa(bob)+`,"id":`+itoa(alice)+`}`), wd.aliceRec)
	w.refused(protocol.CodeMalformedInitData, signUser(`{"id":`+itoa(alice)+`,"x":{"a":1,"a":2}}`), wd.aliceRec)
	// An id a JavaScript reader would round to another user.
	w.refused(protocol.CodeMalformedInitData, signUser(`{"id":9007199254740993}`), wd.aliceRec)

	// Request keys in another case, twice, nested twice; null.
	w.refusedBody(protocol.CodeMalformedRequest, []byte(`{"Init_Data":`+strconv.Quote(valid)+`,"record":"`+rec+`"}`))
	w.refusedBody(protocol.CodeMalformedRequest, []byte(`{"init_data":`+strconv.Quote(valid)+`,"RECORD":"`+rec+`"}`))
	w.refusedBody(protocol.CodeMalformedRequest, []byte(`{"init_data":`+strconv.Quote(valid)+`,"init_data":`+strconv.Quote(valid)+`,"record":"`+rec+`"}`))
	w.refusedBody(protocol.CodeMalformedRequest, []byte(`null`))
	w.refusedBody(protocol.CodeMalformedRequest, []byte(`{"init_data":null,"record":"`+rec+`"}`))
	w.refusedBody(protocol.CodeMalformedRequest, []byte(`{"init_data":`+strconv.Quote(valid)+`,"record":null}`))
	status, ans := w.post(protocol.PathUnlock, []byte(`{"credentials":{"access_key_id":"a","access_key_id":"b","secret_access_key":"s","session_token":"t"},"ciphertext_blob":""}`))
	if errCode(ans) != protocol.CodeMalformedRequest || status != 400 {
		t.Fatalf("nested duplicate key: %d %s", status, ans)
	}
	// A lone surrogate escape in the initData string (Go would read U+FFFD).
	w.refusedBody(protocol.CodeMalformedRequest, []byte(`{"init_data":`+strings.Replace(strconv.Quote(valid), "Test", `Te\ud800st`, 1)+`,"record":"`+rec+`"}`))

	// The record with a line break, escaped or raw, without padding.
	w.refusedBody(protocol.CodeMalformedRequest, []byte(`{"init_data":`+strconv.Quote(valid)+`,"record":"`+rec[:40]+`\n`+rec[40:]+`"}`))
	w.refusedBody(protocol.CodeMalformedRequest, []byte(`{"init_data":`+strconv.Quote(valid)+`,"record":"`+rec[:40]+`\r\n`+rec[40:]+`"}`))
	w.refusedBody(protocol.CodeMalformedRequest, []byte(`{"init_data":`+strconv.Quote(valid)+`,"record":"`+strings.TrimRight(rec, "=")+`"}`))

	// '\n' in a decoded value: two pairs folded into one give the same
	// data-check-string, so Telegram's signature still verifies.
	folded := strings.Replace(valid, "chat_instance=-77&chat_type=sender", "chat_instance=-77"+url.QueryEscape("\nchat_type=sender"), 1)
	if folded == valid {
		t.Fatal("the fold changed nothing")
	}
	w.refused(protocol.CodeMalformedInitData, folded, wd.aliceRec)
	w.refused(protocol.CodeMalformedInitData, strings.Replace(valid, "chat_type=sender", "chat_type=sender%0D", 1), wd.aliceRec)
	w.refused(protocol.CodeMalformedInitData, strings.Replace(valid, "chat_type=sender", "chat_type=sender%00", 1), wd.aliceRec)

	// Content-Type: missing, another type, another charset.
	body := mustJSON(t, protocol.ApproveRequest{InitData: valid, Record: wd.aliceRec})
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "application/json; charset=iso-8859-1"} {
		head := "POST " + protocol.PathApprove + " HTTP/1.1\r\nHost: enclave\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n"
		if ct != "" {
			head += "Content-Type: " + ct + "\r\n"
		}
		status, ans := rawExchange(t, wd.enc.addr, head, body)
		w.check(protocol.PathApprove, status, ans)
		if errCode(ans) != protocol.CodeUnsupportedMediaType || status != 415 {
			t.Fatalf("Content-Type %q: %d %s", ct, status, ans)
		}
	}

	// Headers: 8 KiB of request line and headers pass, one byte more is
	// too_large in the error shape, and so is a head net/http stops reading.
	for n, want := range map[int]protocol.Code{protocol.MaxHeaderBytes: "", protocol.MaxHeaderBytes + 1: protocol.CodeTooLarge, 32 << 10: protocol.CodeTooLarge} {
		head := "POST " + protocol.PathApprove + " HTTP/1.1\r\nHost: enclave\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\nX-Pad: "
		head += strings.Repeat("a", n-len(head)-4) + "\r\n"
		status, ans := rawExchange(t, wd.enc.addr, head, body)
		w.check(protocol.PathApprove, status, ans)
		if want == "" {
			if status != 200 {
				t.Fatalf("a head of exactly %d bytes: %d %s", n, status, ans)
			}
			continue
		}
		if errCode(ans) != want || status != want.HTTPStatus() {
			t.Fatalf("a head of %d bytes: %d %s", n, status, ans)
		}
	}
}

// rawExchange writes head (without its final CRLF) and body on a new
// connection and reads one answer.
func rawExchange(t *testing.T, addr, head string, body []byte) (int, []byte) {
	status, answer, _ := rawhttp.Exchange(t, addr, head, body)
	return status, answer
}
