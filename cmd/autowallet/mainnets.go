package main

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
)

// testChains are the chains `autowallet dev` runs on without -unsafe-mainnet:
// local dev chains and public testnets, whose coins have no market value.
// Every other chain id is refused: dev mode keeps its vault key in a file in
// the data folder, attests under a dev root and, with the emulator, trusts an
// Ed25519 key in that folder, so whoever reads the folder (or runs the
// emulator's chat page) can sign. A chain this list does not know may carry
// real value (new L2s appear every month), so the list names what is safe
// rather than what is not. A real-money chain needs the production setup
// (`autowallet parent` with an attested enclave and KMS).
//
// Keep it sorted by chain id. Ids from each chain's documentation.
var testChains = map[uint64]string{
	97:       "BNB Smart Chain testnet",
	300:      "zkSync Sepolia",
	1301:     "Unichain Sepolia",
	1337:     "local dev chain (geth --dev, the embedded chain)",
	10200:    "Gnosis Chiado",
	17000:    "Holesky",
	31337:    "local dev chain (Anvil, Hardhat)",
	43113:    "Avalanche Fuji",
	59141:    "Linea Sepolia",
	80002:    "Polygon Amoy",
	84532:    "Base Sepolia",
	421614:   "Arbitrum Sepolia",
	534351:   "Scroll Sepolia",
	560048:   "Hoodi",
	11155111: "Sepolia",
	11155420: "OP Sepolia",
}

// publicMainnets names well-known value-carrying chains, only so that the
// refusal can say which chain it saw; every chain outside testChains is
// refused, named or not.
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

// checkDevChain refuses every chain outside testChains unless unsafe is set.
func checkDevChain(chainID uint64, rpcURL string, unsafe bool) error {
	if _, test := testChains[chainID]; test || unsafe {
		return nil
	}
	what := "a chain that is not on dev mode's list of test chains (it may carry real value)"
	if name, ok := publicMainnets[chainID]; ok {
		what = name + ", a public mainnet"
	}
	return fmt.Errorf("ETH_RPC_URL %s is on chain %d, %s: dev mode keeps its vault key in a file and has no attested enclave, "+
		"so it must not hold real funds; use a testnet or a local node, or run `autowallet parent` in production "+
		"(-unsafe-mainnet / AUTOWALLET_UNSAFE_MAINNET=1 overrides this at your own risk)", redactedURL(rpcURL), chainID, what)
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
