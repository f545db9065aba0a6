// Package password hashes and checks passwords with argon2id and enforces
// the password rules of NIST SP 800-63B.
package password

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Params are the argon2id cost parameters.
type Params struct {
	Memory      uint32 `yaml:"memory_kib"`  // KiB
	Iterations  uint32 `yaml:"iterations"`  // passes over memory
	Parallelism uint8  `yaml:"parallelism"` // lanes
}

// DefaultParams are the parameters used unless configured: 19 MiB, 2
// passes, 1 lane, the first of the OWASP Password Storage Cheat Sheet's
// argon2id configurations (they are equivalent in strength).
func DefaultParams() Params { return Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1} }

// Valid reports whether p is at or above the OWASP minimum (m=19 MiB, t=2,
// p=1, or m=7 MiB with t=5: the cheat sheet trades memory for passes).
func (p Params) Valid() error {
	if p.Parallelism < 1 {
		return errors.New("password: argon2id parallelism must be at least 1")
	}
	if uint64(p.Memory)*uint64(p.Iterations) < 19*1024*2 && !(p.Memory >= 7*1024 && p.Iterations >= 5) {
		return fmt.Errorf("password: argon2id m=%d KiB, t=%d is below the OWASP minimum (m=19456, t=2)", p.Memory, p.Iterations)
	}
	if p.Memory > 4*1024*1024 {
		return errors.New("password: argon2id memory above 4 GiB")
	}
	return nil
}

const (
	saltLen = 16
	keyLen  = 32
)

// Hasher hashes and verifies passwords. The zero value uses [DefaultParams]
// and crypto/rand. It is safe for concurrent use.
type Hasher struct {
	Params Params    // zero means DefaultParams
	Rand   io.Reader // nil means crypto/rand.Reader
	// Concurrency caps the hashes computed at once; zero means GOMAXPROCS.
	// Each hash holds Params.Memory (19 MiB by default): without a cap, a
	// burst of logins is a burst of memory, an easy denial of service.
	Concurrency int

	semOnce sync.Once
	sem     chan struct{}
	hashes  atomic.Uint64 // keys computed, for Hashes
}

// Hashes reports how many argon2id keys h has computed. The server
// watches it to give a burst's memory back once the burst is over.
func (h *Hasher) Hashes() uint64 { return h.hashes.Load() }

// key computes one argon2id key under the concurrency cap.
func (h *Hasher) key(password string, salt []byte, p Params, n uint32) []byte {
	h.semOnce.Do(func() {
		c := h.Concurrency
		if c <= 0 {
			c = runtime.GOMAXPROCS(0)
		}
		h.sem = make(chan struct{}, c)
	})
	h.sem <- struct{}{}
	defer func() { <-h.sem }()
	defer h.hashes.Add(1)
	return argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, n)
}

func (h *Hasher) params() Params {
	if h.Params == (Params{}) {
		return DefaultParams()
	}
	return h.Params
}

// Hash returns the PHC string of password:
// $argon2id$v=19$m=…,t=…,p=…$salt$hash.
func (h *Hasher) Hash(password string) (string, error) {
	r := h.Rand
	if r == nil {
		r = rand.Reader
	}
	salt := make([]byte, saltLen)
	if _, err := io.ReadFull(r, salt); err != nil {
		return "", fmt.Errorf("password: salt: %w", err)
	}
	p := h.params()
	key := h.key(password, salt, p, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Iterations, p.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// ErrMalformedHash is returned for a stored hash that is not an argon2id PHC string.
var ErrMalformedHash = errors.New("password: malformed hash")

type decoded struct {
	p         Params
	salt, key []byte
}

func decode(encoded string) (decoded, error) {
	var d decoded
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return d, ErrMalformedHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return d, ErrMalformedHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &d.p.Memory, &d.p.Iterations, &d.p.Parallelism); err != nil {
		return d, ErrMalformedHash
	}
	var err1, err2 error
	d.salt, err1 = base64.RawStdEncoding.DecodeString(parts[4])
	d.key, err2 = base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(d.key) == 0 || d.p.Iterations == 0 || d.p.Parallelism == 0 {
		return d, ErrMalformedHash
	}
	return d, nil
}

// Verify reports whether password matches encoded, and whether encoded
// was made with weaker parameters than the hasher's, in which case the
// caller should store a fresh [Hasher.Hash] of the password.
func (h *Hasher) Verify(password, encoded string) (ok, rehash bool, err error) {
	d, err := decode(encoded)
	if err != nil {
		return false, false, err
	}
	key := h.key(password, d.salt, d.p, uint32(len(d.key)))
	ok = subtle.ConstantTimeCompare(key, d.key) == 1
	want := h.params()
	rehash = d.p.Memory < want.Memory || d.p.Iterations < want.Iterations || d.p.Parallelism < want.Parallelism
	return ok, rehash, nil
}

// Dummy returns a hash of a random password with the hasher's parameters.
// Checking a login for an unknown user against it costs what a real check
// costs, so timing does not tell whether the user exists.
func (h *Hasher) Dummy() string {
	var b [16]byte
	rand.Read(b[:])
	s, err := h.Hash(base64.RawStdEncoding.EncodeToString(b[:]))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return s
}

// Rules are the password composition rules of NIST SP 800-63B §3.1.1.2:
// length, and a blocklist; no composition rules, no forced expiry.
type Rules struct {
	MinLength int `yaml:"min_length"` // in characters; at least 8
	MaxLength int `yaml:"max_length"` // at least 64
	// ContextWords are words of the service a password must not contain
	// (NIST SP 800-63B §3.1.1.2, ASVS 6.1.2): the platform's name and the
	// like. The username is always one. Compared without regard to case;
	// words shorter than 3 characters are ignored.
	ContextWords []string `yaml:"context_words"`
}

// DefaultRules asks for 12 characters: above NIST's 8 for a password that
// is one factor of several, since gatehouse requires a second factor for
// every session above AAL1.
func DefaultRules() Rules {
	return Rules{MinLength: 12, MaxLength: 128, ContextWords: []string{"gatehouse"}}
}

// Errors of [Rules.Check].
var (
	ErrTooShort = errors.New("password: too short")
	ErrTooLong  = errors.New("password: too long")
	ErrCommon   = errors.New("password: on the list of common passwords")
	ErrContext  = errors.New("password: contains the username or the service's name")
	ErrEncoding = errors.New("password: not valid UTF-8")
)

// Check returns why password may not be chosen by the user named username, or nil.
func (r Rules) Check(password, username string) error {
	if !utf8.ValidString(password) {
		return ErrEncoding
	}
	n := utf8.RuneCountInString(password)
	switch {
	case n < r.MinLength:
		return fmt.Errorf("%w: at least %d characters", ErrTooShort, r.MinLength)
	case n > r.MaxLength:
		return fmt.Errorf("%w: at most %d characters", ErrTooLong, r.MaxLength)
	}
	lower := strings.ToLower(password)
	if Common(lower) {
		return ErrCommon
	}
	if containsWord(lower, username) {
		return ErrContext
	}
	for _, w := range r.ContextWords {
		if containsWord(lower, w) {
			return ErrContext
		}
	}
	return nil
}

// containsWord reports whether lower (a lower-cased password) contains
// word, ignoring case; words under 3 characters never match.
func containsWord(lower, word string) bool {
	w := strings.ToLower(word)
	return len(w) >= 3 && strings.Contains(lower, w)
}

// common.txt is Openwall's password.lst (public domain), most common first.
//
//go:embed common.txt
var commonList []byte

var common = sync.OnceValue(func() map[string]struct{} {
	m := make(map[string]struct{}, 4000)
	sc := bufio.NewScanner(bytes.NewReader(commonList))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#!comment:") {
			continue
		}
		m[strings.ToLower(line)] = struct{}{}
	}
	return m
})

// Common reports whether p (lower-cased) is on the bundled list of common
// passwords, alone or with digits or a repeated word padding it to length
// ("password1234", "qwertyqwerty").
func Common(p string) bool {
	m := common()
	if _, ok := m[p]; ok {
		return true
	}
	base := strings.TrimRight(p, "0123456789!.?")
	if _, ok := m[base]; ok && len(base) >= 4 {
		return true
	}
	if half := len(p) / 2; len(p)%2 == 0 && half >= 3 && p[:half] == p[half:] {
		_, ok := m[p[:half]]
		return ok
	}
	return false
}
