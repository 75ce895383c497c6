package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/autowallet/autowallet/bot/emulator"
	"github.com/autowallet/autowallet/protocol"
)

// fullDisk makes the parent's data folder run out of space on demand.
//
// As root (this sandbox), the data folder is a 4 MiB tmpfs
// (`mount -t tmpfs -o size=4M`) and "full" is a filler file written until
// ENOSPC; removing the filler frees the disk. Without the right to mount,
// the parent's RLIMIT_FSIZE (prlimit(2) on its pid, soft limit only) is set
// to the database file's current size, so growing it fails with EFBIG, and
// raised again to free it. Both leave the parent running throughout.
type fullDisk struct {
	t      *testing.T
	tmpfs  bool
	filler string
	data   string
}

func newFullDisk(t *testing.T) *fullDisk {
	d := &fullDisk{t: t, data: t.TempDir()}
	// AUTOWALLET_FAULT_NO_TMPFS=1 takes the RLIMIT_FSIZE path even as root.
	if os.Getenv("AUTOWALLET_FAULT_NO_TMPFS") == "" &&
		exec.Command("mount", "-t", "tmpfs", "-o", "size=4M,mode=0700", "tmpfs", d.data).Run() == nil {
		d.tmpfs = true
		d.filler = filepath.Join(d.data, "filler")
		t.Cleanup(func() { exec.Command("umount", "-l", d.data).Run() })
	}
	t.Logf("full disk by %s", map[bool]string{true: "a 4 MiB tmpfs and a filler file", false: "RLIMIT_FSIZE on the parent"}[d.tmpfs])
	return d
}

// fill makes the next write that needs new space fail.
func (d *fullDisk) fill(p *parentProcess) {
	d.t.Helper()
	if d.tmpfs {
		f, err := os.Create(d.filler)
		if err != nil {
			d.t.Fatal(err)
		}
		defer f.Close()
		buf := make([]byte, 64<<10)
		for {
			if _, err := f.Write(buf); err != nil {
				if !errors.Is(err, unix.ENOSPC) {
					d.t.Fatalf("filling the tmpfs: %v", err)
				}
				break
			}
		}
		// Byte by byte, to the last one.
		for {
			if _, err := f.Write(buf[:1]); err != nil {
				return
			}
		}
	}
	st, err := os.Stat(filepath.Join(d.data, "autowallet.db"))
	if err != nil {
		d.t.Fatal(err)
	}
	lim := unix.Rlimit{Cur: uint64(st.Size()), Max: unix.RLIM_INFINITY}
	if err := unix.Prlimit(p.cmd.Process.Pid, unix.RLIMIT_FSIZE, &lim, nil); err != nil {
		d.t.Fatalf("prlimit: %v", err)
	}
}

// free gives the space back.
func (d *fullDisk) free(p *parentProcess) {
	d.t.Helper()
	if d.tmpfs {
		if err := os.Remove(d.filler); err != nil {
			d.t.Fatal(err)
		}
		return
	}
	lim := unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}
	if err := unix.Prlimit(p.cmd.Process.Pid, unix.RLIMIT_FSIZE, &lim, nil); err != nil {
		d.t.Fatalf("prlimit: %v", err)
	}
}

// TestFaultDiskFull: the parent's disk fills up while it works. New users
// tap Create wallet until a write fails: those whose wallet was stored see
// their card, the others are told that something went wrong, and nobody is
// shown an address that is not stored. An approval whose signed
// transaction cannot be stored is not broadcast (the user gets an error,
// the card still asks for approval). With the space back, without a
// restart, the same approval is sent once and confirmed and new wallets
// work; then the promises hold (checkPromises).
func TestFaultDiskFull(t *testing.T) {
	w := newFaultWorld(t)
	disk := newFullDisk(t)
	w.data = disk.data
	p := w.startParent()
	u, _ := w.fundedUser(7401, "Gus")
	card, link := sendCard(t, u, "0.01", recipient)
	initData := approval(t, u, link)

	disk.fill(p)
	// Users create wallets until a write fails.
	var users []*emulator.User
	refused := 0
	for i := range 40 {
		v := w.emu.User(int64(7500+i), fmt.Sprintf("U%d", i), fmt.Sprintf("u%d", i))
		users = append(users, v)
		greeting := ask(t, v, "/start", anyMessage)
		if _, err := v.Press(greeting.ID, "w:create"); err != nil {
			t.Fatal(err)
		}
		m := waitMessage(t, v, "wallet card or error", func(m emulator.Message) bool {
			return m.FromBot && m.ID > greeting.ID && (isPhoto(m) || strings.Contains(m.Text, "⚠️"))
		})
		if !isPhoto(m) {
			if !strings.Contains(m.Text, "Something went wrong") {
				t.Fatalf("Create wallet on a full disk answered %q", m.Text)
			}
			refused++
			if refused == 3 {
				break
			}
		}
	}
	if refused == 0 {
		t.Fatal("the disk never filled up")
	}
	// Now approve, with the disk full: signed by the enclave, not stored, so not sent.
	status, ans, code := approveVia(t, p, initData)
	approvedOnFullDisk := status == http.StatusOK
	if !approvedOnFullDisk {
		if code != protocol.CodeInternal {
			t.Fatalf("approve on a full disk: %d %s", status, code)
		}
		cardSays(t, u, card.ID, "Waiting for your approval")
	} else {
		t.Logf("the approval fitted on the full disk (%s)", ans.Status)
	}
	t.Logf("on the full disk: %d of %d wallet creations refused, approval stored: %v", refused, len(users), approvedOnFullDisk)
	if h := health(t, p); h.Enclave != "unlocked" {
		t.Fatalf("parent on a full disk: %+v", h)
	}

	disk.free(p)
	if !approvedOnFullDisk {
		status, ans, code = approveVia(t, p, initData)
		if status != http.StatusOK || ans.Status != "sent" {
			t.Fatalf("approve with space again: %d %+v %s", status, ans, code)
		}
	}
	cardSays(t, u, card.ID, "Confirmed in block")
	for _, v := range users[len(users)-2:] {
		walletCard(t, v)
	}
	stopParent(t, p)
	w.checkPromises(append(users, u)...)
}
