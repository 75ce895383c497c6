package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func init() {
	allCodes[CodeKMSFailed] = 502
	allCodes[CodeKMSRefused] = 403
	allCodes[CodeAlreadyUnlocked] = 409
	allCodes[CodeKMSNotConfigured] = 501
}

// TestCredentialsRedacted: fmt and slog never show lent credentials; JSON
// (the wire to the enclave) carries them.
func TestCredentialsRedacted(t *testing.T) {
	c := AWSCredentials{AccessKeyID: "ASIAEXAMPLEKEYID", SecretAccessKey: "secret/EXAMPLE+key", SessionToken: "token-EXAMPLE"}
	req := UnlockRequest{Credentials: c, CiphertextBlob: []byte{1}}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("unlock", "creds", c, "req", req)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("unlock", "creds", c, "req", req)
	for _, s := range []string{
		fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c),
		fmt.Sprint(req), fmt.Sprintf("%v %+v %#v %s", req, req, req, req),
		fmt.Sprintf("%+v", struct{ C AWSCredentials }{c}),
		logged.String(),
	} {
		for _, secret := range []string{c.AccessKeyID, c.SecretAccessKey, c.SessionToken} {
			if strings.Contains(s, secret) {
				t.Fatalf("%q shows a credential", s)
			}
		}
	}
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var back UnlockRequest
	if err := json.Unmarshal(b, &back); err != nil || back.Credentials != c {
		t.Fatalf("JSON round trip: %+v, %v", back.Credentials.AccessKeyID == c.AccessKeyID, err)
	}
	if !c.Valid() || (AWSCredentials{AccessKeyID: "a", SecretAccessKey: "b"}).Valid() {
		t.Fatal("Valid")
	}
}
