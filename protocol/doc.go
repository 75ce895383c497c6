// Package protocol holds the wire formats that the parent and the enclave both
// speak: the transfer intent carried in a Mini App start_param, the verifier for
// Telegram's initData, and the JSON bodies and error codes of the enclave HTTP
// API. docs/protocol.md is the specification; this package is its reference
// implementation.
//
// It depends on the standard library and go-ethereum's common types only, so the
// enclave can link it without pulling in anything that talks to the network.
package protocol
