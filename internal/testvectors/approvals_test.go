package testvectors

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"strconv"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/autowallet/autowallet/protocol"
)

// erc20ABI is the one function of the token ABI the vectors need. The
// calldata is packed by go-ethereum's ABI encoder, not by package
// protocol, so the vectors check protocol's own encoder.
const erc20ABI = `[{"type":"function","name":"transfer","stateMutability":"nonpayable",
 "inputs":[{"name":"to","type":"address"},{"name":"value","type":"uint256"}],"outputs":[{"name":"","type":"bool"}]}]`

// erc20Intent is the base intent made an ERC-20 transfer: 25 USDC (6
// decimals) of TokenHex, with a token transfer's gas limit.
func erc20Intent() *protocol.Intent {
	in := baseIntent()
	in.Token = common.HexToAddress(TokenHex)
	in.Amount = big.NewInt(25_000_000)
	in.GasLimit = 65000
	return in
}

// transactionOf is the to, value and data of the transaction an intent
// stands for, written from the spec: the native coin to "to" with the
// amount and no data; a token to the token contract with value 0 and
// transfer(to, amount).
func transactionOf(in *protocol.Intent) *Transaction {
	if in.Token == (common.Address{}) {
		return &Transaction{To: in.To.Hex(), Value: in.Amount.String(), Data: "0x"}
	}
	parsed, err := abi.JSON(strings.NewReader(erc20ABI))
	if err != nil {
		panic(err)
	}
	data, err := parsed.Pack("transfer", in.To, in.Amount)
	if err != nil {
		panic(err)
	}
	return &Transaction{To: in.Token.Hex(), Value: "0", Data: hexutil.Encode(data)}
}

// signedTx signs what the vector says the enclave must sign, with the test
// wallet's key (RFC 6979, so the bytes are fixed).
func signedTx(in *protocol.Intent) (raw []byte, hash common.Hash) {
	tx := transactionOf(in)
	to := common.HexToAddress(tx.To)
	value, _ := new(big.Int).SetString(tx.Value, 10)
	d := &types.DynamicFeeTx{
		ChainID: new(big.Int).SetUint64(in.ChainID), Nonce: in.Nonce, GasTipCap: in.MaxPriorityFeePerGas,
		GasFeeCap: in.MaxFeePerGas, Gas: in.GasLimit, To: &to, Value: value, Data: hexutil.MustDecode(tx.Data),
	}
	key, err := crypto.ToECDSA(WalletKey())
	if err != nil {
		panic(err)
	}
	signed, err := types.SignTx(types.NewTx(d), types.LatestSignerForChainID(d.ChainID), key)
	if err != nil {
		panic(err)
	}
	raw, err = signed.MarshalBinary()
	if err != nil {
		panic(err)
	}
	return raw, signed.Hash()
}

// configFileOf is a version 2 enclave config file with these chains, for
// the config parser's fuzz seeds.
func configFileOf(chains []ConfigChain) []byte {
	b, err := json.Marshal(map[string]any{
		"version": 2, "mode": "dev", "bot_id": BotID,
		"telegram_public_key": hex.EncodeToString(TelegramKey().Public().(ed25519.PublicKey)),
		"chains":              chains, "max_auth_age": "1h", "clock_skew": "1m",
	})
	if err != nil {
		panic(err)
	}
	return b
}

// approvals writes testdata/approvals: token intents given to an enclave
// whose config allows TokenHex on ChainID and OtherChainTokenHex on
// DevChainID.
func (g *generator) approvals() {
	const dir = "testdata/approvals"
	for _, a := range []string{TokenHex, OtherChainTokenHex} {
		if common.HexToAddress(a).Hex() != a {
			g.t.Fatalf("%s is not in EIP-55 case", a)
		}
	}
	tokens := []ConfigChain{{ChainID: ChainID, Tokens: []string{TokenHex}}, {ChainID: DevChainID, Tokens: []string{OtherChainTokenHex}}}
	nativeOnly := []ConfigChain{{ChainID: ChainID, Tokens: []string{}}, {ChainID: DevChainID, Tokens: []string{}}}
	record := hex.EncodeToString(seal(VaultKey(), uint64(Owner), walletAddress(), mustHex("000000000000000000000001"), WalletKey()))
	write := func(name, desc string, chains []ConfigChain, in *protocol.Intent, expect protocol.Code) {
		sp, err := in.EncodeStartParam()
		if err != nil {
			g.t.Fatalf("%s: %v", name, err)
		}
		fields := map[string]string{
			"user": userJSON(Owner), "auth_date": strconv.FormatInt(Now-60, 10), "start_param": sp,
			"chat_instance": "-3788475317572404878", "chat_type": "private",
		}
		v := ApprovalVector{
			Description: desc, Chains: chains, BotID: strconv.FormatInt(BotID, 10),
			TelegramPublicKey: hex.EncodeToString(TelegramKey().Public().(ed25519.PublicKey)),
			MaxAgeSeconds:     int64(MaxAuthAge.Seconds()), ClockSkewSeconds: int64(ClockSkew.Seconds()),
			VaultKey: VaultKeyHex, Now: Now, InitData: protocol.SignInitData(fields, BotID, TelegramKey(), ""),
			Record: record, Expect: string(expect),
		}
		body, _ := json.Marshal(protocol.ApproveRequest{InitData: v.InitData, Record: mustHex(record)})
		g.writeSeed("enclave", "FuzzApproveRequest", "approval-"+name, "[]byte", body)
		g.writeSeed("enclave", "FuzzParseConfig", "approval-"+name, "[]byte", configFileOf(chains))
		if expect == "valid" {
			raw, hash := signedTx(in)
			v.RawTx, v.TxHash, v.Transaction = hexutil.Encode(raw), hash.Hex(), transactionOf(in)
		}
		g.writeJSON(dir, name, v)
	}

	write("erc20-transfer", "25 USDC on Sepolia, a token the config lists there: signed as value 0 to the token contract with transfer(to, 25000000)",
		tokens, erc20Intent(), "valid")
	write("native-transfer", "0.05 ETH on Sepolia under the same config: value 0.05 ETH to the recipient, no data", tokens, baseIntent(), "valid")

	unlisted := erc20Intent()
	unlisted.Token = common.HexToAddress("0x2222222222222222222222222222222222222222")
	write("token-not-allowed", "a token 0x2222… the config lists on no chain", tokens, unlisted, protocol.CodeTokenNotAllowed)
	swapped := erc20Intent()
	swapped.Token = common.HexToAddress(OtherChainTokenHex)
	write("token-of-another-chain", "on Sepolia, the token contract the config lists for chain 1337 only (a look-alike address on the wrong chain)",
		tokens, swapped, protocol.CodeTokenNotAllowed)
	write("native-only-config", "the ERC-20 transfer under a config that lists both chains with no token", nativeOnly, erc20Intent(), protocol.CodeTokenNotAllowed)
	otherChain := erc20Intent()
	otherChain.ChainID = 1
	write("token-on-chain-not-allowed", "the allowed token's address on chain 1, which the config does not list: the chain is refused first",
		tokens, otherChain, protocol.CodeChainNotAllowed)
}
