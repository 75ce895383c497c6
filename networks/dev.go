package networks

// The two embedded chains of `autowallet dev`: an L1 and an L2 stand-in,
// with different chain ids and block times. Their "test USDC" is deployed
// at start, so its address is filled in then (a fresh chain, a fresh
// address; the deployer and its nonce make it the same on every start).
const (
	DevL1ChainID uint64 = 1337
	DevL2ChainID uint64 = 31337
)

// DevL1 and DevL2 return the dev networks without tokens and RPC URLs.
func DevL1() Network {
	return Network{ChainID: DevL1ChainID, Name: "Dev L1", NativeSymbol: "ETH", NativeDecimals: 18, Confirmations: 1}
}

func DevL2() Network {
	return Network{ChainID: DevL2ChainID, Name: "Dev L2", NativeSymbol: "ETH", NativeDecimals: 18, Confirmations: 1}
}
