package parent

import (
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum/common"
)

// Reasons the parent refuses a request from a wallet user. The bot turns each
// into words; the Mini App API into an error code.
var (
	ErrBadAddress      = errors.New("not a valid Ethereum address")
	ErrBadAmount       = errors.New("not a valid amount")
	ErrBalanceTooLow   = errors.New("balance does not cover the amount and the fee")
	ErrNoWallet        = errors.New("no wallet yet")
	ErrUnknownTransfer = errors.New("no such transfer")
	ErrAlreadyApproved = errors.New("transfer already approved")
	ErrTransferClosed  = errors.New("transfer is no longer open")
)

// WeiPerETH is 10^18.
var WeiPerETH = new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil)

// ParseAddress accepts an Ethereum address as 0x and 40 hex digits, either in
// one case or with a valid EIP-55 checksum. Mixed case with a wrong checksum is
// refused: it is the one way a typo in an address can be caught.
func ParseAddress(s string) (common.Address, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "0x") && !strings.HasPrefix(s, "0X") {
		return common.Address{}, fmt.Errorf("%w: it must start with 0x", ErrBadAddress)
	}
	hex := s[2:]
	if len(hex) != 2*common.AddressLength {
		return common.Address{}, fmt.Errorf("%w: it must have 40 hex digits after 0x, this one has %d", ErrBadAddress, len(hex))
	}
	if !common.IsHexAddress(s) {
		return common.Address{}, fmt.Errorf("%w: it has a character that is not a hex digit", ErrBadAddress)
	}
	addr := common.HexToAddress(s)
	if hex != strings.ToLower(hex) && hex != strings.ToUpper(hex) && "0x"+hex != addr.Hex() {
		return common.Address{}, fmt.Errorf("%w: the checksum (upper/lower case letters) is wrong; check for a typo", ErrBadAddress)
	}
	if addr == (common.Address{}) {
		return common.Address{}, fmt.Errorf("%w: the zero address burns funds", ErrBadAddress)
	}
	return addr, nil
}

// ParseETH reads a decimal amount of ETH ("0.05", "1", ".5"; a single comma is
// taken as the decimal point) into wei. It refuses signs, exponents, more than
// 18 decimals and zero.
func ParseETH(s string) (*big.Int, error) {
	s = strings.TrimSpace(s)
	if strings.Count(s, ",") == 1 && !strings.Contains(s, ".") {
		s = strings.Replace(s, ",", ".", 1)
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" {
		return nil, fmt.Errorf("%w: it is empty", ErrBadAmount)
	}
	for _, part := range []string{whole, frac} {
		for _, c := range part {
			if c < '0' || c > '9' {
				return nil, fmt.Errorf("%w: %q is not a number; write it like 0.05", ErrBadAmount, s)
			}
		}
	}
	if len(frac) > 18 {
		return nil, fmt.Errorf("%w: ETH has at most 18 decimals, %q has %d", ErrBadAmount, s, len(frac))
	}
	if len(whole) > 30 {
		return nil, fmt.Errorf("%w: %q is too large", ErrBadAmount, s)
	}
	wei, ok := new(big.Int).SetString(whole+frac+strings.Repeat("0", 18-len(frac)), 10)
	if !ok {
		return nil, fmt.Errorf("%w: %q is not a number", ErrBadAmount, s)
	}
	if wei.Sign() == 0 {
		return nil, fmt.Errorf("%w: the amount must be more than zero", ErrBadAmount)
	}
	return wei, nil
}

// FormatETH writes wei as ETH with at most decimals digits after the point,
// rounded down and without trailing zeros ("0.05", "1", "0.000021").
func FormatETH(wei *big.Int, decimals int) string {
	if wei == nil {
		return "0"
	}
	neg := wei.Sign() < 0
	abs := new(big.Int).Abs(wei)
	whole, rem := new(big.Int).QuoRem(abs, WeiPerETH, new(big.Int))
	frac := fmt.Sprintf("%018s", rem.String())
	if decimals < 18 {
		frac = frac[:max(decimals, 0)]
	}
	frac = strings.TrimRight(frac, "0")
	out := whole.String()
	if frac != "" {
		out += "." + frac
	}
	if neg {
		out = "-" + out
	}
	return out
}
