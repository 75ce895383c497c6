package miniapp

import (
	"crypto/ed25519"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/autowallet/autowallet/internal/browser"
)

// The page believes user.id only from launch data Telegram signed
// (docs/protocol.md 2.2 with config.json's bot id and key). A host that
// posts a plain URL button to the page's own origin writes the fragment
// itself: the host's user id beside the host's own genuine receive link.
// Unsigned, wrongly signed or stale, it shows no address as verified, and
// the approval view keeps Approve disabled.
func TestForgedLaunchIsNotVerified(t *testing.T) {
	_, otherKey, _ := ed25519.GenerateKey(nil)
	ctx := browser.New(t)
	hostLink := walletLink(testIdentity, hostUserID, hostWallet)
	hostUser := `{"id":` + strconv.Itoa(hostUserID) + `,"first_name":"Mallory","username":"host_mallory"}`
	unsigned := func(sp string) string {
		return url.Values{"auth_date": {strconv.FormatInt(time.Now().Unix(), 10)}, "user": {hostUser}, "start_param": {sp}}.Encode()
	}
	const badSig = "Telegram's signature on this page's launch data could not be verified"
	cases := []struct{ name, raw, want string }{
		{"no signature", unsigned(hostLink), badSig},
		{"signature of another key", launchSignedBy(otherKey, hostUserID, "Mallory", "host_mallory", time.Now(), hostLink), badSig},
		{"garbage signature", unsigned(hostLink) + "&signature=" + strings.Repeat("A", 86), badSig},
		{"signed for the victim, relabelled for the host", strings.Replace(initDataFor(t, testUserID, hostLink), strconv.Itoa(testUserID), strconv.Itoa(hostUserID), 1), badSig},
		{"genuine but 25 hours old", launchSignedBy(testTelegram, hostUserID, "Mallory", "host_mallory", time.Now().Add(-25*time.Hour), hostLink), "more than 24 hours"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			api := newFakeAPI()
			srv, rc := newWalletServer(t, configJSON(testIdentity), api)
			tab := openWith(t, ctx, srv.URL+"/miniapp/"+launchFragment(c.raw, nil), "")
			if got := state(t, tab); got != "unverified" {
				t.Fatalf("state %q", got)
			}
			errText := browser.Text(t, tab, "#error")
			if !strings.HasPrefix(errText, notYoursText) || !strings.Contains(errText, c.want) {
				t.Errorf("#error = %q, want %q", errText, c.want)
			}
			assertAddressAbsent(t, tab, hostWallet)
			body := browser.Eval[string](t, tab, `document.body.innerText`)
			if strings.Contains(body, verifiedText) || strings.Contains(body, "Your wallet (") || strings.Contains(body, "Mallory") {
				t.Errorf("the page says verified or names the forged account: %q", body)
			}
			rc.assertOnlyStaticGETs(t, c.raw, true)
			if n := len(api.Calls()); n != 0 {
				t.Fatalf("the API got %d calls", n)
			}
		})
	}

	// The approval view: the same forged launch, with an intent from the
	// host's wallet and the host's genuine wallet proof.
	hostIntent := testIntent(t, 10*time.Minute)
	hostIntent.From = hostWallet
	t.Run("approval view", func(t *testing.T) {
		api := newFakeAPI()
		srv, _ := newWalletServer(t, configJSON(testIdentity), api)
		tab := openWith(t, ctx, srv.URL+"/miniapp/"+launchFragment(unsigned(intentParam(hostIntent, testIdentity, hostUserID)), nil), "")
		if got := state(t, tab); got != "unverified" {
			t.Fatalf("state %q", got)
		}
		if note := browser.Text(t, tab, "#from-check"); !strings.Contains(note, badSig) {
			t.Errorf("#from-check = %q", note)
		}
		if !browser.Eval[bool](t, tab, `document.querySelector("#approve").disabled`) {
			t.Error("Approve is enabled")
		}
		if body := browser.Eval[string](t, tab, `document.body.innerText`); strings.Contains(body, "Your wallet (") || strings.Contains(body, "Mallory") {
			t.Errorf("the page says \"Your wallet\" or names the forged account: %q", body)
		}
		browser.Click(t, tab, "#approve")
		time.Sleep(200 * time.Millisecond)
		if n := len(api.Calls()); n != 0 {
			t.Fatalf("the API got %d calls", n)
		}
	})
}

// A host can still replay launch data Telegram genuinely signed for the
// host's own account (it opened its own Receive link itself). The page then
// verifies it, but names the account Telegram signed for: the host's first
// name and username, never the victim's. The approval view does the same.
func TestReplayedHostLaunchNamesTheHost(t *testing.T) {
	ctx := browser.New(t)
	api := newFakeAPI()
	srv, _ := newWalletServer(t, configJSON(testIdentity), api)
	raw := launchSignedBy(testTelegram, hostUserID, "Mallory", "host_mallory", time.Now(), walletLink(testIdentity, hostUserID, hostWallet))
	tab := openWith(t, ctx, srv.URL+"/miniapp/"+launchFragment(raw, nil), "")
	if got := state(t, tab); got != "verified" {
		t.Fatalf("state %q (%q)", got, browser.Text(t, tab, "#error"))
	}
	want := verifiedText + ": the wallet of Mallory (@host_mallory)"
	if got := browser.Text(t, tab, "#receive-check"); got != want {
		t.Errorf("#receive-check = %q, want %q", got, want)
	}
	if body := browser.Eval[string](t, tab, `document.body.innerText`); strings.Contains(body, "Vic") || strings.Contains(body, "victim") {
		t.Errorf("the page names the victim: %q", body)
	}

	// Without a username, only the first name; a name is text, never HTML.
	raw = launchSignedBy(testTelegram, hostUserID, "<b>Mal</b>\u202eroy", "", time.Now(), walletLink(testIdentity, hostUserID, hostWallet))
	tab = openWith(t, ctx, srv.URL+"/miniapp/"+launchFragment(raw, nil), "")
	if got := browser.Text(t, tab, "#receive-check"); got != verifiedText+": the wallet of <b>Mal</b>roy" {
		t.Errorf("#receive-check = %q", got)
	}
	if n := browser.Eval[int](t, tab, `document.querySelectorAll("#receive-check *").length`); n != 0 {
		t.Errorf("the name became %d elements", n)
	}

	hostIntent := testIntent(t, 10*time.Minute)
	hostIntent.From = hostWallet
	raw = launchSignedBy(testTelegram, hostUserID, "Mallory", "host_mallory", time.Now(), intentParam(hostIntent, testIdentity, hostUserID))
	tab = openWith(t, ctx, srv.URL+"/miniapp/"+launchFragment(raw, nil), "")
	if got := browser.Text(t, tab, "#from-check"); got != "Your wallet (Mallory @host_mallory) · "+verifiedText {
		t.Errorf("#from-check = %q", got)
	}
}
