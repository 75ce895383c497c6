package parent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/mdlayher/vsock"

	"github.com/autowallet/autowallet/internal/metrics"
	"github.com/autowallet/autowallet/protocol"
)

// ErrEnclaveUnavailable wraps every failure to reach the enclave (as opposed
// to a refusal, which is a *protocol.Error).
var ErrEnclaveUnavailable = errors.New("enclave unavailable")

// EnclaveClient speaks the enclave HTTP API (docs/protocol.md, section 6) over
// vsock in production or loopback TCP in dev and tests. Refusals come back as
// *protocol.Error, which errors.Is matches against protocol's sentinels
// (protocol.ErrWrongOwner, ...).
type EnclaveClient struct {
	base    string // for errors: the enclave's address and the scheme
	pool    *enclavePool
	timeout time.Duration
	metrics *metrics.Metrics
	vault   vaultRecord // the blob of the key the enclave holds (unlock.go)
}

// SetMetrics makes the client time every call by endpoint and count the
// calls that did not reach the enclave (nil: none). Call it before use.
func (c *EnclaveClient) SetMetrics(m *metrics.Metrics) { c.metrics = m }

// enclaveConns bounds the connections to the enclave: more than its vCPUs
// (2 to 4 for a Nitro Enclave) so that its work overlaps the round trips,
// few enough that it never juggles hundreds of sockets.
const enclaveConns = 16

// NewEnclaveClientTCP dials the enclave at a loopback host:port.
func NewEnclaveClientTCP(addr string, timeout time.Duration) *EnclaveClient {
	d := &net.Dialer{Timeout: timeout}
	return newEnclaveClient("http://"+addr, d.DialContext, timeout)
}

// NewEnclaveClientVsock dials the enclave at a vsock context id and port.
func NewEnclaveClientVsock(cid, port uint32, timeout time.Duration) *EnclaveClient {
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		return vsock.DialContext(ctx, cid, port, nil)
	}
	return newEnclaveClient("http://enclave", dial, timeout)
}

func newEnclaveClient(base string, dial func(context.Context, string, string) (net.Conn, error), timeout time.Duration) *EnclaveClient {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	// At most enclaveConns connections, all kept alive: a burst of requests
	// (1,000 Create wallet taps) queues for a connection instead of dialing
	// one per request and closing all but a few afterwards, which cost a
	// connect and a close per request beyond the pool (issue 11: 1.5x to 2x
	// the wallets/s with 64 and 256 concurrent users; docs/performance.md).
	// The wait for a connection counts in the request's timeout.
	return &EnclaveClient{base: base, pool: newEnclavePool(strings.TrimPrefix(base, "http://"), dial), timeout: timeout}
}

// Health asks whether the enclave is up and unlocked.
func (c *EnclaveClient) Health(ctx context.Context) (*protocol.HealthResponse, error) {
	var out protocol.HealthResponse
	if err := c.do(ctx, http.MethodGet, protocol.PathHealth, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateWallet asks the enclave for a new wallet owned by a Telegram user.
func (c *EnclaveClient) CreateWallet(ctx context.Context, owner int64) (common.Address, []byte, error) {
	var out protocol.CreateWalletResponse
	if err := c.do(ctx, http.MethodPost, protocol.PathWallets, protocol.CreateWalletRequest{Owner: owner}, &out); err != nil {
		return common.Address{}, nil, err
	}
	if !common.IsHexAddress(out.Address) || len(out.Record) == 0 {
		return common.Address{}, nil, fmt.Errorf("%w: enclave returned a malformed wallet", ErrEnclaveUnavailable)
	}
	return common.HexToAddress(out.Address), out.Record, nil
}

// Statement asks the enclave for the wallet statement of a sealed record:
// its owner, address and the identity key's proof.
func (c *EnclaveClient) Statement(ctx context.Context, record []byte) (*protocol.StatementResponse, error) {
	var out protocol.StatementResponse
	if err := c.do(ctx, http.MethodPost, protocol.PathStatement, protocol.StatementRequest{Record: record}, &out); err != nil {
		return nil, err
	}
	if !common.IsHexAddress(out.Address) || len(out.Proof) != protocol.WalletProofSize {
		return nil, fmt.Errorf("%w: enclave returned a malformed statement", ErrEnclaveUnavailable)
	}
	return &out, nil
}

// Approve asks the enclave to sign the transfer initData approves.
func (c *EnclaveClient) Approve(ctx context.Context, initData string, record []byte) ([]byte, common.Hash, error) {
	var out protocol.ApproveResponse
	if err := c.do(ctx, http.MethodPost, protocol.PathApprove, protocol.ApproveRequest{InitData: initData, Record: record}, &out); err != nil {
		return nil, common.Hash{}, err
	}
	raw, err := hexutil.Decode(out.RawTx)
	if err != nil {
		return nil, common.Hash{}, fmt.Errorf("%w: enclave returned a malformed transaction", ErrEnclaveUnavailable)
	}
	hash, err := hexutil.Decode(out.TxHash)
	if err != nil || len(hash) != common.HashLength {
		return nil, common.Hash{}, fmt.Errorf("%w: enclave returned a malformed hash", ErrEnclaveUnavailable)
	}
	return raw, common.BytesToHash(hash), nil
}

func (c *EnclaveClient) do(ctx context.Context, method, path string, in, out any) (err error) {
	defer func(t0 time.Time) {
		// A refusal is the enclave's answer; only unavailability counts
		// as an error of the call.
		c.metrics.EnclaveCall(path, time.Since(t0), errors.Is(err, ErrEnclaveUnavailable))
	}(time.Now())
	var body []byte
	if r, ok := in.(protocol.ApproveRequest); ok {
		// The hot path: the same bytes as json.Marshal, without reflection.
		if body, err = protocol.MarshalApproveRequest(r); err != nil {
			return err
		}
	} else if in != nil {
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	// The whole exchange (the wait for a connection, the dial, the request
	// and the answer read to its end) within the client's timeout, as
	// http.Client.Timeout bounded it.
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, done, err := c.pool.roundTrip(ctx, method, path, body, protocol.MaxRequestBody)
	if err != nil {
		// The error names only the enclave address and path, never the body.
		return fmt.Errorf("%w: %s %s%s: %w", ErrEnclaveUnavailable, method, c.base, path, err)
	}
	read := false // the answer was read to its end: the connection can be reused
	defer func() { done(read) }()
	if resp.StatusCode != http.StatusOK {
		err := protocol.ReadError(resp)
		var refusal *protocol.Error
		if !errors.As(err, &refusal) || refusal.Code == protocol.CodeInternal {
			return fmt.Errorf("%w: %v", ErrEnclaveUnavailable, err)
		}
		read = true
		return refusal
	}
	// The answer is read as strictly as the enclave reads requests (one
	// object, exact keys once, canonical base64, no null, no unknown
	// field): the record the parent stores has one spelling.
	if err := protocol.DecodeJSON(resp.Body, protocol.MaxRequestBody, out); err != nil {
		return fmt.Errorf("%w: bad response: %v", ErrEnclaveUnavailable, err)
	}
	read = true
	return nil
}
