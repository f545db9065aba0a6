package approval

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"gatehouse/internal/factor/push"
	"gatehouse/internal/strictjson"
)

// Decision is the owner's answer.
type Decision string

// The decisions.
const (
	Approve Decision = "approve"
	Deny    Decision = "deny"
)

// MaxAnswerSize caps the body of a phone's answer.
const MaxAnswerSize = 2048

// ErrAnswer reports a phone answer that breaks the wire format or whose
// signature does not verify.
var ErrAnswer = errors.New("approval: malformed or unsigned answer")

// Answer is the phone's signed answer to an approval.
type Answer struct {
	ApprovalID string
	Decision   Decision
	// Hash is the hash of the details the phone showed; it must be the
	// approval's, so a phone shown other details cannot approve these.
	Hash     string
	SignedAt time.Time // whole seconds
}

// phoneDomain starts every message a phone signs for an approval, so a
// signature made here can never pass for a push response or anything
// else the device key signs.
const phoneDomain = "gatehouse-approval-v1\n"

func (a Answer) check() error {
	if len(a.ApprovalID) == 0 || len(a.ApprovalID) > 64 {
		return fmt.Errorf("%w: approval id", ErrAnswer)
	}
	for i := 0; i < len(a.ApprovalID); i++ {
		c := a.ApprovalID[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%w: approval id", ErrAnswer)
		}
	}
	if a.Decision != Approve && a.Decision != Deny {
		return fmt.Errorf("%w: decision", ErrAnswer)
	}
	if len(a.Hash) != 64 || hex.EncodeToString(mustHex(a.Hash)) != a.Hash {
		return fmt.Errorf("%w: hash is not lower-case hex SHA-256", ErrAnswer)
	}
	if u := a.SignedAt.Unix(); u <= 0 || u > 253402300799 || a.SignedAt.Nanosecond() != 0 {
		return fmt.Errorf("%w: signed_at", ErrAnswer)
	}
	return nil
}

func mustHex(s string) []byte {
	b, _ := hex.DecodeString(s)
	return b
}

// PhoneMessage returns the exact bytes a phone signs for an answer:
//
//	gatehouse-approval-v1\n
//	approval_id=<ApprovalID>\n
//	decision=<approve|deny>\n
//	hash=<Hash, lower-case hex>\n
//	signed_at=<Unix seconds>\n
//
// The phone signs their SHA-256 with its P-256 device key (ASN.1 DER
// ECDSA), as it signs push responses. The fields are checked first, so
// none can hold a newline and forge a line.
func PhoneMessage(a Answer) ([]byte, error) {
	if err := a.check(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(phoneDomain)
	b.WriteString("approval_id=" + a.ApprovalID + "\n")
	b.WriteString("decision=" + string(a.Decision) + "\n")
	b.WriteString("hash=" + a.Hash + "\n")
	b.WriteString("signed_at=" + strconv.FormatInt(a.SignedAt.Unix(), 10) + "\n")
	return b.Bytes(), nil
}

// SignAnswer signs a as the phone does; the reference for phone
// implementers, used by the command-line authenticator and tests.
func SignAnswer(priv *ecdsa.PrivateKey, a Answer) ([]byte, error) {
	if priv == nil || priv.Curve != elliptic.P256() {
		return nil, ErrAnswer
	}
	msg, err := PhoneMessage(a)
	if err != nil {
		return nil, err
	}
	return push.SignMessage(priv, msg)
}

// VerifyAnswer checks that sig is pub's signature of [PhoneMessage](a).
func VerifyAnswer(pub *ecdsa.PublicKey, a Answer, sig []byte) error {
	if pub == nil || pub.Curve != elliptic.P256() {
		return ErrAnswer
	}
	msg, err := PhoneMessage(a)
	if err != nil {
		return err
	}
	if push.VerifyMessage(pub, msg, sig) != nil {
		return fmt.Errorf("%w: bad signature", ErrAnswer)
	}
	return nil
}

type wireAnswer struct {
	ApprovalID *string   `json:"approval_id"`
	Decision   *Decision `json:"decision"`
	Hash       *string   `json:"hash"`
	SignedAt   *int64    `json:"signed_at"`
	Signature  *string   `json:"signature"`
}

// DecodeAnswer parses the body a phone posts:
//
//	{"approval_id":"…","decision":"approve","hash":"<hex>",
//	 "signed_at":1735689600,"signature":"<standard base64 of the DER signature>"}
//
// strictly (every field present, no other, no duplicate or case-variant
// key, at most MaxAnswerSize bytes). It does not check the signature.
func DecodeAnswer(body []byte) (Answer, []byte, error) {
	if len(body) > MaxAnswerSize {
		return Answer{}, nil, fmt.Errorf("%w: too large", ErrAnswer)
	}
	var w wireAnswer
	if err := strictjson.Unmarshal(body, &w); err != nil {
		return Answer{}, nil, fmt.Errorf("%w: %v", ErrAnswer, err)
	}
	if w.ApprovalID == nil || w.Decision == nil || w.Hash == nil || w.SignedAt == nil || w.Signature == nil {
		return Answer{}, nil, fmt.Errorf("%w: missing field", ErrAnswer)
	}
	if *w.SignedAt <= 0 || *w.SignedAt > 253402300799 {
		return Answer{}, nil, fmt.Errorf("%w: signed_at", ErrAnswer)
	}
	a := Answer{ApprovalID: *w.ApprovalID, Decision: *w.Decision, Hash: *w.Hash, SignedAt: time.Unix(*w.SignedAt, 0).UTC()}
	if err := a.check(); err != nil {
		return Answer{}, nil, err
	}
	if len(*w.Signature) > 100 {
		return Answer{}, nil, fmt.Errorf("%w: signature", ErrAnswer)
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(*w.Signature)
	if err != nil || len(sig) == 0 || len(sig) > 72 {
		return Answer{}, nil, fmt.Errorf("%w: signature", ErrAnswer)
	}
	return a, sig, nil
}

// MarshalAnswer returns the body DecodeAnswer reads.
func MarshalAnswer(a Answer, sig []byte) ([]byte, error) {
	if err := a.check(); err != nil {
		return nil, err
	}
	s := base64.StdEncoding.EncodeToString(sig)
	u := a.SignedAt.Unix()
	return json.Marshal(wireAnswer{ApprovalID: &a.ApprovalID, Decision: &a.Decision, Hash: &a.Hash, SignedAt: &u, Signature: &s})
}

// WebAuthnChallenge returns the challenge of a WebAuthn assertion that
// approves: SHA-256(hash bytes || nonce). A security key's signature
// over it proves its holder was asked about exactly these details; the
// server's nonce makes every ceremony's challenge new.
func WebAuthnChallenge(hash string, nonce []byte) ([]byte, error) {
	h, err := hex.DecodeString(hash)
	if err != nil || len(h) != sha256.Size {
		return nil, fmt.Errorf("approval: hash is not hex SHA-256")
	}
	s := sha256.New()
	s.Write(h)
	s.Write(nonce)
	return s.Sum(nil), nil
}
