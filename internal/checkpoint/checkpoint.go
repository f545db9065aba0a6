// Package checkpoint signs and checks audit checkpoints: the head of the
// audit chain (its sequence number and hash, and when it was read),
// written outside the database, so that a chain later cut short or
// rewritten and re-sealed is found out. The chain itself ([audit.Verify])
// cannot see either: a tail removed leaves a shorter chain that holds,
// and a history rewritten from some event on by someone who can seal
// events holds too.
//
// A checkpoint is one line of JSON, readable as it stands, whose
// signature is a compact JWS (ES256, with the key id in its header) of
// the same claims, signed with the server's Shared Signals keys
// ([secevent.Key]): the same keys every instance holds and publishes at
// /.well-known/jwks.json. Only the signed claims count when checking.
package checkpoint

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"gatehouse/internal/audit"
	"gatehouse/internal/secevent"
)

// Type is the typ header of a checkpoint's JWS.
const Type = "gatehouse-audit-checkpoint+jwt"

// Checkpoint is the head of the audit chain at Time: the event Seq and
// its Hash. Seq 0 (no Hash) is an empty chain.
type Checkpoint struct {
	Issuer string    `json:"iss"`
	Seq    int64     `json:"seq"`
	Hash   string    `json:"hash"` // hex
	Time   time.Time `json:"time"`
}

// Line is a checkpoint as written: its claims and their signature.
type Line struct {
	Checkpoint
	Signature string `json:"signature"`
}

// Head is the checkpoint of the chain whose last event is head (nil for
// an empty chain) at now.
func Head(head *audit.Event, issuer string, now time.Time) Checkpoint {
	cp := Checkpoint{Issuer: issuer, Time: now.UTC().Truncate(time.Second)}
	if head != nil {
		cp.Seq, cp.Hash = head.Seq, hex.EncodeToString(head.Hash)
	}
	return cp
}

// Sign returns cp as a line (JSON, no newline), signed with k.
func Sign(cp Checkpoint, k secevent.Key) ([]byte, error) {
	if k.Private == nil || k.Private.Curve != elliptic.P256() || k.ID == "" {
		return nil, errors.New("checkpoint: signing needs a P-256 key with an id")
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: k.Private, KeyID: k.ID}},
		(&jose.SignerOptions{}).WithType(Type))
	if err != nil {
		return nil, fmt.Errorf("checkpoint: signer: %w", err)
	}
	payload, err := json.Marshal(cp)
	if err != nil {
		return nil, err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: sign: %w", err)
	}
	sig, err := jws.CompactSerialize()
	if err != nil {
		return nil, err
	}
	return json.Marshal(Line{Checkpoint: cp, Signature: sig})
}

// ErrSignature is returned for a checkpoint whose signature does not
// verify with any of the keys, or whose readable claims differ from the
// signed ones.
var ErrSignature = errors.New("checkpoint: bad signature")

// Parse reads one line and returns its signed claims, checked against
// keys (any of them may have signed: an old key stays listed after a
// rotation so that its checkpoints still verify).
func Parse(line []byte, keys []secevent.Key) (Checkpoint, error) {
	var l Line
	if err := json.Unmarshal(line, &l); err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint: not a checkpoint line: %w", err)
	}
	jws, err := jose.ParseSigned(l.Signature, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil || len(jws.Signatures) != 1 {
		return Checkpoint{}, ErrSignature
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != Type {
		return Checkpoint{}, ErrSignature
	}
	var pub *ecdsa.PublicKey
	for _, k := range keys {
		if k.ID == h.KeyID && k.Private != nil {
			pub = &k.Private.PublicKey
		}
	}
	if pub == nil {
		return Checkpoint{}, fmt.Errorf("%w: signed with key %q, which is not configured", ErrSignature, h.KeyID)
	}
	payload, err := jws.Verify(pub)
	if err != nil {
		return Checkpoint{}, ErrSignature
	}
	var cp Checkpoint
	if err := json.Unmarshal(payload, &cp); err != nil {
		return Checkpoint{}, ErrSignature
	}
	if cp.Seq != l.Seq || cp.Hash != l.Hash || !cp.Time.Equal(l.Time) || cp.Issuer != l.Issuer {
		return Checkpoint{}, fmt.Errorf("%w: the readable claims differ from the signed ones", ErrSignature)
	}
	if cp.Seq < 0 || (cp.Seq == 0) != (cp.Hash == "") {
		return Checkpoint{}, fmt.Errorf("checkpoint: seq %d with hash %q", cp.Seq, cp.Hash)
	}
	return cp, nil
}

// ParseAll reads a file of lines, one checkpoint each (blank lines
// skipped), as [Parse] does.
func ParseAll(r io.Reader, keys []secevent.Key) ([]Checkpoint, error) {
	var out []Checkpoint
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		cp, err := Parse(line, keys)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, cp)
	}
	return out, sc.Err()
}

// ErrTruncated and ErrRewritten are wrapped by the errors of [Verify].
var (
	ErrTruncated = errors.New("checkpoint: the audit chain lost its tail")
	ErrRewritten = errors.New("checkpoint: the audit chain was rewritten")
)

// Verify walks the chain as [audit.Verify] does, and also checks it
// against each checkpoint: the chain must still reach the checkpoint's
// event ([ErrTruncated] otherwise) and that event must have the hash the
// checkpoint recorded ([ErrRewritten] otherwise). It returns the number
// of events checked.
func Verify(events iter.Seq2[*audit.Event, error], cps []Checkpoint) (int64, error) {
	want := map[int64]string{}
	for _, cp := range cps {
		if cp.Seq > 0 {
			want[cp.Seq] = cp.Hash
		}
	}
	got := map[int64]string{}
	var last int64
	seen := func(yield func(*audit.Event, error) bool) {
		for e, err := range events {
			if err == nil {
				last = e.Seq
				if _, ok := want[e.Seq]; ok {
					got[e.Seq] = hex.EncodeToString(e.Hash)
				}
			}
			if !yield(e, err) {
				return
			}
		}
	}
	n, err := audit.Verify(seen)
	if err != nil {
		return n, err
	}
	for _, cp := range cps {
		if cp.Seq == 0 {
			continue
		}
		h, ok := got[cp.Seq]
		switch {
		case !ok && cp.Seq > last:
			return n, fmt.Errorf("%w: it ends at event %d, the checkpoint of %s saw event %d", ErrTruncated, last, cp.Time.Format(time.RFC3339), cp.Seq)
		case h != cp.Hash:
			return n, fmt.Errorf("%w: event %d does not have the hash the checkpoint of %s recorded", ErrRewritten, cp.Seq, cp.Time.Format(time.RFC3339))
		}
	}
	return n, nil
}
