package hostile

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/autowallet/autowallet/protocol"
)

// closedByServer reports whether err means the far end closed the
// connection (EOF or reset), as opposed to our own safety deadline.
func closedByServer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// dribble writes msg one byte per interval until it is written or a write
// fails (the server closed the connection).
func dribble(c net.Conn, msg []byte, every time.Duration, stop <-chan struct{}) {
	for _, b := range msg {
		if _, err := c.Write([]byte{b}); err != nil {
			return
		}
		select {
		case <-stop:
			return
		case <-time.After(every):
		}
	}
}

// TestHostileSlowLoris: clients that send their headers one byte a second,
// or their body one byte a second, hold no connection past the server's
// read timeouts (ReadHeaderTimeout 5 s, ReadTimeout 10 s): the enclave
// closes them, answers no transaction on them, and meanwhile serves normal
// requests. The test asserts that each connection was closed by the
// server (EOF or reset), not how long it took; its own 60 s read deadline
// is only a bound on the test.
func TestHostileSlowLoris(t *testing.T) {
	wd := newWorld(t)
	sp := startParam(t, transfer(wd.aliceAddr, 0))
	valid := wd.tg.sign(alice, sp, time.Now())
	body := mustJSON(t, protocol.ApproveRequest{InitData: valid, Record: wd.aliceRec})

	const slowHeaders, slowBodies = 8, 4
	stop := make(chan struct{})
	defer close(stop)
	type result struct {
		kind string
		got  []byte
		err  error
	}
	results := make(chan result, slowHeaders+slowBodies)
	open := func(kind string, msg []byte, head []byte) {
		c, err := net.Dial("tcp", wd.enc.addr)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			defer c.Close()
			if len(head) > 0 {
				c.Write(head)
			}
			go dribble(c, msg, time.Second, stop)
			c.SetReadDeadline(time.Now().Add(60 * time.Second))
			got, err := io.ReadAll(c)
			if err == nil {
				err = io.EOF // ReadAll ends cleanly on EOF
			}
			results <- result{kind, got, err}
		}()
	}
	headers := []byte("POST " + protocol.PathApprove + " HTTP/1.1\r\nHost: enclave\r\nContent-Type: application/json\r\nX-Pad: " +
		string(bytes.Repeat([]byte("a"), 200)) + "\r\n\r\n")
	for range slowHeaders {
		open("headers", headers, nil)
	}
	// Complete headers, then the (valid) approval body one byte a second.
	head := []byte("POST " + protocol.PathApprove + " HTTP/1.1\r\nHost: enclave\r\nContent-Type: application/json\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n")
	for range slowBodies {
		open("body", body, head)
	}

	// While they dribble, normal requests are served, an approval included.
	time.Sleep(1500 * time.Millisecond)
	for range 3 {
		wd.requireServing(t)
		wd.w.approve(valid, wd.aliceRec)
	}

	for range slowHeaders + slowBodies {
		r := <-results
		if !closedByServer(r.err) {
			if errors.Is(r.err, os.ErrDeadlineExceeded) {
				t.Fatalf("slow %s: the enclave kept the connection open", r.kind)
			}
			t.Fatalf("slow %s: %v", r.kind, r.err)
		}
		t.Logf("slow %s: closed (%v) after answering %q", r.kind, r.err, firstLine(r.got))
		if bytes.Contains(r.got, []byte("raw_tx")) {
			t.Fatalf("slow %s got a transaction: %s", r.kind, r.got)
		}
		if r.kind == "body" && len(r.got) > 0 && !bytes.Contains(r.got, []byte(protocol.CodeMalformedRequest)) {
			t.Fatalf("slow body answered %q", r.got)
		}
	}
	wd.requireServing(t)
	wd.w.approve(valid, wd.aliceRec)
}

func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i]
	}
	return b
}
