// Package token makes the random secrets of gatehouse and compares their hashes.
//
// House rule: every random secret (session token, API key, recovery code, one-time
// code, nonce, seed) is drawn through this package, so there is one place to audit
// how randomness is read and how bias is avoided. Each function takes an io.Reader;
// nil means crypto/rand.Reader, and tests pass a fixed reader to get fixed output.
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
)

// MaxLen bounds the nbytes and n arguments of this package, so that a
// configuration mistake cannot ask for gigabytes of randomness.
const MaxLen = 1024

// Base32Alphabet is the alphabet of [Base32Code]: Crockford's base32 in lower
// case, which leaves out i, l, o and u so that a code read aloud or copied by
// hand has no look-alike letters.
const Base32Alphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// ErrLength reports a length argument outside 1..[MaxLen].
var ErrLength = errors.New("token: length out of range")

// ErrRange reports an upper bound for [Intn] that is not positive.
var ErrRange = errors.New("token: range must be positive")

func reader(r io.Reader) io.Reader {
	if r == nil {
		return rand.Reader
	}
	return r
}

func checkLen(n int) error {
	if n < 1 || n > MaxLen {
		return fmt.Errorf("%w: %d", ErrLength, n)
	}
	return nil
}

// Bytes returns n bytes read from r (nil means crypto/rand.Reader).
func Bytes(r io.Reader, n int) ([]byte, error) {
	if err := checkLen(n); err != nil {
		return nil, err
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(reader(r), b); err != nil {
		return nil, fmt.Errorf("token: read random: %w", err)
	}
	return b, nil
}

// New returns nbytes random bytes from r (nil means crypto/rand.Reader) encoded
// as unpadded base64url (RFC 4648 §5), ready for a URL, a header or a cookie.
// Use at least 32 bytes for a bearer secret such as a session token.
func New(r io.Reader, nbytes int) (string, error) {
	b, err := Bytes(r, nbytes)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Hash returns the SHA-256 digest of s. A fast unsalted hash is right for
// secrets made by [New] with 128 bits or more: no search can find them. It is
// wrong for anything a person chose, such as a password.
func Hash(s string) []byte {
	h := Sum(s)
	return h[:]
}

// Sum is [Hash] as an array, which a caller can keep on its stack: a
// cache looked up by string(sum[:]) costs no allocation.
func Sum(s string) [sha256.Size]byte { return sha256.Sum256([]byte(s)) }

// Equal reports whether a and b are equal, in time that depends on their
// lengths only, never on their contents.
func Equal(a, b []byte) bool {
	return subtle.ConstantTimeCompare(a, b) == 1
}

// Digits returns n uniformly random decimal digits read from r (nil means
// crypto/rand.Reader).
//
// Each byte read yields one digit when it is below 250 and is discarded
// otherwise (rejection sampling): 250 is a multiple of 10, so every digit is
// equally likely, where a plain byte%10 would favour 0–5 by 26 to 25. Digits
// never reads more bytes than it has digits left to make, so a fixed reader
// gives a predictable result.
func Digits(r io.Reader, n int) (string, error) {
	if err := checkLen(n); err != nil {
		return "", err
	}
	return sample(r, n, "0123456789", 250)
}

// Base32Code returns n characters drawn uniformly from [Base32Alphabet], each
// carrying 5 bits, read from r (nil means crypto/rand.Reader). The low 5 bits
// of each byte pick the character; 256 is a multiple of 32, so there is no bias.
func Base32Code(r io.Reader, n int) (string, error) {
	if err := checkLen(n); err != nil {
		return "", err
	}
	return sample(r, n, Base32Alphabet, 256)
}

// sample maps bytes below limit, a multiple of len(alphabet), to alphabet
// characters and rejects the rest.
func sample(r io.Reader, n int, alphabet string, limit int) (string, error) {
	r = reader(r)
	out := make([]byte, 0, n)
	buf := make([]byte, n)
	for len(out) < n {
		b := buf[:n-len(out)]
		if _, err := io.ReadFull(r, b); err != nil {
			return "", fmt.Errorf("token: read random: %w", err)
		}
		for _, c := range b {
			if int(c) < limit {
				out = append(out, alphabet[int(c)%len(alphabet)])
			}
		}
	}
	return string(out), nil
}

// Intn returns a uniformly random integer in [0, n) read from r (nil means
// crypto/rand.Reader), by rejection sampling over 32-bit values: a draw at or
// above the largest multiple of n below 2³² is discarded, so no value is
// favoured. n must be positive and below 2³¹.
func Intn(r io.Reader, n int) (int, error) {
	if n <= 0 || n > 1<<31-1 {
		return 0, fmt.Errorf("%w: %d", ErrRange, n)
	}
	r = reader(r)
	const span = uint64(1) << 32
	limit := span - span%uint64(n)
	var b [4]byte
	for {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, fmt.Errorf("token: read random: %w", err)
		}
		v := uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
		if v < limit {
			return int(v % uint64(n)), nil
		}
	}
}

// IDMaxLen bounds an identifier made by [New]: 43 characters is 32 bytes,
// more than any id gatehouse mints (sessions, devices, factors: 12 bytes;
// flows: 16).
const IDMaxLen = 43

// ValidID reports whether id has the form of an identifier made by [New]:
// 1 to [IDMaxLen] characters of the base64url alphabet. Routes check it
// before any store look-up, so NUL, invalid UTF-8 or a megabyte of path
// never reach a database.
func ValidID(id string) bool {
	if len(id) == 0 || len(id) > IDMaxLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
