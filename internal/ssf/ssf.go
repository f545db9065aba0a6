// Package ssf is gatehouse's Shared Signals transmitter (OpenID SSF 1.0):
// it turns audit events into Security Event Tokens carrying CAEP 1.0 and
// RISC 1.0 events, one per receiver that wants it, and serves the
// receivers' side of the framework: the transmitter configuration, the
// stream configuration and status, verification, push delivery (RFC 8935)
// through the outbox and poll delivery (RFC 8936).
//
// Streams are configured by the operator, one per receiver (its audience,
// a bearer token stored only as its SHA-256 hash, push or poll, the events
// it may have); a receiver cannot create or delete one, but reads its
// configuration, changes the events it asks for and its description,
// pauses, disables or enables it and asks for verification events.
//
// Subjects: a user is named by an iss_sub subject identifier whose iss is
// the transmitter's issuer and whose sub is gatehouse's user id
// (usr_…); a session by a complex subject of that user and an opaque
// session id. A stream's own events (verification) name the stream by an
// opaque id, its stream_id.
package ssf

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"gatehouse/internal/fault"
	"gatehouse/internal/secevent"
	"gatehouse/internal/store"
)

// Delivery methods (SSF 1.0 §6.1).
const (
	MethodPush = "urn:ietf:rfc:8935"
	MethodPoll = "urn:ietf:rfc:8936"
)

// Receiver is one configured receiver and its stream.
type Receiver struct {
	// ID is the stream's stream_id.
	ID string
	// Audience is the aud of every token sent to it.
	Audience []string
	// TokenHash is the SHA-256 of the bearer token the receiver presents
	// to the stream endpoints.
	//
	// Security: only the hash is kept; the token is compared in constant time.
	TokenHash [sha256.Size]byte
	// PushURL is where tokens are pushed; "" makes the stream a poll stream.
	PushURL string
	// PushAuthorization is the Authorization header sent with each push;
	// "" sends none.
	//
	// Security: a secret of the receiver's; never logged, never stored.
	PushAuthorization string
	// Events are the event type URIs the operator lets the receiver have
	// (its events_supported); the receiver chooses among them.
	Events []string
}

// Method returns the stream's delivery method.
func (r *Receiver) Method() string {
	if r.PushURL != "" {
		return MethodPush
	}
	return MethodPoll
}

// Store is what the transmitter needs of the store. Its InTx must be the
// store that derives outbox messages from audit events (see package
// emit), so that a stream change reaches the receiver's held tokens.
type Store interface {
	store.Streams
	InTx(ctx context.Context, fn func(store.Tx) error) error
}

// Transmitter is the Shared Signals transmitter. Its fields are set once,
// before use; it is then safe for concurrent use.
type Transmitter struct {
	// Issuer is the iss of every token and the transmitter's issuer.
	Issuer string
	// Origin is the public origin the endpoints are published under.
	Origin string
	// Keys sign tokens: the first signs, all are published (so that a key
	// being retired still verifies the tokens it signed).
	Keys      []secevent.Key
	Receivers []*Receiver
	// Store is set after the emitting store is made (the transmitter is
	// one of its derivers); nil until then.
	Store Store
	// Client pushes tokens; nil means a client that follows no redirect.
	Client *http.Client
	// MinVerificationInterval is the least time between two verification
	// requests of one stream; 0 means 10 seconds.
	MinVerificationInterval time.Duration
	// LongPoll bounds how long a poll that asks to wait for tokens is
	// held open; 0 means 20 seconds.
	LongPoll time.Duration
	// Rand makes token ids; nil means crypto/rand.Reader.
	Rand io.Reader
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log receives receivers' refusals; nil discards.
	Log *slog.Logger
}

func (t *Transmitter) now() time.Time {
	if t.Now != nil {
		return t.Now().UTC()
	}
	return time.Now().UTC()
}

func (t *Transmitter) log() *slog.Logger {
	if t.Log != nil {
		return t.Log
	}
	return slog.New(slog.DiscardHandler)
}

// receiver returns the configured receiver of a stream id, or nil.
func (t *Transmitter) receiver(id string) *Receiver {
	for _, r := range t.Receivers {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// errUnauthenticated is every refused bearer token: missing, malformed or
// unknown alike.
var errUnauthenticated = fault.New(fault.Unauthenticated, "ssf: no valid receiver token")

// Authenticate returns the receiver whose bearer token the Authorization
// header value carries.
//
// Security: the token's hash is compared with every receiver's, in
// constant time and without stopping at a match, so the time taken tells
// nothing of which receiver, if any, was close.
func (t *Transmitter) Authenticate(authorization string) (*Receiver, error) {
	scheme, tok, ok := strings.Cut(authorization, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" || len(tok) > 512 {
		return nil, errUnauthenticated
	}
	h := sha256.Sum256([]byte(tok))
	var found *Receiver
	for _, r := range t.Receivers {
		if subtle.ConstantTimeCompare(h[:], r.TokenHash[:]) == 1 {
			found = r
		}
	}
	if found == nil {
		return nil, errUnauthenticated
	}
	return found, nil
}

// Metadata is the transmitter configuration (SSF 1.0 §7.1), served at
// /.well-known/ssf-configuration.
type Metadata struct {
	SpecVersion              string       `json:"spec_version"`
	Issuer                   string       `json:"issuer"`
	JWKSURI                  string       `json:"jwks_uri"`
	DeliveryMethodsSupported []string     `json:"delivery_methods_supported"`
	ConfigurationEndpoint    string       `json:"configuration_endpoint"`
	StatusEndpoint           string       `json:"status_endpoint"`
	VerificationEndpoint     string       `json:"verification_endpoint"`
	AuthorizationSchemes     []AuthScheme `json:"authorization_schemes"`
	DefaultSubjects          string       `json:"default_subjects"`
}

// AuthScheme is an entry of authorization_schemes.
type AuthScheme struct {
	SpecURN string `json:"spec_urn"`
}

// Paths of the endpoints, under the public origin.
const (
	PathJWKS   = "/.well-known/jwks.json"
	PathStream = "/v1/ssf/stream"
	PathStatus = "/v1/ssf/status"
	PathVerify = "/v1/ssf/verify"
	PathPoll   = "/v1/ssf/poll"
)

// Metadata returns the transmitter configuration.
func (t *Transmitter) Metadata() Metadata {
	o := strings.TrimSuffix(t.Origin, "/")
	return Metadata{
		SpecVersion: "1_0", Issuer: t.Issuer, JWKSURI: o + PathJWKS,
		DeliveryMethodsSupported: []string{MethodPush, MethodPoll},
		ConfigurationEndpoint:    o + PathStream, StatusEndpoint: o + PathStatus, VerificationEndpoint: o + PathVerify,
		// Bearer tokens (RFC 6750), one per receiver, set by the operator.
		AuthorizationSchemes: []AuthScheme{{SpecURN: "urn:ietf:rfc:6750"}},
		// Every user is a subject of every stream: there is no subject
		// management.
		DefaultSubjects: "ALL",
	}
}

// JWKS returns the public keys that verify the tokens.
func (t *Transmitter) JWKS() []jose.JSONWebKey {
	out := make([]jose.JSONWebKey, 0, len(t.Keys))
	for _, k := range t.Keys {
		out = append(out, k.Public())
	}
	return out
}

// delivered returns the events a stream delivers: those the operator lets
// the receiver have that it requested, in the order of
// [secevent.Supported].
func delivered(r *Receiver, requested []string) []string {
	var out []string
	for _, e := range secevent.Supported() {
		if slices.Contains(r.Events, e) && slices.Contains(requested, e) {
			out = append(out, e)
		}
	}
	return out
}
