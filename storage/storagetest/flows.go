package storagetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/autowallet/autowallet/storage"
)

// testFlows: a chat's flow is written only over the version read, expires
// on the engine's clock, is deleted by version or whatever it is, and never
// gets a version back that was used before.
func testFlows(t *testing.T, open Open) {
	s := open(t)
	const chat = 77
	_, err := s.Flow(chat)
	wantErr(t, err, storage.ErrNotFound, "no flow yet")
	_, err = s.PutFlow(chat, 5, []byte("a"), time.Minute)
	wantErr(t, err, storage.ErrFlowChanged, "put over a version when there is none")
	f1, err := s.PutFlow(chat, 0, []byte("step 1"), time.Minute)
	if err != nil || f1.Version == 0 || f1.ChatID != chat || string(f1.Data) != "step 1" {
		t.Fatal(f1, err)
	}
	if d := time.Until(f1.Expires); d < 30*time.Second || d > 90*time.Second {
		t.Fatalf("expires %v (in %v)", f1.Expires, d)
	}
	got, err := s.Flow(chat)
	if err != nil || got.Version != f1.Version || !bytes.Equal(got.Data, f1.Data) || !got.Expires.Equal(f1.Expires) {
		t.Fatalf("read back %+v, %v; stored %+v", got, err, f1)
	}
	_, err = s.PutFlow(chat, 0, []byte("x"), time.Minute)
	wantErr(t, err, storage.ErrFlowChanged, "put as new over a live flow")
	_, err = s.PutFlow(chat, f1.Version+1, []byte("x"), time.Minute)
	wantErr(t, err, storage.ErrFlowChanged, "put over a version never stored")
	f2, err := s.PutFlow(chat, f1.Version, []byte("step 2"), time.Minute)
	if err != nil || f2.Version <= f1.Version {
		t.Fatal(f2, err)
	}
	_, err = s.PutFlow(chat, f1.Version, []byte("x"), time.Minute)
	wantErr(t, err, storage.ErrFlowChanged, "put over the old version")
	_, err = s.DeleteFlow(chat, f1.Version)
	wantErr(t, err, storage.ErrFlowChanged, "delete the old version")
	if got, _ := s.Flow(chat); string(got.Data) != "step 2" {
		t.Fatalf("a refused write changed the flow: %q", got.Data)
	}
	// Chats are independent.
	other, err := s.PutFlow(-100123, 0, []byte("group"), time.Minute)
	if err != nil || other.Version <= f2.Version {
		t.Fatal(other, err)
	}
	if ok, err := s.DeleteFlow(chat, f2.Version); err != nil || !ok {
		t.Fatal(ok, err)
	}
	_, err = s.Flow(chat)
	wantErr(t, err, storage.ErrNotFound, "deleted")
	if ok, err := s.DeleteFlow(chat, 0); err != nil || ok {
		t.Fatal("deleting nothing:", ok, err)
	}
	_, err = s.DeleteFlow(chat, f2.Version)
	wantErr(t, err, storage.ErrFlowChanged, "delete a deleted version")
	// Started again: a new version, never one used before.
	f3, err := s.PutFlow(chat, 0, []byte("again"), time.Minute)
	if err != nil || f3.Version <= other.Version {
		t.Fatal(f3, err)
	}
	if got, err := s.Flow(-100123); err != nil || string(got.Data) != "group" {
		t.Fatal(got, err)
	}
	// Expiry on the engine's clock: gone for reads, written over as none,
	// pruned.
	short, err := s.PutFlow(chat, f3.Version, []byte("short"), 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(120 * time.Millisecond)
	_, err = s.Flow(chat)
	wantErr(t, err, storage.ErrNotFound, "expired")
	_, err = s.PutFlow(chat, short.Version, []byte("x"), time.Minute)
	wantErr(t, err, storage.ErrFlowChanged, "put over an expired version")
	if ok, err := s.DeleteFlow(chat, 0); err != nil || ok {
		t.Fatal("deleting an expired flow is not ending a live one:", ok, err)
	}
	if _, err := s.PutFlow(chat, 0, []byte("short"), 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(120 * time.Millisecond)
	if _, err := s.PutFlow(chat, 0, []byte("over expired"), 50*time.Millisecond); err != nil {
		t.Fatal("put as new over an expired flow:", err)
	}
	time.Sleep(120 * time.Millisecond)
	if n, err := s.PruneFlows(); err != nil || n != 1 {
		t.Fatal("prune:", n, err)
	}
	if got, err := s.Flow(-100123); err != nil || string(got.Data) != "group" {
		t.Fatal("prune took a live flow:", got, err)
	}
	// Refusals.
	for name, err := range map[string]error{
		"chat 0":       func() error { _, err := s.PutFlow(0, 0, []byte("a"), time.Minute); return err }(),
		"no data":      func() error { _, err := s.PutFlow(1, 0, nil, time.Minute); return err }(),
		"too long":     func() error { _, err := s.PutFlow(1, 0, make([]byte, storage.MaxFlowBytes+1), time.Minute); return err }(),
		"zero ttl":     func() error { _, err := s.PutFlow(1, 0, []byte("a"), 0); return err }(),
		"ttl too long": func() error { _, err := s.PutFlow(1, 0, []byte("a"), 2*time.Hour); return err }(),
	} {
		wantErr(t, err, storage.ErrInvalid, name)
	}
	if _, err := s.Flow(1); err == nil {
		t.Fatal("a refused put stored a flow")
	}
	if f, err := s.PutFlow(1, 0, make([]byte, storage.MaxFlowBytes), time.Minute); err != nil || len(f.Data) != storage.MaxFlowBytes {
		t.Fatal("the largest flow:", err)
	}
}

// testFlowConcurrent: many parents write the next step of one chat's flow
// over the version they all read: exactly one wins, the others are told
// ErrFlowChanged and wrote nothing; the same for the first step and for
// ending it.
func testFlowConcurrent(t *testing.T, open Open) {
	s := open(t)
	const n = 8
	race := func(fn func(i int) error) (won int) {
		var mu sync.Mutex
		parallel(n, func(i int) {
			err := fn(i)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case !errors.Is(err, storage.ErrFlowChanged):
				t.Error(err)
			}
		})
		return won
	}
	if won := race(func(i int) error {
		_, err := s.PutFlow(9, 0, []byte(fmt.Sprint("first ", i)), time.Minute)
		return err
	}); won != 1 {
		t.Fatalf("%d started the flow", won)
	}
	f, err := s.Flow(9)
	if err != nil {
		t.Fatal(err)
	}
	if won := race(func(i int) error {
		_, err := s.PutFlow(9, f.Version, []byte(fmt.Sprint("next ", i)), time.Minute)
		return err
	}); won != 1 {
		t.Fatalf("%d took the next step", won)
	}
	f, _ = s.Flow(9)
	if won := race(func(int) error { _, err := s.DeleteFlow(9, f.Version); return err }); won != 1 {
		t.Fatalf("%d ended the flow", won)
	}
}
