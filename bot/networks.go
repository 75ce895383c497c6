package bot

import (
	"fmt"
	"strconv"
)

// network is what the bot tells users about a chain.
type network struct {
	name     string
	explorer string // transaction URL prefix; empty where there is none
}

var networks = map[uint64]network{
	1:        {"Ethereum", "https://etherscan.io/tx/"},
	11155111: {"Sepolia testnet", "https://sepolia.etherscan.io/tx/"},
	17000:    {"Holesky testnet", "https://holesky.etherscan.io/tx/"},
	8453:     {"Base", "https://basescan.org/tx/"},
	10:       {"Optimism", "https://optimistic.etherscan.io/tx/"},
	42161:    {"Arbitrum One", "https://arbiscan.io/tx/"},
	137:      {"Polygon", "https://polygonscan.com/tx/"},
	1337:     {"Dev chain", ""},
}

// NetworkName is a chain's name for people.
func NetworkName(chainID uint64) string {
	if n, ok := networks[chainID]; ok {
		return n.name
	}
	return "chain " + strconv.FormatUint(chainID, 10)
}

// explorerTx is a link to a transaction, or "" for chains without an explorer.
func explorerTx(chainID uint64, hash string) string {
	if n, ok := networks[chainID]; ok && n.explorer != "" {
		return fmt.Sprintf("%s%s", n.explorer, hash)
	}
	return ""
}
