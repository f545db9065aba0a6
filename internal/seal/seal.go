// Package seal encrypts small secrets kept at rest, such as TOTP seeds, with
// AES-256-GCM under a key from configuration.
//
// A sealed value is laid out as
//
//	offset  size  field
//	0       1     format version, 1 ([Version])
//	1       1     key id ([Box.KeyID]), so that keys can be rotated
//	2       12    nonce, 96 random bits
//	14      n+16  AES-256-GCM ciphertext of the n-byte plaintext, then its tag
//
// The GCM additional data is the two header bytes followed by the caller's
// associated data, so neither the header nor the binding can be altered
// without [Box.Open] failing.
//
// The associated data names the place a value belongs to (for a TOTP seed,
// the user id and the factor id): a sealed seed copied into another user's
// row does not open there.
//
// Rotation: give each configured key its own id. To rotate, add a Box with a
// new id for sealing, keep the old Boxes for opening, pick the Box by
// [KeyID] of the stored value, and re-seal values as they are read.
//
// Random nonces are safe for about 2³² seals under one key (NIST SP 800-38D
// §8.3), far more than gatehouse makes; rotate long before that.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"gatehouse/internal/token"
)

// Version is the format version written in the first byte of a sealed value.
const Version = 1

// KeySize is the size of an AES-256 key in bytes.
const KeySize = 32

const (
	nonceSize  = 12
	headerSize = 2
	overhead   = headerSize + nonceSize + 16
)

var (
	// ErrKey reports a key that is not 32 bytes, or whose bytes are all equal
	// (an all-zero or placeholder key).
	ErrKey = errors.New("seal: key must be 32 bytes of random data (base64, e.g. from `openssl rand -base64 32`)")
	// ErrMalformed reports a value too short or of an unknown format version
	// to be a sealed value.
	ErrMalformed = errors.New("seal: malformed sealed value")
	// ErrKeyID reports a value sealed under another key id than the Box's.
	ErrKeyID = errors.New("seal: sealed under another key id")
	// ErrOpen reports a value that fails authentication: the wrong key, other
	// associated data, or a modified value. The causes are not told apart.
	ErrOpen = errors.New("seal: message authentication failed")
)

// Box seals and opens values under one key. A Box is safe for concurrent use
// once its fields are set; it holds no copy of the raw key, only the AES key
// schedule.
type Box struct {
	// KeyID is written into each sealed value and checked by Open, so a
	// store can hold values under several keys during a rotation. New sets 0.
	KeyID byte
	// Rand supplies the nonces; nil means crypto/rand.Reader.
	Rand io.Reader

	aead cipher.AEAD
}

// New returns a Box for a 32-byte AES-256 key, with key id 0.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("%w: got %d bytes", ErrKey, len(key))
	}
	if constant(key) {
		return nil, fmt.Errorf("%w: every byte is the same", ErrKey)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return &Box{aead: aead}, nil
}

func constant(b []byte) bool {
	for _, c := range b {
		if c != b[0] {
			return false
		}
	}
	return true
}

// ParseKey decodes a key written in a configuration file or environment
// variable: base64 (standard or URL alphabet, padded or not; surrounding
// white space ignored) of exactly 32 bytes. Its errors never repeat the key.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("%w: empty", ErrKey)
	}
	var key []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err = enc.Strict().DecodeString(s); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: not valid base64", ErrKey)
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("%w: decodes to %d bytes", ErrKey, len(key))
	}
	if constant(key) {
		return nil, fmt.Errorf("%w: every byte is the same", ErrKey)
	}
	return key, nil
}

// Seal encrypts plaintext bound to associatedData and returns the sealed
// value in the layout described in the package documentation. The same
// associatedData must be given to Open.
func (b *Box) Seal(plaintext, associatedData []byte) ([]byte, error) {
	nonce, err := token.Bytes(b.Rand, nonceSize)
	if err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	out := make([]byte, headerSize, overhead+len(plaintext))
	out[0], out[1] = Version, b.KeyID
	out = append(out, nonce...)
	return b.aead.Seal(out, nonce, plaintext, additional(out[:headerSize], associatedData)), nil
}

// Open decrypts a value made by Seal with the same key id and associatedData.
func (b *Box) Open(sealed, associatedData []byte) ([]byte, error) {
	id, err := KeyID(sealed)
	if err != nil {
		return nil, err
	}
	if id != b.KeyID {
		return nil, fmt.Errorf("%w: value has %d, box has %d", ErrKeyID, id, b.KeyID)
	}
	nonce := sealed[headerSize : headerSize+nonceSize]
	pt, err := b.aead.Open(nil, nonce, sealed[headerSize+nonceSize:], additional(sealed[:headerSize], associatedData))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// KeyID returns the key id recorded in a sealed value, so a caller holding
// several Boxes can choose the one to open it with.
func KeyID(sealed []byte) (byte, error) {
	if len(sealed) < overhead {
		return 0, fmt.Errorf("%w: %d bytes", ErrMalformed, len(sealed))
	}
	if sealed[0] != Version {
		return 0, fmt.Errorf("%w: version %d", ErrMalformed, sealed[0])
	}
	return sealed[1], nil
}

func additional(header, ad []byte) []byte {
	out := make([]byte, 0, len(header)+len(ad))
	return append(append(out, header...), ad...)
}
