package secevent

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	jose "github.com/go-jose/go-jose/v4"
)

// Subject identifier formats (RFC 9493), as sub_id carries them.
const (
	FormatOpaque  = "opaque"
	FormatEmail   = "email"
	FormatIssSub  = "iss_sub"
	FormatComplex = "complex"
)

// Subject is a subject identifier: a simple one of format opaque (ID),
// email (Email) or iss_sub (Iss and Sub), or a complex one whose User
// and Session are simple ones.
type Subject struct {
	Format  string   `json:"format"`
	ID      string   `json:"id,omitempty"`
	Email   string   `json:"email,omitempty"`
	Iss     string   `json:"iss,omitempty"`
	Sub     string   `json:"sub,omitempty"`
	User    *Subject `json:"user,omitempty"`
	Session *Subject `json:"session,omitempty"`
}

// Valid reports whether s has exactly the members its format needs.
func (s *Subject) Valid() error {
	if s == nil {
		return invalid("sub_id is required")
	}
	simple := s.User == nil && s.Session == nil
	switch {
	case s.Format == FormatOpaque && s.ID != "" && s.Email == "" && s.Iss == "" && s.Sub == "" && simple:
	case s.Format == FormatEmail && s.Email != "" && s.ID == "" && s.Iss == "" && s.Sub == "" && simple:
	case s.Format == FormatIssSub && s.Iss != "" && s.Sub != "" && s.ID == "" && s.Email == "" && simple:
	case s.Format == FormatComplex && !simple && s.ID == "" && s.Email == "" && s.Iss == "" && s.Sub == "":
		for _, m := range []*Subject{s.User, s.Session} {
			if m == nil {
				continue
			}
			if m.Format == FormatComplex {
				return invalid("a complex subject's members are simple")
			}
			if err := m.Valid(); err != nil {
				return err
			}
		}
	default:
		return invalid("sub_id of format %q with the wrong members", s.Format)
	}
	return nil
}

// Audience is the aud claim: one receiver is written as a string, several
// as an array, and either is read.
type Audience []string

func (a Audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

func (a *Audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = Audience{one}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(a))
}

// Token is the claims set of one SET. There is no sub and no exp: the
// profile forbids both, and [Parse] refuses a token that has them.
type Token struct {
	Issuer   string   `json:"iss"`
	JTI      string   `json:"jti"`
	IssuedAt int64    `json:"iat"`
	Audience Audience `json:"aud"`
	// TxN ties together the tokens one change causes (a password change
	// and the sessions it ended); "" leaves it out.
	TxN     string                     `json:"txn,omitempty"`
	Subject *Subject                   `json:"sub_id"`
	Events  map[string]json.RawMessage `json:"events"`
}

// New returns the token of one event.
func New(iss, jti string, iat int64, aud []string, txn string, sub *Subject, e Event) (*Token, error) {
	if err := e.Valid(); err != nil {
		return nil, err
	}
	if !validUTF8(reflect.ValueOf(e)) || !validUTF8(reflect.ValueOf(sub)) || !utf8.ValidString(iss+jti+txn) || !validUTF8(reflect.ValueOf(aud)) {
		return nil, invalid("a string is not valid UTF-8")
	}
	raw, err := marshalEvent(e)
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	t := &Token{Issuer: iss, JTI: jti, IssuedAt: iat, Audience: aud, TxN: txn, Subject: sub, Events: map[string]json.RawMessage{e.EventType(): raw}}
	return t, t.Valid()
}

// Valid reports what breaks the profile in t, or nil.
func (t *Token) Valid() error {
	switch {
	case t.Issuer == "" || t.JTI == "":
		return invalid("iss and jti are required")
	case t.IssuedAt <= 0:
		return invalid("iat is required")
	case len(t.Audience) == 0 || slices.Contains(t.Audience, ""):
		return invalid("aud is required")
	case len(t.Events) != 1:
		return invalid("exactly one event, not %d", len(t.Events))
	}
	return t.Subject.Valid()
}

// Type returns the token's event type URI.
func (t *Token) Type() string {
	for k := range t.Events {
		return k
	}
	return ""
}

// Event decodes the token's event, checked against its specification.
func (t *Token) Event() (Event, error) {
	typ := t.Type()
	mk, ok := decoders[typ]
	if !ok {
		return nil, invalid("unknown event type %q", typ)
	}
	e := mk()
	if err := json.Unmarshal(t.Events[typ], e); err != nil {
		return nil, invalid("event %s: %v", typ, err)
	}
	if err := e.Valid(); err != nil {
		return nil, err
	}
	return e, nil
}

// Key is a signing key: an ECDSA P-256 private key (ES256) and its key id,
// the kid of the tokens it signs and of its entry in the JWKS.
//
// Security: the private key never leaves the process; only [Key.Public]
// is published.
type Key struct {
	ID      string
	Private *ecdsa.PrivateKey
}

// Public returns the key's JWKS entry.
func (k Key) Public() jose.JSONWebKey {
	return jose.JSONWebKey{Key: &k.Private.PublicKey, KeyID: k.ID, Algorithm: string(jose.ES256), Use: "sig"}
}

// Sign signs t with k, after checking it against the profile.
func Sign(t *Token, k Key) (string, error) {
	if err := t.Valid(); err != nil {
		return "", err
	}
	if k.Private == nil || k.Private.Curve != elliptic.P256() || k.ID == "" {
		return "", fmt.Errorf("secevent: signing needs a P-256 key with an id")
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: k.Private, KeyID: k.ID}},
		(&jose.SignerOptions{}).WithType(Type))
	if err != nil {
		return "", fmt.Errorf("secevent: signer: %w", err)
	}
	payload, err := json.Marshal(t)
	if err != nil {
		return "", fmt.Errorf("secevent: encode: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("secevent: sign: %w", err)
	}
	return jws.CompactSerialize()
}

// Parse verifies a compact SET against keys (the transmitter's JWKS) and
// checks what a receiver must: ES256, typ secevent+jwt, a kid found in
// keys, iss equal to issuer, audience among aud, no sub, no exp, one event.
func Parse(compact string, keys jose.JSONWebKeySet, issuer, audience string) (*Token, error) {
	jws, err := jose.ParseSigned(compact, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return nil, invalid("%v", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, invalid("one signature expected")
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, Type) && !strings.EqualFold(typ, "application/"+Type) {
		return nil, invalid("typ %q", typ)
	}
	found := keys.Key(h.KeyID)
	if len(found) == 0 {
		return nil, ErrSignature
	}
	payload, err := jws.Verify(found[0].Key)
	if err != nil {
		return nil, ErrSignature
	}
	var forbidden struct {
		Sub any `json:"sub"`
		Exp any `json:"exp"`
	}
	if err := json.Unmarshal(payload, &forbidden); err != nil {
		return nil, invalid("claims: %v", err)
	}
	if forbidden.Sub != nil || forbidden.Exp != nil {
		return nil, invalid("sub and exp are not allowed")
	}
	var t Token
	if err := json.Unmarshal(payload, &t); err != nil {
		return nil, invalid("claims: %v", err)
	}
	if err := t.Valid(); err != nil {
		return nil, err
	}
	if t.Issuer != issuer {
		return nil, invalid("iss %q, want %q", t.Issuer, issuer)
	}
	if !slices.Contains(t.Audience, audience) {
		return nil, invalid("audience %q not in aud", audience)
	}
	return &t, nil
}
