package main

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
)

// publicMainnets are the chains on which a coin has market value. `autowallet
// dev` refuses them (unless -unsafe-mainnet): dev mode keeps its vault key in
// a file in the data folder, attests under a dev root and, with the
// emulator, trusts an Ed25519 key in that folder, so whoever reads the folder
// (or runs the emulator's chat page) can sign. A real-money chain needs the
// production setup (`autowallet parent` with an attested enclave and KMS).
//
// This is the one list; keep it sorted by chain id and add a chain here when
// it carries value. Ids from chainlist.org / each chain's documentation.
var publicMainnets = map[uint64]string{
	1:       "Ethereum",
	10:      "OP Mainnet (Optimism)",
	56:      "BNB Smart Chain",
	100:     "Gnosis",
	130:     "Unichain",
	137:     "Polygon PoS",
	250:     "Fantom Opera",
	324:     "zkSync Era",
	480:     "World Chain",
	1101:    "Polygon zkEVM",
	5000:    "Mantle",
	8453:    "Base",
	42161:   "Arbitrum One",
	42170:   "Arbitrum Nova",
	42220:   "Celo",
	43114:   "Avalanche C-Chain",
	59144:   "Linea",
	81457:   "Blast",
	534352:  "Scroll",
	7777777: "Zora",
}

// unsafeEnv reads a boolean "unsafe" environment variable: only an explicit
// 1 or true counts, so a typo never opts in.
func unsafeEnv(name string) bool {
	v, ok := os.LookupEnv(name)
	if !ok {
		return false
	}
	b, err := strconv.ParseBool(v)
	return err == nil && b
}

// checkDevChain refuses a public mainnet unless unsafe is set.
func checkDevChain(chainID uint64, rpcURL string, unsafe bool) error {
	name, mainnet := publicMainnets[chainID]
	if !mainnet || unsafe {
		return nil
	}
	return fmt.Errorf("ETH_RPC_URL %s is on chain %d (%s), a public mainnet: dev mode keeps its vault key in a file and has no attested enclave, "+
		"so it must not hold real funds; use a testnet or a local node, or run `autowallet parent` in production "+
		"(-unsafe-mainnet / AUTOWALLET_UNSAFE_MAINNET=1 overrides this at your own risk)", redactedURL(rpcURL), chainID, name)
}

// checkDevListen refuses a listener on a non-loopback address: with the
// emulator always (its chat page has no login: anyone who reaches it can
// act as any user and approve), with a real token unless unsafe is set (the
// API and the Mini App page of a dev-mode signer would face the network).
func checkDevListen(addr net.Addr, emulator, unsafe bool) error {
	tcp, ok := addr.(*net.TCPAddr)
	if ok && tcp.IP.IsLoopback() {
		return nil
	}
	if emulator {
		return fmt.Errorf("%s is not a loopback address: the emulator's chat page has no login (anyone reaching it can act as any user), so dev mode serves it on loopback only", addr)
	}
	if unsafe {
		return nil
	}
	return fmt.Errorf("%s is not a loopback address: dev mode's signer keeps its vault key in a file and is not attested, so it serves on loopback only; "+
		"put a tunnel or reverse proxy in front, or pass -unsafe-public-listen (AUTOWALLET_UNSAFE_PUBLIC_LISTEN=1) at your own risk", addr)
}

// redactedURL keeps an RPC URL's scheme and host: its path or query often
// carries a provider's API key.
func redactedURL(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Scheme + "://" + u.Host
	}
	return "(the given URL)"
}
