package main

import (
	"fmt"
	"io"
	"os"

	"github.com/autowallet/autowallet/enclave"
)

// checkConfig is `enclave -check-config FILE`: it reads FILE with the very
// parser the enclave runs at boot (enclave.ParseConfig), so a build script
// can refuse to bake a config the enclave would refuse, or a dev config into
// a production image, without a second, looser reading of the file (a grep
// for "mode" misses `"mode" : "dev"` written another way, or a production
// config carrying hmac_bot_token). It returns the exit code: 0 valid, 1 not.
func checkConfig(stdout, stderr io.Writer, path string, requireProduction bool) int {
	raw, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "enclave -check-config: %v\n", err)
		return 1
	}
	cfg, err := enclave.ParseConfig(raw)
	if err != nil {
		fmt.Fprintf(stderr, "enclave -check-config: %s: %v\n", path, err)
		return 1
	}
	mode := "production"
	if cfg.Dev {
		mode = "dev"
	}
	if requireProduction && cfg.Dev {
		fmt.Fprintf(stderr, "enclave -check-config: %s: a mode \"dev\" config (dev vault key file, dev NSM, maybe a bot-token HMAC); a production image bakes a mode \"production\" config\n", path)
		return 1
	}
	kms := "none (dev vault key file)"
	if cfg.KMS != nil {
		kms = cfg.KMS.KeyARN
	}
	fmt.Fprintf(stdout, "%s: valid enclave config: mode %s, bot_id %d, allowed_chain_ids %v, hmac_bot_token %t, kms key %s, sha256 %x\n",
		path, mode, cfg.BotID, cfg.AllowedChainIDs, cfg.HMACBotToken != "", kms, enclave.ConfigDigest(raw))
	// One line per chain with the token contracts the enclave may sign
	// transfers of there, so a reviewer of the image sees the whole list.
	for _, id := range cfg.AllowedChainIDs {
		tokens := "native coin only"
		if ts := cfg.AllowedTokens[id]; len(ts) > 0 {
			tokens = ""
			for i, t := range ts {
				if i > 0 {
					tokens += " "
				}
				tokens += t.Hex()
			}
		}
		fmt.Fprintf(stdout, "  chain %d: %s\n", id, tokens)
	}
	return 0
}
