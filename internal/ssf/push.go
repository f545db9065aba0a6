package ssf

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"unicode"

	"gatehouse/internal/outbox"
	"gatehouse/internal/secevent"
	"gatehouse/internal/store"
)

// ContentType is the media type of a pushed token (RFC 8417 §2.3).
const ContentType = "application/secevent+jwt"

// sign signs a token's claims with the first key.
func (t *Transmitter) sign(claims []byte) (string, error) {
	if len(t.Keys) == 0 {
		return "", errors.New("ssf: no signing key")
	}
	var tok secevent.Token
	if err := json.Unmarshal(claims, &tok); err != nil {
		return "", fmt.Errorf("ssf: stored claims: %w", err)
	}
	return secevent.Sign(&tok, t.Keys[0])
}

func (t *Transmitter) client() *http.Client {
	if t.Client != nil {
		return t.Client
	}
	return noRedirects
}

// noRedirects is the push client: a receiver's redirect is not followed,
// so a token never goes where the operator did not send it.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// Sender returns the outbox sender of the ssf channel: it pushes each
// message's token to its receiver (RFC 8935).
func (t *Transmitter) Sender() outbox.Sender { return pusher{t} }

type pusher struct{ t *Transmitter }

// Send signs the token with the key that signs now and posts it. 202 (or
// any 2xx) is delivered; 400 is the receiver's refusal of this very token
// (bad signature, issuer, audience…), which no retry cures, so the
// message is parked with the receiver's error code; anything else is
// retried. A stream paused since the token was queued holds it; a
// disabled one parks it.
func (p pusher) Send(ctx context.Context, m *store.Message) error {
	t := p.t
	r := t.receiver(m.Destination)
	if r == nil || r.PushURL == "" {
		return outbox.Permanent(fmt.Errorf("ssf: stream %q is not a configured push stream", m.Destination))
	}
	if t.Store != nil {
		s, err := state(ctx, t.Store, r)
		if err != nil {
			return err
		}
		switch s.Status {
		case store.StreamPaused:
			var c struct {
				JTI string `json:"jti"`
			}
			if err := json.Unmarshal(m.Payload, &c); err != nil || c.JTI == "" {
				return outbox.Permanent(errors.New("ssf: stored claims have no jti"))
			}
			err := t.Store.HoldSET(ctx, &store.HeldSET{StreamID: r.ID, JTI: c.JTI, Event: m.Event, Claims: m.Payload, CreatedAt: m.CreatedAt})
			if errors.Is(err, store.ErrConflict) {
				err = nil
			}
			return err
		case store.StreamDisabled:
			return outbox.Permanent(errors.New("ssf: stream disabled by its receiver"))
		}
	}
	set, err := t.sign(m.Payload)
	if err != nil {
		return outbox.Permanent(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.PushURL, bytes.NewReader([]byte(set)))
	if err != nil {
		return outbox.Permanent(errors.New("ssf: push endpoint URL is not valid"))
	}
	req.Header.Set("Content-Type", ContentType)
	req.Header.Set("Accept", "application/json")
	if r.PushAuthorization != "" {
		req.Header.Set("Authorization", r.PushAuthorization)
	}
	resp, err := t.client().Do(req)
	if err != nil {
		// The stored error names the stream, never the URL; the log has
		// the transport's own words.
		t.log().WarnContext(ctx, "ssf: push failed", "stream", r.ID, "err", errors.Unwrap(err))
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return fmt.Errorf("ssf: push to %s timed out", r.ID)
		}
		return fmt.Errorf("ssf: push to %s failed before an answer", r.ID)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusBadRequest:
		var e struct {
			Err string `json:"err"`
		}
		json.Unmarshal(body, &e)
		return outbox.Permanent(fmt.Errorf("ssf: %s refused the token: %s", r.ID, errCode(e.Err)))
	}
	return fmt.Errorf("ssf: %s answered %d", r.ID, resp.StatusCode)
}

// errCode keeps an RFC 8935 error code fit for an operator's listing: a
// short token of printable ASCII, or "unknown".
func errCode(s string) string {
	if s == "" || len(s) > 64 {
		return "unknown"
	}
	for _, c := range s {
		if c > unicode.MaxASCII || !(unicode.IsLetter(c) || unicode.IsDigit(c) || c == '_' || c == '-') {
			return "unknown"
		}
	}
	return s
}
