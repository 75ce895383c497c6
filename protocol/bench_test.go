package protocol

import (
	"testing"

	"github.com/autowallet/autowallet/internal/testvectors"
)

func BenchmarkDecodeStartParam(b *testing.B) {
	text := vector[testvectors.IntentVector](b, "intents", "valid-eth-transfer").StartParam
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeStartParam(text); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyInitData(b *testing.B) {
	raw := vector[testvectors.InitDataVector](b, "initdata", "valid").InitData
	cfg, now := vectorVerifyConfig(), testvectors.NowTime()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := VerifyInitData(raw, cfg, now); err != nil {
			b.Fatal(err)
		}
	}
}
