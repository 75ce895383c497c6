package enclave

import (
	"fmt"
	"regexp"
)

// KMSConfig pins the AWS KMS key that releases the vault key (docs/kms.md).
// It is part of the enclave config, so PCR0 covers it: the parent cannot
// point the enclave at another key or region.
type KMSConfig struct {
	// KeyARN is the full ARN of the symmetric KMS key,
	// arn:aws:kms:<region>:<account>:key/<key id>.
	KeyARN string
	// Region is the KMS region; the enclave talks to kms.<region>.amazonaws.com.
	Region string
	// ProxyPort is the vsock port of the parent's vsock-proxy to that host's
	// port 443 (on CID 3, the parent).
	ProxyPort uint32
}

var (
	kmsRegionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)
	kmsKeyARNPattern = regexp.MustCompile(`^arn:aws:kms:([a-z0-9-]+):([0-9]{12}):key/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$`)
)

// parseKMS reads the kms_* fields: all three or none; none only in dev
// (and Validate refuses them in dev).
func parseKMS(f *configFile, dev bool) (*KMSConfig, error) {
	if f.KMSKeyARN == "" && f.KMSRegion == "" && f.KMSProxyPort == 0 {
		if !dev {
			return nil, fmt.Errorf("%w: a production config needs kms_key_arn, kms_region and kms_proxy_port", ErrBadConfig)
		}
		return nil, nil
	}
	k := &KMSConfig{KeyARN: f.KMSKeyARN, Region: f.KMSRegion, ProxyPort: f.KMSProxyPort}
	return k, k.validate()
}

// validate checks a KMS config; nil (no KMS) is valid here: whether a config
// may go without is parseKMS's rule.
func (k *KMSConfig) validate() error {
	if k == nil {
		return nil
	}
	switch m := kmsKeyARNPattern.FindStringSubmatch(k.KeyARN); {
	case !kmsRegionPattern.MatchString(k.Region):
		return fmt.Errorf("%w: kms_region %q is not an AWS region", ErrBadConfig, k.Region)
	case m == nil:
		return fmt.Errorf("%w: kms_key_arn must be a key ARN, arn:aws:kms:<region>:<account>:key/<id> (not an alias)", ErrBadConfig)
	case m[1] != k.Region:
		return fmt.Errorf("%w: kms_key_arn is in region %s, kms_region is %s", ErrBadConfig, m[1], k.Region)
	case k.ProxyPort == 0:
		return fmt.Errorf("%w: kms_proxy_port must be the vsock-proxy's vsock port", ErrBadConfig)
	}
	return nil
}

// Host is the KMS endpoint the enclave's TLS connection must reach.
func (k *KMSConfig) Host() string { return "kms." + k.Region + ".amazonaws.com" }

// Nil-safe field readers, for encoding a config that may have no KMS.
func (k *KMSConfig) keyARN() string {
	if k == nil {
		return ""
	}
	return k.KeyARN
}

func (k *KMSConfig) region() string {
	if k == nil {
		return ""
	}
	return k.Region
}

func (k *KMSConfig) proxyPort() uint32 {
	if k == nil {
		return 0
	}
	return k.ProxyPort
}
