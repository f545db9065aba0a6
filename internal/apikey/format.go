// Package apikey holds the API keys through which scripts and bots reach
// one brokerage account: their wire format, their scopes, and the pure
// rules for creating, using, rotating and retiring them.
//
// Nothing here does I/O. Randomness comes in as an [io.Reader] and time as
// a now argument, so every rule is a table test.
//
// Security invariants:
//   - the full key is shown once, in the create or rotate answer; only the
//     SHA-256 of its secret part is stored ([Key.SecretHash]);
//   - a stored hash is compared in constant time ([Parsed.Matches]);
//   - a mistyped or truncated key is refused by [Parse] from its checksum,
//     before any store look-up;
//   - a key acts on one account in one environment and never reaches the
//     other environment;
//   - a key that can move money (transfers:write) is made only at AAL3 and
//     only with an IP allowlist.
package apikey

import (
	"crypto/sha256"
	"errors"
	"hash/crc32"
	"io"

	"gatehouse/internal/account"
	"gatehouse/internal/token"
)

// The key format. A key looks like
//
//	gatehouse_live_8x2k9m4q7w3r5t6y_c0ffee…(52 characters)…3kq07p1
//	|prefix  |env |id (16)          |secret (52)                |crc (7)
//
// and is, in order:
//
//   - [Prefix] "gatehouse_": fixed and distinctive, so secret scanners
//     (GitHub secret scanning, gitleaks, trufflehog) can find leaked keys
//     with one regular expression and few false positives. Not "gh", which
//     is GitHub's own token prefix.
//   - the environment word, "paper" or "live", then "_": a human (and a
//     scanner) sees at a glance whether a leaked key moves real money, and
//     gatehouse refuses a key sent to the other environment's host before
//     any look-up.
//   - the identifier: 16 characters (80 random bits), then "_". It is the
//     key's [Key.ID], safe to log, show in listings and put in audit
//     events, because it proves nothing on its own.
//   - the secret: 52 characters, 260 random bits (at least 256, as for
//     session tokens). Only its SHA-256 is stored.
//   - the checksum: CRC-32 (IEEE) of every byte before it, as 7 characters
//     (35 bits, the top 3 always zero). A mistyped, truncated or
//     hand-edited key is refused without touching the store, and a scanner
//     can confirm a hit offline. CRC-32 detects every single-character
//     substitution and every burst up to 32 bits; it is not a MAC and need
//     not be: the secret, not the checksum, carries the security.
//
// Identifier, secret and checksum share one alphabet, [Alphabet]: lower
// case Crockford base 32, which has no 'i', 'l', 'o' or 'u', so a key read
// aloud or retyped has no look-alike characters. Only '_' separates the
// parts: editors and terminals treat letters, digits and '_' as one word,
// so a double-click selects the whole key ('-' would split it). Each
// environment gives one fixed total length ([LiveLen], [PaperLen]), and
// there is exactly one spelling of every key: Parse accepts a string only
// if encoding what it parsed gives the same string back.
const (
	Prefix    = "gatehouse_"
	Alphabet  = "0123456789abcdefghjkmnpqrstvwxyz"
	IDLen     = 16
	SecretLen = 52
	SumLen    = 7

	// LiveLen and PaperLen are the lengths of a whole key.
	LiveLen  = len(Prefix) + len("live_") + IDLen + 1 + SecretLen + SumLen
	PaperLen = len(Prefix) + len("paper_") + IDLen + 1 + SecretLen + SumLen
)

// Errors from [Parse] and [Generate]. Parse's are distinct for logs and
// metrics; clients get the same 401 for all of them, so that a probe
// learns nothing about how close it came.
var (
	ErrNotKey      = errors.New("apikey: not a gatehouse api key")
	ErrMalformed   = errors.New("apikey: malformed key")
	ErrEnvironment = errors.New("apikey: wrong or unknown environment")
	ErrChecksum    = errors.New("apikey: checksum mismatch")
)

// Token is a freshly generated key. Key is the full key, to be shown to
// its owner once and never stored or logged; Hash is what the store keeps.
type Token struct {
	Key         string
	ID          string
	Environment account.Environment
	Hash        []byte // SHA-256 of the secret part, see [HashSecret]
}

// String returns the key with its secret cut out, so that a Token printed
// by mistake does not leak.
func (t Token) String() string { return redacted(t.Environment, t.ID) }

// GoString is String, for %#v.
func (t Token) GoString() string { return t.String() }

// Generate makes a new key for env from random, which nil means
// crypto/rand.Reader. Identifier and secret are drawn uniformly from
// [Alphabet] by [token.Base32Code]. It fails only if env is not paper or
// live or if random fails.
func Generate(env account.Environment, random io.Reader) (Token, error) {
	if env != account.Paper && env != account.Live {
		return Token{}, ErrEnvironment
	}
	// Drawn through internal/token, the one audited source of secrets.
	id, err := token.Base32Code(random, IDLen)
	if err != nil {
		return Token{}, err
	}
	secret, err := token.Base32Code(random, SecretLen)
	if err != nil {
		return Token{}, err
	}
	return Token{
		Key:         encode(env, id, secret),
		ID:          id,
		Environment: env,
		Hash:        HashSecret(secret),
	}, nil
}

// HashSecret returns the SHA-256 of a key's secret part: the value stored
// in place of the secret.
//
// A fast unsalted hash is right here, unlike for passwords: the secret is
// 260 bits from crypto/rand, so neither a dictionary nor a precomputed table
// can cover it and a brute force of 2^260 is out of reach at any hash
// speed. A slow KDF (argon2, bcrypt) would add nothing but CPU cost to
// every forwarded request, and would make forward-auth a denial-of-service
// amplifier for anyone holding a syntactically valid key.
func HashSecret(secret string) []byte { return token.Hash(secret) }

// hashSecret is HashSecret without allocating, for the forward-auth path,
// where token.Hash's []byte conversion would cost an allocation.
func hashSecret(secret string) [sha256.Size]byte {
	var buf [SecretLen]byte
	if len(secret) != SecretLen {
		return sha256.Sum256([]byte(secret))
	}
	copy(buf[:], secret)
	return sha256.Sum256(buf[:])
}

// Parsed is a key that passed [Parse]: right prefix, environment, length,
// alphabet and checksum. It says nothing yet about whether the key exists
// or is usable; that takes the store and [Key.Usable].
type Parsed struct {
	Environment account.Environment
	// ID is the public identifier: safe to log. It shares memory with
	// the parsed string, secret included; strings.Clone it before keeping
	// it beyond the request.
	ID     string
	secret string
}

// Matches reports whether the parsed key's secret hashes to storedHash, in
// time that does not depend on how many bytes agree.
func (p Parsed) Matches(storedHash []byte) bool {
	sum := hashSecret(p.secret)
	return token.Equal(sum[:], storedHash)
}

// Hash returns the stored form of the parsed key's secret, for a store
// that looks keys up by hash rather than by ID.
func (p Parsed) Hash() []byte { return HashSecret(p.secret) }

// String returns the key with its secret cut out.
func (p Parsed) String() string { return redacted(p.Environment, p.ID) }

// GoString is String, for %#v.
func (p Parsed) GoString() string { return p.String() }

// Parse checks s against the key format and returns its parts. It does not
// allocate, and refuses before any store look-up:
//   - [ErrNotKey] when s does not start with [Prefix];
//   - [ErrEnvironment] when the environment word is not paper or live;
//   - [ErrMalformed] for a wrong length, separator or character;
//   - [ErrChecksum] when the checksum does not match the rest.
func Parse(s string) (Parsed, error) {
	if len(s) < len(Prefix) || s[:len(Prefix)] != Prefix {
		return Parsed{}, ErrNotKey
	}
	if len(s) > PaperLen {
		return Parsed{}, ErrMalformed
	}
	rest := s[len(Prefix):]
	var env account.Environment
	switch {
	case len(rest) >= len("live_") && rest[:len("live_")] == "live_":
		env, rest = account.Live, rest[len("live_"):]
	case len(rest) >= len("paper_") && rest[:len("paper_")] == "paper_":
		env, rest = account.Paper, rest[len("paper_"):]
	default:
		return Parsed{}, ErrEnvironment
	}
	if len(rest) != IDLen+1+SecretLen+SumLen || rest[IDLen] != '_' {
		return Parsed{}, ErrMalformed
	}
	id, secret, sum := rest[:IDLen], rest[IDLen+1:IDLen+1+SecretLen], rest[IDLen+1+SecretLen:]
	if !inAlphabet(id) || !inAlphabet(secret) || !inAlphabet(sum) {
		return Parsed{}, ErrMalformed
	}
	want := encodeSum(checksum(s[:len(s)-SumLen]))
	// The checksum is public (anyone can compute it), so comparing it in
	// variable time leaks nothing.
	if sum != string(want[:]) {
		return Parsed{}, ErrChecksum
	}
	return Parsed{Environment: env, ID: id, secret: secret}, nil
}

// valid[c] reports whether c is in [Alphabet].
var valid = func() (t [256]bool) {
	for i := 0; i < len(Alphabet); i++ {
		t[Alphabet[i]] = true
	}
	return t
}()

func inAlphabet(s string) bool {
	for i := 0; i < len(s); i++ {
		if !valid[s[i]] {
			return false
		}
	}
	return true
}

// checksum is crc32.ChecksumIEEE over a string, without the []byte
// conversion that would allocate.
func checksum(s string) uint32 {
	crc := ^uint32(0)
	for i := 0; i < len(s); i++ {
		crc = crc32.IEEETable[byte(crc)^s[i]] ^ (crc >> 8)
	}
	return ^crc
}

// encodeSum writes c as SumLen base-32 digits, most significant first.
func encodeSum(c uint32) (out [SumLen]byte) {
	v := uint64(c)
	for i := SumLen - 1; i >= 0; i-- {
		out[i] = Alphabet[v&31]
		v >>= 5
	}
	return out
}

// encode assembles a key from its parts; see the format above.
func encode(env account.Environment, id, secret string) string {
	b := make([]byte, 0, PaperLen)
	b = append(b, Prefix...)
	b = append(b, env...)
	b = append(b, '_')
	b = append(b, id...)
	b = append(b, '_')
	b = append(b, secret...)
	sum := encodeSum(checksum(string(b)))
	b = append(b, sum[:]...)
	return string(b)
}

func redacted(env account.Environment, id string) string {
	return Prefix + string(env) + "_" + id + "_[redacted]"
}

// ValidID reports whether id has the form of a key's [Token.ID]: IDLen
// characters of [Alphabet]. Routes check it before any store look-up, so
// hostile bytes in a path never reach a database.
func ValidID(id string) bool { return len(id) == IDLen && inAlphabet(id) }
