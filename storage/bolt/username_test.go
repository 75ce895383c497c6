package bolt

import (
	"errors"
	"testing"

	"github.com/autowallet/autowallet/storage"
)

// TestUserByUsername: the index finds a user by @username in any case,
// follows a change of username, and a username taken over by another user
// points to that user; a user stored before the index is not indexed until
// stored again.
func TestUserByUsername(t *testing.T) {
	db, _ := openTestDB(t)
	if _, err := db.UserByUsername("bob"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("empty index: %v", err)
	}
	if _, err := db.UpsertUser(storage.User{ID: 1, FirstName: "Bob", Username: "Bob"}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"bob", "@BOB", "Bob"} {
		if u, err := db.UserByUsername(name); err != nil || u.ID != 1 {
			t.Fatalf("UserByUsername(%q) = %+v, %v", name, u, err)
		}
	}
	// Bob renames himself; Carol takes @bob.
	if _, err := db.UpsertUser(storage.User{ID: 1, FirstName: "Bob", Username: "robert"}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UserByUsername("bob"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("old username still found: %v", err)
	}
	if u, err := db.UserByUsername("robert"); err != nil || u.ID != 1 {
		t.Fatalf("new username: %+v, %v", u, err)
	}
	if _, err := db.UpsertUser(storage.User{ID: 2, FirstName: "Carol", Username: "bob"}); err != nil {
		t.Fatal(err)
	}
	if u, err := db.UserByUsername("bob"); err != nil || u.ID != 2 {
		t.Fatalf("taken-over username: %+v, %v", u, err)
	}
	// Carol drops her username: @bob finds no one.
	if _, err := db.UpsertUser(storage.User{ID: 2, FirstName: "Carol"}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UserByUsername("bob"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("dropped username: %v", err)
	}
	// A profile written without the index (as before it existed).
	db.update(func(tx *boltTx) error {
		u := storage.User{ID: 3, FirstName: "Dan", Username: "dan", Created: db.now()}
		return tx.tx.Bucket(bucketUsers).Put(ownerKey(3), storage.EncodeUser(&u))
	})
	u3, _ := db.User(3)
	if db.UsernameIndexed(u3) {
		t.Fatal("an unindexed profile is reported indexed")
	}
	if _, err := db.UpsertUser(u3); err != nil || !db.UsernameIndexed(u3) {
		t.Fatalf("rewriting the profile did not index it: %v", err)
	}
	if _, err := db.UserByUsername(""); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("empty name: %v", err)
	}
}
