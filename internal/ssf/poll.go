package ssf

import (
	"context"
	"time"

	"gatehouse/internal/fault"
	"gatehouse/internal/store"
)

// PollRequest is a receiver's poll (RFC 8936 §2.2): tokens it acknowledges
// or refuses, and whether and how many new ones it wants.
type PollRequest struct {
	// MaxEvents bounds the tokens returned; nil lets the transmitter
	// choose ([DefaultMaxEvents]), 0 asks for none (acknowledgements only).
	MaxEvents *int `json:"maxEvents"`
	// ReturnImmediately false (the default) lets the transmitter hold the
	// request open until tokens are available, up to its long-poll bound.
	ReturnImmediately bool     `json:"returnImmediately"`
	Ack               []string `json:"ack"`
	// SetErrs are the tokens the receiver refused, by jti.
	SetErrs map[string]SetErr `json:"setErrs"`
}

// SetErr is a receiver's refusal of one token (RFC 8936 §2.4.4).
type SetErr struct {
	Err         string `json:"err"`
	Description string `json:"description"`
}

// PollResponse answers a poll (RFC 8936 §2.5): tokens by jti.
type PollResponse struct {
	Sets          map[string]string `json:"sets"`
	MoreAvailable bool              `json:"moreAvailable,omitempty"`
}

// Bounds of a poll.
const (
	DefaultMaxEvents = 100
	MaxMaxEvents     = 1000
	// MaxAcks bounds the acknowledgements and refusals of one poll.
	MaxAcks = 1000
)

// pollEvery is how often a held-open poll looks for new tokens.
const pollEvery = time.Second

// Poll acknowledges what the receiver acknowledged, drops what it refused
// (logging the refusal: a retry of the same token would be refused
// again), and returns the stream's tokens, oldest first, signed now. A
// paused or disabled stream returns none. Tokens stay held until
// acknowledged: a poll that is lost on its way back loses nothing, and
// the receiver drops what it sees twice by jti.
func (t *Transmitter) Poll(ctx context.Context, r *Receiver, p PollRequest) (PollResponse, error) {
	if r.PushURL != "" {
		return PollResponse{}, fault.New(fault.NotFound, "ssf: a push stream is not polled")
	}
	if p.MaxEvents != nil && (*p.MaxEvents < 0 || *p.MaxEvents > MaxMaxEvents) {
		return PollResponse{}, fault.NewField("maxEvents", "0 to 1000", "ssf: maxEvents out of range")
	}
	if len(p.Ack)+len(p.SetErrs) > MaxAcks {
		return PollResponse{}, fault.NewField("ack", "at most 1000 acknowledgements and errors", "ssf: too many acks")
	}
	done := append([]string(nil), p.Ack...)
	for jti, e := range p.SetErrs {
		t.log().WarnContext(ctx, "ssf: receiver refused a token", "stream", r.ID, "jti", jti, "err", errCode(e.Err))
		done = append(done, jti)
	}
	if _, err := t.Store.DropSETs(ctx, r.ID, done); err != nil {
		return PollResponse{}, fault.Wrap(fault.Unavailable, err)
	}
	limit := DefaultMaxEvents
	if p.MaxEvents != nil {
		limit = *p.MaxEvents
	}
	out := PollResponse{Sets: map[string]string{}}
	if limit == 0 {
		return out, nil
	}
	wait := t.LongPoll
	if wait <= 0 {
		wait = 20 * time.Second
	}
	var deadline <-chan time.Time
	for {
		held, err := t.ready(ctx, r, limit+1)
		if err != nil && ctx.Err() != nil && deadline != nil {
			return out, nil // the receiver left while waiting
		}
		if err != nil {
			return PollResponse{}, fault.Wrap(fault.Unavailable, err)
		}
		if len(held) > 0 || p.ReturnImmediately {
			if len(held) > limit {
				held, out.MoreAvailable = held[:limit], true
			}
			for _, h := range held {
				set, err := t.sign(h.Claims)
				if err != nil {
					return PollResponse{}, err
				}
				out.Sets[h.JTI] = set
			}
			return out, nil
		}
		if deadline == nil {
			timer := time.NewTimer(wait)
			defer timer.Stop()
			deadline = timer.C
		}
		tick := time.NewTimer(pollEvery)
		select {
		case <-ctx.Done():
			tick.Stop()
			return out, nil // the receiver left, or the server stops: nothing was taken
		case <-deadline:
			tick.Stop()
			return out, nil
		case <-tick.C:
		}
	}
}

// ready returns up to limit tokens a poll may take now: none while the
// stream is not enabled.
func (t *Transmitter) ready(ctx context.Context, r *Receiver, limit int) ([]*store.HeldSET, error) {
	s, err := state(ctx, t.Store, r)
	if err != nil || s.Status != store.StreamEnabled {
		return nil, err
	}
	return t.Store.HeldSETs(ctx, r.ID, limit)
}
