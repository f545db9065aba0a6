package push

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"gatehouse/internal/strictjson"
)

// Decision is the user's answer on the phone.
type Decision string

const (
	// Approve means the login is the user's own; the Number must match.
	Approve Decision = "approve"
	// Deny means the user refuses the login.
	Deny Decision = "deny"
	// Report means the user refuses the login and reports it as an attack;
	// answering a notice, "This wasn't me": freeze the account.
	Report Decision = "report"
	// Seen answers a notice: the phone has it and showed it. It decides
	// no login ([Challenge.Judge] takes it for a malformed answer).
	Seen Decision = "seen"
)

const (
	// MaxBodySize caps the JSON body DecodeResponse and DecodeRegistration read.
	MaxBodySize = 2048
	// maxIDLen bounds a challenge id on the wire; NewChallenge makes 22.
	maxIDLen = 64
	// maxSigLen is the longest ASN.1 DER ECDSA P-256 signature.
	maxSigLen = 72
	// maxUnix is 9999-12-31T23:59:59Z, the end of sane SignedAt values.
	maxUnix = 253402300799
)

// domain starts every signed response message, so a signature made for a
// push response can never be taken for anything else the key signs.
const domain = "gatehouse-push-v1\n"

var (
	// ErrMalformed reports a Response or body that breaks the wire format.
	ErrMalformed = errors.New("push: malformed response or registration")
	// ErrTooLarge reports a body above MaxBodySize.
	ErrTooLarge = errors.New("push: response body too large")
	// ErrSignature reports a signature that does not verify.
	ErrSignature = errors.New("push: bad signature")
	// ErrKey reports a key that is not an ECDSA P-256 key, or an encoding
	// that is not base64 of PKIX DER.
	ErrKey = errors.New("push: key must be an ECDSA P-256 public key, PKIX DER in base64")
)

// Response is the phone's signed answer to a Challenge.
type Response struct {
	// ChallengeID is the ID from the Prompt.
	ChallengeID string
	// Decision is approve, deny or report.
	Decision Decision
	// Number is what the user typed: the Number from the login screen, or 0
	// when the user denies or reports without typing one.
	Number int
	// SignedAt is when the phone signed, in whole seconds.
	SignedAt time.Time
}

func idChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

func (r Response) check() error {
	if len(r.ChallengeID) == 0 || len(r.ChallengeID) > maxIDLen {
		return fmt.Errorf("%w: challenge id length %d", ErrMalformed, len(r.ChallengeID))
	}
	for i := 0; i < len(r.ChallengeID); i++ {
		if !idChar(r.ChallengeID[i]) {
			return fmt.Errorf("%w: challenge id is not base64url", ErrMalformed)
		}
	}
	switch r.Decision {
	case Approve, Deny, Report, Seen:
	default:
		return fmt.Errorf("%w: decision %q", ErrMalformed, r.Decision)
	}
	if r.Number < 0 || r.Number > 99 {
		return fmt.Errorf("%w: number %d", ErrMalformed, r.Number)
	}
	if u := r.SignedAt.Unix(); u <= 0 || u > maxUnix || r.SignedAt.Nanosecond() != 0 {
		return fmt.Errorf("%w: signed_at must be whole seconds after 1970", ErrMalformed)
	}
	return nil
}

// Message returns the exact bytes a phone signs for a Response:
//
//	gatehouse-push-v1\n
//	challenge_id=<ChallengeID>\n
//	decision=<Decision>\n
//	number=<Number in decimal>\n
//	signed_at=<SignedAt in Unix seconds, decimal>\n
//
// with no other white space. The fields are checked first (ErrMalformed), so
// no field can contain a newline and forge another line. The phone signs the
// SHA-256 of these bytes with ECDSA P-256 ("SHA256withECDSA" on Android,
// ecdsaSignatureMessageX962SHA256 on iOS), giving an ASN.1 DER signature.
func Message(r Response) ([]byte, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(domain)
	b.WriteString("challenge_id=" + r.ChallengeID + "\n")
	b.WriteString("decision=" + string(r.Decision) + "\n")
	b.WriteString("number=" + strconv.Itoa(r.Number) + "\n")
	b.WriteString("signed_at=" + strconv.FormatInt(r.SignedAt.Unix(), 10) + "\n")
	return b.Bytes(), nil
}

func isP256(pub *ecdsa.PublicKey) bool {
	return pub != nil && pub.Curve == elliptic.P256()
}

// Sign signs a Response with a P-256 private key as the phone does and
// returns the ASN.1 DER signature. Gatehouse itself never signs responses;
// Sign is the reference for phone implementers and serves tests.
func Sign(priv *ecdsa.PrivateKey, resp Response) ([]byte, error) {
	if priv == nil || !isP256(&priv.PublicKey) {
		return nil, ErrKey
	}
	msg, err := Message(resp)
	if err != nil {
		return nil, err
	}
	return SignMessage(priv, msg)
}

// Verify checks that sig is pub's ASN.1 DER ECDSA signature of
// [Message](resp).
func Verify(pub *ecdsa.PublicKey, resp Response, sig []byte) error {
	if !isP256(pub) {
		return ErrKey
	}
	msg, err := Message(resp)
	if err != nil {
		return err
	}
	return VerifyMessage(pub, msg, sig)
}

// SignMessage makes the phone's device-key signature of msg: ECDSA P-256
// over its SHA-256, ASN.1 DER. Every message a phone signs (a push
// response, an approval's answer) starts with its own domain line, so a
// signature made for one can never be taken for another.
func SignMessage(priv *ecdsa.PrivateKey, msg []byte) ([]byte, error) {
	if priv == nil || !isP256(&priv.PublicKey) {
		return nil, ErrKey
	}
	digest := sha256.Sum256(msg)
	sig, err := ecdsa.SignASN1(rand.Reader, priv, digest[:])
	if err != nil {
		return nil, fmt.Errorf("push: sign: %w", err)
	}
	return sig, nil
}

// VerifyMessage checks that sig is pub's device-key signature of msg (see
// [SignMessage]).
func VerifyMessage(pub *ecdsa.PublicKey, msg, sig []byte) error {
	if !isP256(pub) {
		return ErrKey
	}
	digest := sha256.Sum256(msg)
	if !ecdsa.VerifyASN1(pub, digest[:], sig) {
		return ErrSignature
	}
	return nil
}

// wireResponse is the JSON form. Pointers tell a missing field from a zero
// one: every field is required.
type wireResponse struct {
	ChallengeID *string   `json:"challenge_id"`
	Decision    *Decision `json:"decision"`
	Number      *int      `json:"number"`
	SignedAt    *int64    `json:"signed_at"`
	Signature   *string   `json:"signature"`
}

// DecodeResponse parses the body a phone posts:
//
//	{"challenge_id":"…","decision":"approve","number":42,
//	 "signed_at":1735689600,"signature":"<standard base64 of the DER signature>"}
//
// It is strict: at most MaxBodySize bytes, one JSON object, every field
// present and not null, no unknown field, number 0–99, signed_at in whole
// Unix seconds. It does not check the signature; [Verify] does, once the
// caller has found the device key.
//
// Duplicate keys and keys that differ from a field name only in case are
// refused: the signature covers the values, but a log or a proxy must read
// the same answer as gatehouse.
func DecodeResponse(body []byte) (Response, []byte, error) {
	if len(body) > MaxBodySize {
		return Response{}, nil, ErrTooLarge
	}
	var w wireResponse
	if err := decodeStrict(body, &w); err != nil {
		return Response{}, nil, err
	}
	if w.ChallengeID == nil || w.Decision == nil || w.Number == nil || w.SignedAt == nil || w.Signature == nil {
		return Response{}, nil, fmt.Errorf("%w: missing field", ErrMalformed)
	}
	if *w.SignedAt <= 0 || *w.SignedAt > maxUnix {
		return Response{}, nil, fmt.Errorf("%w: signed_at out of range", ErrMalformed)
	}
	resp := Response{
		ChallengeID: *w.ChallengeID,
		Decision:    *w.Decision,
		Number:      *w.Number,
		SignedAt:    time.Unix(*w.SignedAt, 0).UTC(),
	}
	if err := resp.check(); err != nil {
		return Response{}, nil, err
	}
	if len(*w.Signature) > base64.StdEncoding.EncodedLen(maxSigLen) || !base64Text(*w.Signature) {
		return Response{}, nil, fmt.Errorf("%w: signature is not base64 of at most 72 bytes", ErrMalformed)
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(*w.Signature)
	if err != nil || len(sig) == 0 {
		return Response{}, nil, fmt.Errorf("%w: signature is not base64", ErrMalformed)
	}
	return resp, sig, nil
}

// MarshalResponse returns the JSON body DecodeResponse reads: the phone's
// side of the wire format, for reference and tests.
func MarshalResponse(resp Response, sig []byte) ([]byte, error) {
	if err := resp.check(); err != nil {
		return nil, err
	}
	if len(sig) == 0 || len(sig) > maxSigLen {
		return nil, fmt.Errorf("%w: signature length %d", ErrMalformed, len(sig))
	}
	s := base64.StdEncoding.EncodeToString(sig)
	u := resp.SignedAt.Unix()
	return json.Marshal(wireResponse{
		ChallengeID: &resp.ChallengeID,
		Decision:    &resp.Decision,
		Number:      &resp.Number,
		SignedAt:    &u,
		Signature:   &s,
	})
}

// decodeStrict decodes exactly one JSON value into v, refusing unknown
// fields, trailing data, duplicate or case-variant keys and invalid text.
func decodeStrict(body []byte, v any) error {
	if err := strictjson.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}
