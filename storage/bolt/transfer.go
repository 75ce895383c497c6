package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/autowallet/autowallet/storage"
	"github.com/ethereum/go-ethereum/common"
)

// CreateTransfer stores a new transfer in state built (State must be zero
// or StateBuilt). From must be the owner's wallet. It fails with
// ErrTransferExists if the id is taken and with ErrNonceInUse if another
// active transfer of the wallet holds the nonce. A replacement instead needs
// its nonce held by the signed open transfer it names (ErrInvalid
// otherwise), and holds no index entry of its own. Created and Updated
// default to now. It returns the stored transfer.
func (db *DB) CreateTransfer(t storage.Transfer) (storage.Transfer, error) {
	return write(db, func(tx *boltTx) (storage.Transfer, error) { return tx.CreateTransfer(t) })
}

// Transfer returns the transfer with that id, or ErrNotFound.
func (db *DB) Transfer(id string) (storage.Transfer, error) {
	return read(db, func(tx *boltTx) (storage.Transfer, error) { return tx.Transfer(id) })
}

// UpdateTransfer runs fn on a copy of the stored transfer inside one write
// transaction, checks the result and stores it. A change of State must be
// in the table of allowed transitions, and the fields fixed at creation
// (id, owner, chain, from, to, token, amount, nonce, max fee, intent, start
// param, expiry, created) and, once set, SignedTx and TxHash may not
// change; otherwise nothing is stored and the error wraps
// ErrInvalidTransition. An error from fn aborts the update and is returned
// as is. Updated is set to now. Leaving the active states frees the nonce.
func (db *DB) UpdateTransfer(id string, fn func(*storage.Transfer) error) (storage.Transfer, error) {
	var out storage.Transfer
	err := db.update(func(tx *boltTx) error {
		var err error
		out, err = tx.UpdateTransfer(id, fn)
		return err
	})
	return out, err
}

// TransfersByOwner returns up to limit transfers of the user, newest first,
// skipping the offset newest.
func (db *DB) TransfersByOwner(owner int64, limit, offset int) ([]storage.Transfer, error) {
	return read(db, func(tx *boltTx) ([]storage.Transfer, error) { return tx.TransfersByOwner(owner, limit, offset) })
}

// TransfersInState returns every transfer in one of the given states,
// oldest first: the tracker's work list and what to resume after a restart.
func (db *DB) TransfersInState(states ...storage.State) ([]storage.Transfer, error) {
	return read(db, func(tx *boltTx) ([]storage.Transfer, error) { return tx.TransfersInState(states...) })
}

// ActiveNonces returns the nonces held by active (built, approved, sent)
// transfers of the wallet from on chain chainID, ascending. Nonces are per
// chain: the same address has its own sequence on every network.
func (db *DB) ActiveNonces(chainID uint64, from common.Address) ([]uint64, error) {
	return read(db, func(tx *boltTx) ([]uint64, error) { return tx.ActiveNonces(chainID, from) })
}

// NonceHolders returns the open (built, approved, sent) transfers that hold
// a nonce of the wallet from on chain chainID, by ascending nonce.
// Replacements share their original's nonce and are not listed.
func (db *DB) NonceHolders(chainID uint64, from common.Address) ([]storage.Transfer, error) {
	return read(db, func(tx *boltTx) ([]storage.Transfer, error) { return tx.NonceHolders(chainID, from) })
}

// CreateTransfer: see DB.CreateTransfer.
func (tx *boltTx) CreateTransfer(t storage.Transfer) (storage.Transfer, error) {
	t, err := storage.PrepareTransfer(t, tx.now) // engine.go: shared with storage/postgres
	if err != nil {
		return storage.Transfer{}, err
	}
	w, err := tx.WalletByOwner(t.Owner)
	if err != nil {
		return storage.Transfer{}, fmt.Errorf("storage: create transfer %q: %w", t.ID, err)
	}
	if w.Address != t.From {
		return storage.Transfer{}, fmt.Errorf("storage: create transfer %q: %w: sender %s is not the wallet %s of user %d", t.ID, storage.ErrInvalid, t.From, w.Address, t.Owner)
	}
	transfers := tx.tx.Bucket(bucketTransfers)
	if transfers.Get([]byte(t.ID)) != nil {
		return storage.Transfer{}, fmt.Errorf("storage: create transfer %q: %w", t.ID, storage.ErrTransferExists)
	}
	nonces := tx.tx.Bucket(bucketTransferNonces)
	nk := nonceKey(t.ChainID, t.From, t.Nonce)
	holder := ""
	if ref := nonces.Get(nk); ref != nil {
		holder, _ = decodeIDRef(ref)
	}
	if t.Kind == storage.KindReplacement {
		// A replacement shares the nonce of the signed transfer it
		// replaces, which keeps holding it in the index (it is the one
		// the next build counts).
		orig, err := tx.Transfer(t.Replaces)
		if err != nil {
			return storage.Transfer{}, fmt.Errorf("storage: create transfer %q: the replaced transfer: %w", t.ID, err)
		}
		if holder != orig.ID || !orig.State.Signed() || orig.ChainID != t.ChainID || orig.From != t.From || orig.Nonce != t.Nonce || orig.Kind != storage.KindTransfer {
			return storage.Transfer{}, fmt.Errorf("storage: create transfer %q: %w: %q is not a signed open transfer holding nonce %d of %s",
				t.ID, storage.ErrInvalid, t.Replaces, t.Nonce, t.From)
		}
	} else if holder != "" {
		return storage.Transfer{}, fmt.Errorf("storage: create transfer %q: %w: nonce %d of %s is held by transfer %q", t.ID, storage.ErrNonceInUse, t.Nonce, t.From, holder)
	}
	if err := transfers.Put([]byte(t.ID), storage.EncodeTransfer(&t)); err != nil {
		return storage.Transfer{}, fmt.Errorf("storage: create transfer %q: %w", t.ID, err)
	}
	if err := tx.tx.Bucket(bucketTransfersByOwner).Put(ownerIndexKey(t.Owner, t.Created, t.ID), nil); err != nil {
		return storage.Transfer{}, fmt.Errorf("storage: create transfer %q: %w", t.ID, err)
	}
	if err := tx.tx.Bucket(bucketTransfersByState).Put(stateIndexKey(t.State, t.ID), nil); err != nil {
		return storage.Transfer{}, fmt.Errorf("storage: create transfer %q: %w", t.ID, err)
	}
	if t.Kind == storage.KindReplacement {
		return t, nil
	}
	if err := nonces.Put(nk, encodeIDRef(t.ID)); err != nil {
		return storage.Transfer{}, fmt.Errorf("storage: create transfer %q: %w", t.ID, err)
	}
	return t, nil
}

// Transfer: see DB.Transfer.
func (tx *boltTx) Transfer(id string) (storage.Transfer, error) {
	raw := tx.tx.Bucket(bucketTransfers).Get([]byte(id))
	if raw == nil {
		return storage.Transfer{}, fmt.Errorf("storage: transfer %q: %w", id, storage.ErrNotFound)
	}
	t, err := storage.DecodeTransfer(raw)
	if err != nil {
		return storage.Transfer{}, fmt.Errorf("storage: transfer %q: %w", id, err)
	}
	return t, nil
}

// UpdateTransfer: see DB.UpdateTransfer.
func (tx *boltTx) UpdateTransfer(id string, fn func(*storage.Transfer) error) (storage.Transfer, error) {
	old, err := tx.Transfer(id)
	if err != nil {
		return storage.Transfer{}, err
	}
	t := storage.CloneTransfer(old)
	if err := fn(&t); err != nil {
		return storage.Transfer{}, err
	}
	if err := storage.CheckTransferUpdate(&old, &t, tx.now); err != nil { // engine.go: shared with storage/postgres
		return storage.Transfer{}, err
	}
	if err := tx.tx.Bucket(bucketTransfers).Put([]byte(id), storage.EncodeTransfer(&t)); err != nil {
		return storage.Transfer{}, fmt.Errorf("storage: update transfer %q: %w", id, err)
	}
	// The card edit is queued with the change itself (cards.go): whichever
	// parent moved the transfer, the edit is neither lost nor doubled.
	if storage.CardEditDue(&old, &t) {
		if err := tx.queueCardEdit(&t); err != nil {
			return storage.Transfer{}, err
		}
	}
	if t.State != old.State {
		byState := tx.tx.Bucket(bucketTransfersByState)
		if err := byState.Delete(stateIndexKey(old.State, id)); err != nil {
			return storage.Transfer{}, fmt.Errorf("storage: update transfer %q: %w", id, err)
		}
		if err := byState.Put(stateIndexKey(t.State, id), nil); err != nil {
			return storage.Transfer{}, fmt.Errorf("storage: update transfer %q: %w", id, err)
		}
		if old.State.Active() && !t.State.Active() {
			nonces := tx.tx.Bucket(bucketTransferNonces)
			nk := nonceKey(t.ChainID, t.From, t.Nonce)
			if ref := nonces.Get(nk); ref != nil {
				if holder, err := decodeIDRef(ref); err == nil && holder == id {
					if err := nonces.Delete(nk); err != nil {
						return storage.Transfer{}, fmt.Errorf("storage: update transfer %q: %w", id, err)
					}
				}
			}
		}
	}
	return t, nil
}

// TransfersByOwner: see DB.TransfersByOwner.
func (tx *boltTx) TransfersByOwner(owner int64, limit, offset int) ([]storage.Transfer, error) {
	if limit <= 0 || offset < 0 {
		return nil, fmt.Errorf("storage: transfers of user %d: %w: limit %d, offset %d", owner, storage.ErrInvalid, limit, offset)
	}
	prefix := ownerKey(owner)
	c := tx.tx.Bucket(bucketTransfersByOwner).Cursor()
	// Start after the last key of this owner and walk backwards.
	k, _ := c.Seek(binary.BigEndian.AppendUint64(nil, uint64(owner)+1))
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	var out []storage.Transfer
	for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
		if offset > 0 {
			offset--
			continue
		}
		if len(k) <= 16 {
			return nil, fmt.Errorf("storage: transfers of user %d: %w: index key %x", owner, storage.ErrCorrupt, k)
		}
		t, err := tx.Transfer(string(k[16:]))
		if err != nil {
			return nil, err
		}
		out = append(out, t)
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

// TransfersInState: see DB.TransfersInState.
func (tx *boltTx) TransfersInState(states ...storage.State) ([]storage.Transfer, error) {
	var out []storage.Transfer
	c := tx.tx.Bucket(bucketTransfersByState).Cursor()
	var seen [256]bool // by State, a byte
	for _, s := range states {
		if !s.Valid() {
			return nil, fmt.Errorf("storage: transfers in state: %w: %s", storage.ErrInvalid, s)
		}
		if seen[s] {
			continue
		}
		seen[s] = true
		prefix := []byte{byte(s)}
		for k, _ := c.Seek(prefix); k != nil && k[0] == byte(s); k, _ = c.Next() {
			t, err := tx.Transfer(string(k[1:]))
			if err != nil {
				return nil, err
			}
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b storage.Transfer) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// NonceHolders: see DB.NonceHolders.
func (tx *boltTx) NonceHolders(chainID uint64, from common.Address) ([]storage.Transfer, error) {
	var out []storage.Transfer
	prefix := noncePrefix(chainID, from)
	c := tx.tx.Bucket(bucketTransferNonces).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		id, err := decodeIDRef(v)
		if err != nil {
			return nil, fmt.Errorf("storage: nonce holders of %s: %w", from, err)
		}
		t, err := tx.Transfer(id)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// ActiveNonces: see DB.ActiveNonces.
func (tx *boltTx) ActiveNonces(chainID uint64, from common.Address) ([]uint64, error) {
	var out []uint64
	prefix := noncePrefix(chainID, from)
	c := tx.tx.Bucket(bucketTransferNonces).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(k) != nonceKeyLen {
			return nil, fmt.Errorf("storage: active nonces of %s on chain %d: %w: index key %x", from, chainID, storage.ErrCorrupt, k)
		}
		out = append(out, binary.BigEndian.Uint64(k[len(prefix):]))
	}
	return out, nil
}
