// Package webhook signs outgoing notices as the Standard Webhooks
// specification asks: a stable message id, a timestamp, and one HMAC-SHA256
// signature per secret over "id.timestamp.body", so that a receiver with
// any of the endpoint's current secrets can check the message and drop a
// redelivered one by its id.
//
// It is a leaf: it formats and signs, and knows nothing of delivery.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// SecretPrefix starts every secret in its text form, so that secret
// scanners recognise one and nobody mistakes it for another credential.
const SecretPrefix = "whsec_"

// Secret lengths, in bytes: the specification recommends 24 to 64.
const (
	MinSecretLen = 24
	MaxSecretLen = 64
	// secretLen is what [NewSecret] makes.
	secretLen = 32
)

// Header names of a signed message.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// ErrSecret is the error of a secret that is not whsec_ and base64 of
// 24 to 64 bytes.
var ErrSecret = errors.New("webhook: not a whsec_ secret of 24 to 64 bytes")

// Secret is an endpoint's signing key. It is a secret: [Secret.String]
// never prints it.
type Secret struct{ key []byte }

// ParseSecret reads a secret in its text form, whsec_ and the standard
// base64 of the key.
func ParseSecret(s string) (Secret, error) {
	enc, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return Secret{}, ErrSecret
	}
	key, err := base64.StdEncoding.Strict().DecodeString(enc)
	if err != nil || len(key) < MinSecretLen || len(key) > MaxSecretLen {
		return Secret{}, ErrSecret
	}
	return Secret{key: key}, nil
}

// NewSecret makes a new 32-byte secret from r (nil means crypto/rand) and
// returns its text form, to be shown once to the operator.
func NewSecret(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	key := make([]byte, secretLen)
	if _, err := io.ReadFull(r, key); err != nil {
		return "", fmt.Errorf("webhook: new secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(key), nil
}

// String hides the key.
func (s Secret) String() string { return SecretPrefix + "…" }

// GoString hides the key from %#v as well.
func (s Secret) GoString() string { return s.String() }

// Valid reports whether s holds a key.
func (s Secret) Valid() bool { return len(s.key) > 0 }

// Signed are the three header values of a signed message.
type Signed struct {
	ID        string
	Timestamp string // Unix seconds
	// Signature is "v1,<base64>" for each secret, separated by spaces: a
	// receiver accepts the message when any one of them verifies, which is
	// how a secret is rotated without a gap.
	Signature string
}

// Sign signs body, the exact bytes that will be sent, as message id at
// time at, with every secret. id must stay the same across redeliveries of
// one message (receivers drop duplicates by it); it is a header value, so
// text with a space or a control character is refused.
func Sign(id string, at time.Time, body []byte, secrets ...Secret) (Signed, error) {
	if id == "" || strings.IndexFunc(id, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return Signed{}, fmt.Errorf("webhook: message id %q: want printable text without spaces", id)
	}
	if len(secrets) == 0 {
		return Signed{}, errors.New("webhook: no secret to sign with")
	}
	ts := strconv.FormatInt(at.Unix(), 10)
	var b strings.Builder
	for i, s := range secrets {
		if !s.Valid() {
			return Signed{}, ErrSecret
		}
		mac := hmac.New(sha256.New, s.key)
		mac.Write([]byte(id))
		mac.Write([]byte{'.'})
		mac.Write([]byte(ts))
		mac.Write([]byte{'.'})
		mac.Write(body)
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("v1,")
		b.WriteString(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return Signed{ID: id, Timestamp: ts, Signature: b.String()}, nil
}
