// Package recovery makes and checks recovery codes: ten one-time codes shown
// to the user once, at enrolment, and stored only as hashes. Each code
// stands in for the second factor once.
package recovery

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"strings"

	"gatehouse/internal/token"
)

const (
	// Count is how many codes Generate makes.
	Count = 10
	// Length is the number of characters of a code, dashes left out. Each
	// character carries 5 bits, so a code carries 100 bits.
	Length = 20
	// group is the number of characters between dashes in the canonical form.
	group = 4
	// maxInput bounds what Normalize reads, so a huge input costs nothing.
	maxInput = 64
)

// ErrMalformed reports an input that cannot be a recovery code.
var ErrMalformed = errors.New("recovery: not a recovery code")

// Generate returns Count new codes, read from r (nil means crypto/rand.Reader),
// in canonical form ("7k2m-9qxr-4c0t-hv3a-bn6e": lower case, groups of four,
// from [token.Base32Alphabet], which has no i, l, o or u), and their hashes
// in the same order.
//
// The codes are shown to the user once and never stored; only the hashes
// are. Two equal codes are possible only with probability about 2⁻⁹³.
func Generate(r io.Reader) (codes []string, hashes [][]byte, err error) {
	codes = make([]string, Count)
	hashes = make([][]byte, Count)
	for i := range codes {
		raw, err := token.Base32Code(r, Length)
		if err != nil {
			return nil, nil, fmt.Errorf("recovery: %w", err)
		}
		codes[i] = format(raw)
		hashes[i] = Hash(codes[i])
	}
	return codes, hashes, nil
}

func format(raw string) string {
	var b strings.Builder
	for i := 0; i < len(raw); i += group {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(raw[i:min(i+group, len(raw))])
	}
	return b.String()
}

// Normalize turns what a user typed into the canonical form of a code: it
// ignores case, spaces and dashes, and reads the look-alikes o as 0 and i
// and l as 1 (as Crockford's base32 does), so a code copied by hand still
// matches. Anything else that is not in the alphabet, or a wrong number of
// characters, is refused with [ErrMalformed].
func Normalize(input string) (string, error) {
	if len(input) > maxInput {
		return "", ErrMalformed
	}
	raw := make([]byte, 0, Length)
	for i := 0; i < len(input); i++ {
		c := input[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		switch c {
		case ' ', '-':
			continue
		case 'o':
			c = '0'
		case 'i', 'l':
			c = '1'
		}
		if strings.IndexByte(token.Base32Alphabet, c) < 0 || len(raw) == Length {
			return "", ErrMalformed
		}
		raw = append(raw, c)
	}
	if len(raw) != Length {
		return "", ErrMalformed
	}
	return format(string(raw)), nil
}

// hashDomain separates recovery-code hashes from every other SHA-256 in
// gatehouse, so a hash never means two things.
const hashDomain = "gatehouse-recovery-v1\n"

// Hash returns the stored form of a code in canonical form (as Generate
// returns it or Normalize makes it): SHA-256 over a domain prefix and the
// code.
//
// Plain SHA-256 rather than a slow or keyed hash, on purpose: a code carries
// 100 random bits, so even an attacker holding every user's hashes must try
// about 2⁷⁶ codes per hit with ten million codes on file, which no hardware
// does. A key would add nothing against that and would have to be kept,
// rotated and never lost, or every code would stop working. (This is why the
// codes are 20 characters rather than 12: 60 bits would fall to such a
// multi-target search in seconds.)
func Hash(code string) []byte {
	h := sha256.Sum256([]byte(hashDomain + code))
	return h[:]
}

// Match reports whether input, after Normalize, is one of the codes whose
// hashes are given, and returns the index of the first that matched (-1 if
// none). Every hash is compared, in constant time, whatever matches.
//
// A code is used once: the caller removes the matched hash (or sets it to
// nil, which never matches) in the same transaction that accepts the login.
func Match(input string, hashes [][]byte) (index int, ok bool) {
	code, err := Normalize(input)
	if err != nil {
		return -1, false
	}
	h := Hash(code)
	index = -1
	for i := len(hashes) - 1; i >= 0; i-- {
		eq := subtle.ConstantTimeCompare(h, hashes[i])
		index = subtle.ConstantTimeSelect(eq, i, index)
	}
	return index, index >= 0
}
