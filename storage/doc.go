// Package storage is what autowallet keeps, independent of where it is
// kept: the domain types (users, wallets with their sealed key records,
// transfers and their state machine, deposits, chat flows, cards, leases),
// the Store and Tx interfaces the parent depends on, the checks every
// engine applies (engine.go) and the canonical value encodings (docs/storage.md,
// "Value encodings"; items.go copies records between engines with them).
//
// The engines live in their own packages, as database/sql's drivers do:
// storage/bolt (one bbolt file, one host, the embedded default) and
// storage/postgres (several hosts). This package imports neither, nor
// bbolt (TestStorageImportsNoEngine).
package storage
