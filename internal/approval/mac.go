package approval

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"time"
)

// macInfo separates the MAC key of [Signer.Check] from the signing key
// and every other use of the secret both are derived from.
const macInfo = "gatehouse approval token mac key v1"

// macClaims is the payload [Signer.Sign] writes: the claims and a MAC
// over them under a key only gatehouse instances hold.
type macClaims struct {
	Claims
	MAC string `json:"mac"`
}

// mac returns the MAC of c: HMAC-SHA256 over every claim, each string
// prefixed by its length so that no two claim sets share an input.
func (s *Signer) mac(c *Claims) string {
	var buf [512]byte
	var sum [sha256.Size]byte
	s.sum(macInput(buf[:0], c), &sum)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// macInput appends the MAC's input for c to in.
func macInput(in []byte, c *Claims) []byte {
	for _, f := range [...]string{c.Issuer, c.Subject, c.ID, c.Account, string(c.Kind), c.Hash, c.Factor, c.FactorID, c.Assurance} {
		in = binary.BigEndian.AppendUint32(in, uint32(len(f)))
		in = append(in, f...)
	}
	in = binary.BigEndian.AppendUint64(in, uint64(c.IssuedAt))
	return binary.BigEndian.AppendUint64(in, uint64(c.Expiry))
}

// sum writes the HMAC of in to out.
func (s *Signer) sum(in []byte, out *[sha256.Size]byte) {
	m := s.macs.Get().(hash.Hash)
	m.Reset()
	m.Write(in)
	m.Sum(out[:0])
	s.macs.Put(m)
}

// macOK reports whether mac, as Sign writes it, is the MAC of c, in time
// independent of where they differ.
func (s *Signer) macOK(c *Claims, mac string) bool {
	var buf [512]byte
	var sum [sha256.Size]byte
	var want [43]byte // base64url of 32 bytes, unpadded
	s.sum(macInput(buf[:0], c), &sum)
	base64.RawURLEncoding.Encode(want[:], sum[:])
	if len(mac) != len(want) {
		return false
	}
	var diff byte
	for i := range want {
		diff |= want[i] ^ mac[i]
	}
	return diff == 0
}

// parseFlat reads the payload [Signer.Sign] writes, one object whose
// members are strings without escapes and integers, into c; it reports
// false for anything else, which the caller then decodes with
// encoding/json (five times slower). Being loose is safe: whatever it
// reads must still carry the MAC of what it read.
func parseFlat(raw string, c *macClaims) bool {
	if len(raw) < 2 || raw[0] != '{' || raw[len(raw)-1] != '}' {
		return false
	}
	rest := raw[1 : len(raw)-1]
	for rest != "" {
		if rest[0] != '"' {
			return false
		}
		name, after, ok := strings.Cut(rest[1:], `"`)
		if !ok || len(after) < 2 || after[0] != ':' {
			return false
		}
		after = after[1:]
		var str string
		var num int64
		isStr := after[0] == '"'
		if isStr {
			str, after, ok = strings.Cut(after[1:], `"`)
			if !ok || strings.IndexByte(str, '\\') >= 0 {
				return false
			}
		} else {
			end := strings.IndexByte(after, ',')
			if end < 0 {
				end = len(after)
			}
			n, err := strconv.ParseInt(after[:end], 10, 64)
			if err != nil {
				return false
			}
			num, after = n, after[end:]
		}
		var dst *string
		switch name {
		case "iss":
			dst = &c.Issuer
		case "sub":
			dst = &c.Subject
		case "jti":
			dst = &c.ID
		case "account":
			dst = &c.Account
		case "kind":
			c.Kind, dst = Kind(str), new(string)
		case "hash":
			dst = &c.Hash
		case "factor":
			dst = &c.Factor
		case "factor_id":
			dst = &c.FactorID
		case "acr":
			dst = &c.Assurance
		case "mac":
			dst = &c.MAC
		case "iat", "exp":
			if isStr {
				return false
			}
			if name == "iat" {
				c.IssuedAt = num
			} else {
				c.Expiry = num
			}
		default:
			return false
		}
		if dst != nil {
			if !isStr {
				return false
			}
			*dst = str
		}
		if after == "" {
			break
		}
		if after[0] != ',' {
			return false
		}
		rest = after[1:]
	}
	return true
}

// Check is [Signer.Verify] for gatehouse's own forward-auth: instead of
// the ES256 signature, which costs about 100 µs to verify, it checks the
// token's "mac" claim, an HMAC-SHA256 of the claims under a key derived
// from the same secret as the signing key (about 1 µs). Both keys come
// from one secret, so whoever can forge the MAC can forge the signature:
// the check is as strong, only not public. An upstream verifies the
// signature with the published key; the header, type and key id are
// checked as Verify checks them, by comparing the header with the one
// the signer writes. The signature part is not verified here: a token
// with a good MAC and a broken signature passes forward-auth and fails
// an upstream's offline check, which only refuses more.
func (s *Signer) Check(compact string, now time.Time) (*Claims, error) {
	if len(compact) > MaxTokenSize {
		return nil, fmt.Errorf("%w: not a compact JWS", ErrToken)
	}
	header, rest, ok := strings.Cut(compact, ".")
	payload, sig, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || strings.IndexByte(sig, '.') >= 0 || sig == "" {
		return nil, fmt.Errorf("%w: not a compact JWS", ErrToken)
	}
	if header != s.header {
		return nil, fmt.Errorf("%w: another key or type", ErrToken)
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: claims", ErrToken)
	}
	var c macClaims
	if !parseFlat(string(raw), &c) {
		c = macClaims{}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("%w: claims", ErrToken)
		}
	}
	if !s.macOK(&c.Claims, c.MAC) {
		return nil, fmt.Errorf("%w: mac", ErrToken)
	}
	return s.checkClaims(&c.Claims, now)
}
