package store

import (
	"context"
	"time"
)

// Stream states (SSF 1.0 stream status).
const (
	StreamEnabled  = "enabled"
	StreamPaused   = "paused"
	StreamDisabled = "disabled"
)

// Stream is what a Shared Signals receiver has changed of its stream: the
// events it asks for, its description and its status. The operator
// configures the stream itself (audience, token, delivery); a stream that
// was never changed has no row, and the configuration's defaults hold.
type Stream struct {
	ID string
	// EventsRequested are event type URIs, as the receiver sent them
	// (unknown ones included: the transmitter ignores them).
	EventsRequested []string
	Description     string
	// Status is one of the Stream constants; Reason says why, "" for nothing.
	Status, Reason string
	// VerifiedAt is when the receiver last asked for a verification
	// event, or zero.
	VerifiedAt time.Time
	UpdatedAt  time.Time
}

// HeldSET is a Security Event Token waiting for its receiver: on a poll
// stream until the receiver acknowledges it, on a push stream while the
// stream is paused.
type HeldSET struct {
	StreamID string
	// JTI is the token's id, unique within the stream.
	JTI string
	// Event is the dotted type of the audit event it came from, or the
	// stream event's name (verification).
	Event string
	// Claims is the token's claims set as JSON, unsigned: it is signed
	// when it is sent, with the key that signs then.
	Claims    []byte
	CreatedAt time.Time
}

// Streams persists Shared Signals streams and the tokens they hold.
type Streams interface {
	// StreamByID returns a stream's state; ErrNotFound when it was never changed.
	StreamByID(ctx context.Context, id string) (*Stream, error)
	// PutStream stores a stream's state, replacing what was there.
	PutStream(ctx context.Context, s *Stream) error
	// HoldSET stores a token for its stream; ErrConflict when the stream
	// holds one of that JTI already.
	HoldSET(ctx context.Context, h *HeldSET) error
	// HeldSETs returns up to limit tokens of a stream, oldest first.
	HeldSETs(ctx context.Context, streamID string, limit int) ([]*HeldSET, error)
	// DropSETs removes the tokens of a stream named by jtis (ignoring
	// those it does not hold) and returns how many it removed.
	DropSETs(ctx context.Context, streamID string, jtis []string) (int, error)
}

// CleanStream cleans the receiver's text of a stream.
func CleanStream(s *Stream) {
	clean(&s.Description, &s.Reason)
	for i := range s.EventsRequested {
		clean(&s.EventsRequested[i])
	}
}
