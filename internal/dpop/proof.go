package dpop

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejson "github.com/go-jose/go-jose/v4/json"
)

// MaxProofSize is the largest proof, in bytes, that [ParseProof] accepts.
// A P-256 proof is about 500 bytes; the cap bounds the work an attacker can
// make the parser do before any signature has been checked.
const MaxProofSize = 4 << 10

// MaxIDLength is the longest "jti" that [ParseProof] accepts. Honest clients
// send 16 to 43 characters; the bound keeps replay-cache keys cheap to hash.
const MaxIDLength = 256

// maxMethodLength bounds "htm": no registered HTTP method comes close.
const maxMethodLength = 32

// Default windows for [Proof.Check] and [ReplayCache].
const (
	// DefaultMaxAge is how old a proof's "iat" may be when [Expect.MaxAge] is zero.
	DefaultMaxAge = 60 * time.Second
	// DefaultMaxSkew is how far in the future a proof's "iat" may be when
	// [Expect.MaxSkew] is zero: it absorbs small client clock drift.
	DefaultMaxSkew = 5 * time.Second
)

// Type is the JOSE "typ" header value of a DPoP proof.
const Type = "dpop+jwt"

// Errors returned by [ParseProof] and [Proof.Check]. They are wrapped with
// detail; test for them with [errors.Is]. None of the details contains the
// access token or its hash.
var (
	// ErrMalformed means the proof is not a well-formed DPoP proof: too large,
	// not a compact JWS, wrong "typ", no usable "jwk", or bad claims.
	ErrMalformed = errors.New("dpop: malformed proof")
	// ErrUnsupportedAlg means the proof's "alg", or its key type, is not one
	// that gatehouse accepts (ES256, ES384, EdDSA). "none", HS* and RSA are
	// always refused.
	ErrUnsupportedAlg = errors.New("dpop: unsupported algorithm")
	// ErrSignature means the proof's signature does not verify with the key
	// embedded in it.
	ErrSignature = errors.New("dpop: invalid signature")
	// ErrMismatch means "htm" or "htu" does not name the request it came with.
	ErrMismatch = errors.New("dpop: htm or htu does not match the request")
	// ErrStale means "iat" is older than the accepted age or too far in the future.
	ErrStale = errors.New("dpop: iat outside the accepted window")
	// ErrKeyMismatch means the proof is signed by a key other than the one the
	// session is bound to.
	ErrKeyMismatch = errors.New("dpop: proof key is not the session key")
	// ErrTokenHash means "ath" does not match the access token, is missing
	// when a token is presented, or is present when none is.
	ErrTokenHash = errors.New("dpop: ath does not match the access token")
)

// allowedAlgs is passed to go-jose so that any other "alg" (notably "none"
// and HS256, whose "key" would be attacker-chosen) fails before the
// signature is looked at.
var allowedAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.EdDSA}

// Proof is a DPoP proof whose structure and signature have been verified by
// [ParseProof]. It has not been checked against a request: call [Proof.Check],
// then record it in a [ReplayCache].
type Proof struct {
	// JKT is the RFC 7638 SHA-256 thumbprint of the proof's public key,
	// base64url without padding: the value a session is bound to.
	JKT string
	// ID is the "jti" claim: unique per proof, the replay-cache key.
	ID string
	// Method is the "htm" claim, e.g. "GET".
	Method string
	// URL is the "htu" claim as sent: an absolute http or https URL.
	URL string
	// IssuedAt is the "iat" claim.
	IssuedAt time.Time
	// ATH is the "ath" claim (see [TokenHash]), or "" when absent.
	ATH string
	// Nonce is the "nonce" claim, or "" when absent. gatehouse issues no
	// DPoP nonces today; it is returned for callers that do.
	Nonce string
}

// claims is the proof payload. Pointers tell an absent claim from an empty
// one; go-jose's json matches names case-sensitively and refuses duplicate
// members, so {"htu":…,"HTU":…} cannot smuggle a second value past us.
type claims struct {
	JTI   *string  `json:"jti"`
	HTM   *string  `json:"htm"`
	HTU   *string  `json:"htu"`
	IAT   *float64 `json:"iat"`
	ATH   *string  `json:"ath"`
	Nonce *string  `json:"nonce"`
}

// ParseProof parses the compact JWS s as a DPoP proof and verifies its
// signature with the public key embedded in its "jwk" header.
//
// It refuses (with [ErrMalformed]) proofs larger than [MaxProofSize], a
// "typ" other than "dpop+jwt", a missing, private or symmetric "jwk", a
// "crit" or "b64" header, and claims that are missing or mistyped ("jti"
// non-empty and at most [MaxIDLength] bytes, "htm" an HTTP token, "htu" an
// absolute http(s) URL without user info, "iat" a number, "ath" if present a
// base64url SHA-256), and a key that does not fit the "alg" (a P-384 key
// under ES256, say). An "alg" other than ES256, ES384 or EdDSA, or a key of
// another type (RSA, P-521), gives [ErrUnsupportedAlg]; a bad signature
// gives [ErrSignature].
//
// A nil error says only that the holder of the key signed these claims; the
// caller must still call [Proof.Check] and a [ReplayCache].
func ParseProof(s string) (*Proof, error) {
	if len(s) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrMalformed)
	}
	if len(s) > MaxProofSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrMalformed, MaxProofSize)
	}
	jws, err := jose.ParseSignedCompact(s, allowedAlgs)
	if err != nil {
		if _, ok := errors.AsType[*jose.ErrUnexpectedSignatureAlgorithm](err); ok {
			return nil, fmt.Errorf("%w: %v", ErrUnsupportedAlg, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(jws.Signatures) != 1 {
		return nil, fmt.Errorf("%w: want one signature", ErrMalformed)
	}
	h := jws.Signatures[0].Header
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != Type {
		return nil, fmt.Errorf("%w: typ is not %q", ErrMalformed, Type)
	}
	// go-jose accepts "crit": ["b64"] with "b64": false (RFC 7797), which
	// changes what is signed. No DPoP client needs it; refuse any extension.
	if _, ok := h.ExtraHeaders["crit"]; ok {
		return nil, fmt.Errorf("%w: crit header", ErrMalformed)
	}
	if _, ok := h.ExtraHeaders["b64"]; ok {
		return nil, fmt.Errorf("%w: b64 header", ErrMalformed)
	}
	jwk := h.JSONWebKey
	if jwk == nil {
		return nil, fmt.Errorf("%w: no jwk header", ErrMalformed)
	}
	// go-jose already refuses private and symmetric embedded keys; checking
	// again keeps that guarantee here if the library ever changes.
	if !jwk.Valid() || !jwk.IsPublic() {
		return nil, fmt.Errorf("%w: jwk is not a public key", ErrMalformed)
	}
	if err := keyFitsAlg(jwk.Key, h.Algorithm); err != nil {
		return nil, err
	}
	payload, err := jws.Verify(jwk.Key)
	if err != nil {
		return nil, ErrSignature
	}

	var c claims
	if err := josejson.Unmarshal(payload, &c); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	p := &Proof{}
	switch {
	case c.JTI == nil || *c.JTI == "":
		return nil, fmt.Errorf("%w: no jti", ErrMalformed)
	case len(*c.JTI) > MaxIDLength:
		return nil, fmt.Errorf("%w: jti longer than %d bytes", ErrMalformed, MaxIDLength)
	case c.HTM == nil || !isToken(*c.HTM) || len(*c.HTM) > maxMethodLength:
		return nil, fmt.Errorf("%w: htm is not an HTTP method", ErrMalformed)
	case c.HTU == nil:
		return nil, fmt.Errorf("%w: no htu", ErrMalformed)
	case c.IAT == nil:
		return nil, fmt.Errorf("%w: no iat", ErrMalformed)
	case c.ATH != nil && !isTokenHash(*c.ATH):
		return nil, fmt.Errorf("%w: ath is not a base64url SHA-256", ErrMalformed)
	}
	if _, ok := normalizeHTU(*c.HTU); !ok {
		return nil, fmt.Errorf("%w: htu is not an absolute http(s) URL", ErrMalformed)
	}
	iat, ok := numericDate(*c.IAT)
	if !ok {
		return nil, fmt.Errorf("%w: iat out of range", ErrMalformed)
	}
	jkt, err := Thumbprint(jwk.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupportedAlg, err)
	}
	p.JKT = jkt
	p.ID = *c.JTI
	p.Method = *c.HTM
	p.URL = *c.HTU
	p.IssuedAt = iat
	if c.ATH != nil {
		p.ATH = *c.ATH
	}
	if c.Nonce != nil {
		p.Nonce = *c.Nonce
	}
	return p, nil
}

// keyFitsAlg reports, as an error, whether key is of a type gatehouse accepts
// and is the one that alg names. go-jose would refuse most mismatches at
// Verify time, but as a signature error; this names them for what they are.
func keyFitsAlg(key any, alg string) error {
	var want jose.SignatureAlgorithm
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			want = jose.ES256
		case elliptic.P384():
			want = jose.ES384
		default:
			return fmt.Errorf("%w: curve %s", ErrUnsupportedAlg, k.Curve.Params().Name)
		}
	case ed25519.PublicKey:
		want = jose.EdDSA
	default:
		return fmt.Errorf("%w: key type %T", ErrUnsupportedAlg, key)
	}
	if string(want) != alg {
		return fmt.Errorf("%w: alg %q does not fit the %s key", ErrMalformed, alg, want)
	}
	return nil
}

// numericDate converts a JWT NumericDate (seconds, possibly fractional) to a
// time. It refuses negative values and values past the year 5000, which keeps
// the conversion exact enough and far from overflowing time.Duration maths.
func numericDate(f float64) (time.Time, bool) {
	const maxSeconds = 95617584000 // 5000-01-01T00:00:00Z
	if !(f >= 0 && f < maxSeconds) {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
}

// isToken reports whether s is a non-empty RFC 9110 token, the syntax of an
// HTTP method.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '!' || c == '#' || c == '$' || c == '%' || c == '&' || c == '\'' ||
			c == '*' || c == '+' || c == '-' || c == '.' || c == '^' || c == '_' ||
			c == '`' || c == '|' || c == '~':
		default:
			return false
		}
	}
	return true
}

// tokenHashLen is the length of an unpadded base64url SHA-256 digest.
const tokenHashLen = 43

// isTokenHash reports whether s has the shape of [TokenHash]'s output.
func isTokenHash(s string) bool {
	if len(s) != tokenHashLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// TokenHash returns the "ath" value for an access token: the unpadded
// base64url SHA-256 of its ASCII bytes (RFC 9449 §4.2).
func TokenHash(token string) string {
	var buf [tokenHashLen]byte
	tokenHash(&buf, token)
	return string(buf[:])
}

func tokenHash(dst *[tokenHashLen]byte, token string) {
	sum := sha256.Sum256([]byte(token))
	base64.RawURLEncoding.Encode(dst[:], sum[:])
}

// Expect describes the request a proof must match. The zero values of MaxAge
// and MaxSkew select the defaults; Now must be set.
type Expect struct {
	// Method is the request's HTTP method, compared case-sensitively with
	// "htm" (RFC 9110 methods are case-sensitive).
	Method string
	// URL is the request's absolute URL as the client addressed it (for
	// forward-auth, rebuilt from what the reverse proxy forwards). Query and
	// fragment are ignored.
	URL string
	// AccessToken is the token from "Authorization: DPoP <token>", or "" at
	// login. When set, "ath" must be its [TokenHash]. When empty, "ath" must
	// be absent: a proof made to accompany a token is never a login proof.
	AccessToken string
	// JKT is the thumbprint the session is bound to, or "" at login, where
	// the proof's own key is what the new session will be bound to.
	JKT string
	// Now is the time of the request.
	Now time.Time
	// MaxAge is how old "iat" may be; zero or negative means [DefaultMaxAge].
	// A [ReplayCache] must keep entries at least this long.
	MaxAge time.Duration
	// MaxSkew is how far in the future "iat" may be; zero or negative means
	// [DefaultMaxSkew].
	MaxSkew time.Duration
}

// Check reports, as an error, whether p is a proof for the request that c
// describes (RFC 9449 §4.3 and §7.1): the session's key ([ErrKeyMismatch]),
// the access token's hash ([ErrTokenHash]), the method and URL
// ([ErrMismatch]) and the issue time ([ErrStale]). It does not detect
// replays: that is [ReplayCache.Seen], called after Check succeeds.
//
// "htu" is compared as RFC 9449 §4.3 asks: without query and fragment, after
// syntax- and scheme-based normalisation (case of scheme and host, default
// port, empty path, percent-encoding, dot segments).
func (p *Proof) Check(c Expect) error {
	if c.JKT != "" && p.JKT != c.JKT {
		return ErrKeyMismatch
	}
	if c.AccessToken == "" {
		if p.ATH != "" {
			return fmt.Errorf("%w: ath present without an access token", ErrTokenHash)
		}
	} else {
		var want [tokenHashLen]byte
		tokenHash(&want, c.AccessToken)
		if !equalHash(p.ATH, &want) {
			return ErrTokenHash
		}
	}
	if p.Method != c.Method {
		return fmt.Errorf("%w: htm %q, request %q", ErrMismatch, p.Method, c.Method)
	}
	if !sameHTU(p.URL, c.URL) {
		return fmt.Errorf("%w: htu %q, request %q", ErrMismatch, stripQuery(p.URL), stripQuery(c.URL))
	}
	maxAge, maxSkew := c.MaxAge, c.MaxSkew
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	if maxSkew <= 0 {
		maxSkew = DefaultMaxSkew
	}
	if p.IssuedAt.Before(c.Now.Add(-maxAge)) {
		return fmt.Errorf("%w: issued %v before now", ErrStale, c.Now.Sub(p.IssuedAt).Round(time.Second))
	}
	if p.IssuedAt.After(c.Now.Add(maxSkew)) {
		return fmt.Errorf("%w: issued %v in the future", ErrStale, p.IssuedAt.Sub(c.Now).Round(time.Second))
	}
	return nil
}

// equalHash compares without an early exit. Neither side is secret (the
// client sends both the token and its hash), so this is belt and braces, but
// it costs nothing and needs no allocation.
func equalHash(got string, want *[tokenHashLen]byte) bool {
	if len(got) != tokenHashLen {
		return false
	}
	var v byte
	for i := range want {
		v |= got[i] ^ want[i]
	}
	return v == 0
}
