package ssf

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/fault"
	"gatehouse/internal/secevent"
	"gatehouse/internal/store"
)

// Delivery is a stream's delivery (SSF 1.0 §6.1).
type Delivery struct {
	Method      string `json:"method"`
	EndpointURL string `json:"endpoint_url,omitempty"`
}

// StreamConfig is a stream's configuration as a receiver reads it (SSF
// 1.0 §8.1.1).
type StreamConfig struct {
	StreamID        string            `json:"stream_id"`
	Iss             string            `json:"iss"`
	Aud             secevent.Audience `json:"aud"`
	Delivery        Delivery          `json:"delivery"`
	EventsSupported []string          `json:"events_supported"`
	EventsRequested []string          `json:"events_requested"`
	EventsDelivered []string          `json:"events_delivered"`
	// MinVerificationInterval is in seconds.
	MinVerificationInterval int    `json:"min_verification_interval"`
	Description             string `json:"description,omitempty"`
}

// StreamPatch is a receiver's change to its stream (SSF 1.0 §8.1.1.3): a
// nil field is absent and changes nothing. The transmitter-supplied fields
// may be present, and must then hold what the transmitter would say.
type StreamPatch struct {
	StreamID        string    `json:"stream_id"`
	EventsRequested *[]string `json:"events_requested"`
	Description     *string   `json:"description"`
	Delivery        *Delivery `json:"delivery"`

	Iss                     *string            `json:"iss"`
	Aud                     *secevent.Audience `json:"aud"`
	EventsSupported         *[]string          `json:"events_supported"`
	EventsDelivered         *[]string          `json:"events_delivered"`
	MinVerificationInterval *int               `json:"min_verification_interval"`
}

// StreamStatus is a stream's status (SSF 1.0 §8.1.2).
type StreamStatus struct {
	StreamID string `json:"stream_id"`
	Status   string `json:"status"`
	Reason   string `json:"reason,omitempty"`
}

// errNoStream is a stream id that is not the receiver's: another
// receiver's stream is as unknown to it as one that does not exist.
var errNoStream = fault.New(fault.NotFound, "ssf: no such stream for this receiver")

// own checks that id names the receiver's stream.
func own(r *Receiver, id string) error {
	if id != r.ID {
		return errNoStream
	}
	return nil
}

// state returns the stream's stored state, or the configuration's
// defaults when the receiver never changed it.
func state(ctx context.Context, q store.Streams, r *Receiver) (*store.Stream, error) {
	s, err := q.StreamByID(ctx, r.ID)
	if errors.Is(err, store.ErrNotFound) {
		return &store.Stream{ID: r.ID, EventsRequested: slices.Clone(r.Events), Status: store.StreamEnabled}, nil
	}
	return s, err
}

func (t *Transmitter) minVerification() time.Duration {
	if t.MinVerificationInterval > 0 {
		return t.MinVerificationInterval
	}
	return 10 * time.Second
}

func (t *Transmitter) config(r *Receiver, s *store.Stream) StreamConfig {
	d := Delivery{Method: r.Method(), EndpointURL: r.PushURL}
	if r.PushURL == "" {
		d.EndpointURL = strings.TrimSuffix(t.Origin, "/") + PathPoll
	}
	return StreamConfig{
		StreamID: r.ID, Iss: t.Issuer, Aud: secevent.Audience(r.Audience), Delivery: d,
		EventsSupported: nonNil(delivered(r, r.Events)), EventsRequested: nonNil(s.EventsRequested), EventsDelivered: nonNil(delivered(r, s.EventsRequested)),
		MinVerificationInterval: int(t.minVerification() / time.Second), Description: s.Description,
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Streams returns the receiver's stream configurations: its one stream,
// or, with a stream id, that stream.
func (t *Transmitter) Streams(ctx context.Context, r *Receiver, id string) (StreamConfig, error) {
	if err := own(r, id); id != "" && err != nil {
		return StreamConfig{}, err
	}
	s, err := state(ctx, t.Store, r)
	if err != nil {
		return StreamConfig{}, fault.Wrap(fault.Unavailable, err)
	}
	return t.config(r, s), nil
}

// UpdateStream applies a receiver's change to its stream and returns the
// whole configuration after it. The change and its audit event commit
// together.
func (t *Transmitter) UpdateStream(ctx context.Context, r *Receiver, p StreamPatch) (StreamConfig, error) {
	if err := own(r, p.StreamID); err != nil {
		return StreamConfig{}, err
	}
	var out StreamConfig
	err := t.Store.InTx(ctx, func(tx store.Tx) error {
		s, err := state(ctx, tx, r)
		if err != nil {
			return err
		}
		before := t.config(r, s)
		if err := checkSupplied(before, p); err != nil {
			return err
		}
		if p.EventsRequested != nil {
			if len(*p.EventsRequested) == 0 {
				return fault.NewField("events_requested", "at least one event type", "ssf: empty events_requested")
			}
			s.EventsRequested = slices.Clone(*p.EventsRequested)
		}
		if p.Description != nil {
			s.Description = *p.Description
		}
		now := t.now()
		s.UpdatedAt = now
		if err := tx.PutStream(ctx, s); err != nil {
			return err
		}
		out = t.config(r, s)
		return tx.AppendAudit(ctx, streamEvent(r, now, s, s.Status))
	})
	if err != nil && !fault.Has(err) {
		err = fault.Wrap(fault.Unavailable, err)
	}
	return out, err
}

// checkSupplied refuses a patch whose transmitter-supplied fields differ
// from what the transmitter says; the delivery is the operator's, so a
// patch may only repeat it.
func checkSupplied(c StreamConfig, p StreamPatch) error {
	switch {
	case p.Iss != nil && *p.Iss != c.Iss:
		return fault.NewField("iss", c.Iss, "ssf: patch iss differs")
	case p.Aud != nil && !sameSet(*p.Aud, c.Aud):
		return fault.NewField("aud", "the stream's audience", "ssf: patch aud differs")
	case p.EventsSupported != nil && !sameSet(*p.EventsSupported, c.EventsSupported):
		return fault.NewField("events_supported", "the events the transmitter supports", "ssf: patch events_supported differs")
	case p.EventsDelivered != nil && !sameSet(*p.EventsDelivered, c.EventsDelivered):
		return fault.NewField("events_delivered", "the events delivered before the change", "ssf: patch events_delivered differs")
	case p.MinVerificationInterval != nil && *p.MinVerificationInterval != c.MinVerificationInterval:
		return fault.NewField("min_verification_interval", "the transmitter's interval", "ssf: patch min_verification_interval differs")
	case p.Delivery != nil && (p.Delivery.Method != c.Delivery.Method || (p.Delivery.EndpointURL != "" && p.Delivery.EndpointURL != c.Delivery.EndpointURL)):
		return fault.NewField("delivery", "the delivery the operator configured", "ssf: patch delivery differs")
	}
	return nil
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// streamEvent is the audit event of a change to a stream.
func streamEvent(r *Receiver, now time.Time, s *store.Stream, previous string) *audit.Event {
	return &audit.Event{Time: now, Type: audit.StreamChanged, Actor: "ssf:" + r.ID, Detail: map[string]string{
		"stream": r.ID, "status": s.Status, "previous_status": previous, "events": shortNames(delivered(r, s.EventsRequested)),
	}}
}

// shortNames lists event type URIs by their last path segment.
func shortNames(uris []string) string {
	names := make([]string, len(uris))
	for i, u := range uris {
		names[i] = u[strings.LastIndexByte(u, '/')+1:]
	}
	return strings.Join(names, ",")
}

// Status returns a stream's status.
func (t *Transmitter) Status(ctx context.Context, r *Receiver, id string) (StreamStatus, error) {
	if err := own(r, id); err != nil {
		return StreamStatus{}, err
	}
	s, err := state(ctx, t.Store, r)
	if err != nil {
		return StreamStatus{}, fault.Wrap(fault.Unavailable, err)
	}
	return StreamStatus{StreamID: r.ID, Status: s.Status, Reason: s.Reason}, nil
}

// SetStatus changes a stream's status: paused holds the stream's tokens
// until it is enabled again, disabled drops them and those to come.
func (t *Transmitter) SetStatus(ctx context.Context, r *Receiver, st StreamStatus) (StreamStatus, error) {
	if err := own(r, st.StreamID); err != nil {
		return StreamStatus{}, err
	}
	switch st.Status {
	case store.StreamEnabled, store.StreamPaused, store.StreamDisabled:
	default:
		return StreamStatus{}, fault.NewField("status", "enabled, paused or disabled", "ssf: unknown status")
	}
	err := t.Store.InTx(ctx, func(tx store.Tx) error {
		s, err := state(ctx, tx, r)
		if err != nil {
			return err
		}
		previous := s.Status
		now := t.now()
		s.Status, s.Reason, s.UpdatedAt = st.Status, st.Reason, now
		if err := tx.PutStream(ctx, s); err != nil {
			return err
		}
		// The deriver, seeing the event, releases or drops what the
		// stream held, in this transaction.
		return tx.AppendAudit(ctx, streamEvent(r, now, s, previous))
	})
	if err != nil {
		return StreamStatus{}, fault.Wrap(fault.Unavailable, err)
	}
	return StreamStatus{StreamID: r.ID, Status: st.Status, Reason: st.Reason}, nil
}

// tooSoon is a verification request within the minimum interval.
type tooSoon struct{ wait time.Duration }

func (e tooSoon) Error() string       { return "ssf: verification requested too soon" }
func (e tooSoon) Kind() fault.Kind    { return fault.Throttled }
func (e tooSoon) Wait() time.Duration { return e.wait }

// Verify asks for a verification event on the receiver's stream, echoing
// state. It is sent as the stream's other tokens are: pushed, or held for
// the next poll.
func (t *Transmitter) Verify(ctx context.Context, r *Receiver, id, verifyState string) error {
	if err := own(r, id); err != nil {
		return err
	}
	err := t.Store.InTx(ctx, func(tx store.Tx) error {
		s, err := state(ctx, tx, r)
		if err != nil {
			return err
		}
		now := t.now()
		if next := s.VerifiedAt.Add(t.minVerification()); !s.VerifiedAt.IsZero() && now.Before(next) {
			return tooSoon{next.Sub(now).Round(time.Second) + time.Second}
		}
		s.VerifiedAt, s.UpdatedAt = now, now
		if err := tx.PutStream(ctx, s); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &audit.Event{Time: now, Type: audit.VerificationRequested, Actor: "ssf:" + r.ID,
			Detail: map[string]string{"stream": r.ID, "state": verifyState}})
	})
	if err != nil && !fault.Has(err) {
		err = fault.Wrap(fault.Unavailable, err)
	}
	return err
}
