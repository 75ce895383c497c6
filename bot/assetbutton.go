package bot

import (
	"errors"
	"fmt"
	"html"
	"strconv"
	"strings"

	"github.com/ethereum/go-ethereum/common"
)

// An asset button of the guided /send carries the coin's identity, not
// its place in a list: "f:a<chain id>:native" or "f:a<chain id>:<token
// address, 40 lowercase hex digits>". The parent that takes the tap may
// not be the one that asked (several parents behind one webhook), and may
// run another -networks list (a rolling change of the network files, a
// parent restarted with a new list): an index into the handling parent's
// own list could name another coin on another network (review 12, finding
// 5). At most 3 + 20 + 1 + 40 = 64 bytes: Telegram's limit for
// callback_data, whatever the chain id.
const (
	cbFlowAsset    = "f:a"
	assetArg       = "a"
	oldAssetArg    = "asset:" // before: an index into the asking parent's list
	nativeAssetArg = "native"
	maxCallbackLen = 64
)

// assetData is the callback data of a's button.
func assetData(a asset) string {
	tok := nativeAssetArg
	if !a.native() {
		tok = strings.ToLower(a.token.Address.Hex()[2:])
	}
	return cbFlowAsset + strconv.FormatUint(a.net.ChainID, 10) + ":" + tok
}

// Why an asset button is refused.
var (
	errOldAssetButton   = errors.New("asset button of the old format (an index)")
	errBadAssetButton   = errors.New("malformed asset button")
	errAssetNotOffered  = errors.New("asset not offered by this parent")
	errNetworkNotServed = errors.New("network not served by this parent")
)

// parseAssetArg reads the argument of an asset button (the callback data
// after "f:"): the chain id and the token (zero: the native coin). Strict:
// one spelling per asset (no sign, no leading zero, lowercase hex), so the
// data is the asset's one name.
func parseAssetArg(arg string) (chainID uint64, token common.Address, err error) {
	if strings.HasPrefix(arg, oldAssetArg) {
		return 0, common.Address{}, errOldAssetButton
	}
	rest, ok := strings.CutPrefix(arg, assetArg)
	if !ok {
		return 0, common.Address{}, errBadAssetButton
	}
	id, tok, ok := strings.Cut(rest, ":")
	if !ok || id == "" || len(id) > 20 || (id[0] == '0') {
		return 0, common.Address{}, errBadAssetButton
	}
	for _, c := range id {
		if c < '0' || c > '9' {
			return 0, common.Address{}, errBadAssetButton
		}
	}
	if chainID, err = strconv.ParseUint(id, 10, 64); err != nil {
		return 0, common.Address{}, errBadAssetButton
	}
	if tok == nativeAssetArg {
		return chainID, common.Address{}, nil
	}
	if len(tok) != 2*common.AddressLength {
		return 0, common.Address{}, errBadAssetButton
	}
	for _, c := range tok {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return 0, common.Address{}, errBadAssetButton
		}
	}
	token = common.HexToAddress(tok)
	if token == (common.Address{}) {
		return 0, common.Address{}, errBadAssetButton // the native coin has one spelling
	}
	return chainID, token, nil
}

// assetOfButton finds the asset a button names among this parent's own
// networks and listed tokens. A coin this parent does not offer is refused
// (errAssetNotOffered, errNetworkNotServed), never replaced by another.
func (b *Bot) assetOfButton(arg string) (asset, error) {
	chainID, token, err := parseAssetArg(arg)
	if err != nil {
		return asset{}, err
	}
	for _, a := range b.assets() {
		if a.net.ChainID == chainID && a.token.Address == token {
			return a, nil
		}
	}
	if _, ok := b.nets().ByChainID(chainID); !ok {
		return asset{}, fmt.Errorf("%w: chain %d", errNetworkNotServed, chainID)
	}
	return asset{}, fmt.Errorf("%w: token %s on chain %d", errAssetNotOffered, token.Hex(), chainID)
}

// assetRefusal is what the user is told of a refused asset button, before
// the choice is asked again.
func (b *Bot) assetRefusal(arg string, err error) string {
	chainID, token, _ := parseAssetArg(arg)
	switch {
	case errors.Is(err, errOldAssetButton):
		return "⚠️ That button is from before an update of this bot, so I do not know which coin it meant. Nothing was chosen; please choose again."
	case errors.Is(err, errNetworkNotServed):
		return fmt.Sprintf("⚠️ This wallet no longer works on the network of that button (chain id %d). Nothing was chosen; please choose again.", chainID)
	case errors.Is(err, errAssetNotOffered):
		return fmt.Sprintf("⚠️ The token of that button (<code>%s</code>) is not offered on %s any more. Nothing was chosen; please choose again.",
			token.Hex(), html.EscapeString(b.networkName(chainID)))
	default:
		return "⚠️ I do not understand that button. Nothing was chosen; please choose again."
	}
}
