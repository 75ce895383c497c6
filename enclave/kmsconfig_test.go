package enclave

import (
	"errors"
	"reflect"
	"testing"
)

func testKMSConfig() *KMSConfig {
	return &KMSConfig{KeyARN: "arn:aws:kms:eu-west-2:111122223333:key/bc436485-5092-42b8-92a3-0aa8b93536dc", Region: "eu-west-2", ProxyPort: 8000}
}

func TestParseConfigKMS(t *testing.T) {
	c, err := ParseConfig([]byte(configJSON(nil)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.KMS, testKMSConfig()) || c.KMS.Host() != "kms.eu-west-2.amazonaws.com" {
		t.Fatalf("KMS %+v", c.KMS)
	}
	// Dev keeps the key file: no KMS fields needed.
	dev, err := ParseConfig([]byte(configJSON(map[string]string{"mode": `"dev"`, "kms_key_arn": "", "kms_region": "", "kms_proxy_port": ""})))
	if err != nil || dev.KMS != nil {
		t.Fatalf("dev without KMS: %+v, %v", dev, err)
	}
	mrk, err := ParseConfig([]byte(configJSON(map[string]string{"kms_key_arn": `"arn:aws:kms:eu-west-2:111122223333:key/mrk-0123456789abcdef0123456789abcdef"`})))
	if err != nil || mrk.KMS == nil {
		t.Fatalf("multi-Region key: %v", err)
	}
}

func TestParseConfigKMSRefusals(t *testing.T) {
	cases := map[string]map[string]string{
		"production without KMS":  {"kms_key_arn": "", "kms_region": "", "kms_proxy_port": ""},
		"no ARN":                  {"kms_key_arn": ""},
		"no region":               {"kms_region": ""},
		"no proxy port":           {"kms_proxy_port": ""},
		"dev with a partial KMS":  {"mode": `"dev"`, "kms_proxy_port": ""},
		"alias, not a key":        {"kms_key_arn": `"arn:aws:kms:eu-west-2:111122223333:alias/vault"`},
		"bare key id":             {"kms_key_arn": `"bc436485-5092-42b8-92a3-0aa8b93536dc"`},
		"ARN in another region":   {"kms_key_arn": `"arn:aws:kms:us-east-1:111122223333:key/bc436485-5092-42b8-92a3-0aa8b93536dc"`},
		"region not a region":     {"kms_region": `"eu-west-2.evil.example"`},
		"ARN with a suffix":       {"kms_key_arn": `"arn:aws:kms:eu-west-2:111122223333:key/bc436485-5092-42b8-92a3-0aa8b93536dc/x"`},
		"proxy port out of range": {"kms_proxy_port": `4294967296`},
		"proxy port negative":     {"kms_proxy_port": `-1`},
	}
	for name, changes := range cases {
		t.Run(name, func(t *testing.T) {
			if c, err := ParseConfig([]byte(configJSON(changes))); !errors.Is(err, ErrBadConfig) {
				t.Fatalf("accepted: %+v, %v", c, err)
			}
		})
	}
}
