package webauthn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// The kinds of ceremony a session is for.
const (
	ceremonyRegistration = "registration"
	ceremonyLogin        = "login"
)

// sessionRecord is what a session's bytes hold: the library's session data
// (challenge, RP ID, user handle, expiry, allowed credentials, user
// verification) and which ceremony it belongs to, so that a registration
// session cannot finish a login or the other way round.
//
// It is JSON rather than the library's MessagePack: the MessagePack decoders
// size allocations from length prefixes before reading the data. The caller
// keeps it server-side, so it cannot be forged, but it is still decoded
// defensively, size first.
type sessionRecord struct {
	Ceremony string `json:"ceremony"`
	// DeviceBound asks FinishRegistration to refuse a backup-eligible
	// credential (see [DeviceBoundOnly]).
	DeviceBound bool                 `json:"device_bound,omitempty"`
	Data        webauthn.SessionData `json:"data"`
}

// seal stamps the session data with its expiry by rp's clock and encodes it.
func (rp *RP) seal(ceremony string, deviceBound bool, sd *webauthn.SessionData) ([]byte, error) {
	sd.Expires = rp.now().Add(rp.cfg.Timeout).UTC()
	b, err := json.Marshal(sessionRecord{Ceremony: ceremony, DeviceBound: deviceBound, Data: *sd})
	if err != nil {
		return nil, fmt.Errorf("webauthn: encode session: %w", err)
	}
	return b, nil
}

// open decodes a session and checks it belongs to this relying party, this
// kind of ceremony and this user, and has not expired by rp's clock. The
// returned session data has its expiry cleared: the library would check it
// again against the wall clock, which would make RP.Now pointless.
func (rp *RP) open(session []byte, ceremony string, u User) (sessionRecord, error) {
	var rec sessionRecord
	if len(session) == 0 || len(session) > MaxSessionSize {
		return rec, invalidf("session of %d bytes", len(session))
	}
	dec := json.NewDecoder(bytes.NewReader(session))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		return rec, invalid("decode session", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return rec, invalidf("trailing data after session")
	}
	sd := &rec.Data
	switch {
	case rec.Ceremony != ceremony:
		return rec, invalidf("session is for a %s, not a %s", rec.Ceremony, ceremony)
	case sd.RelyingPartyID != rp.cfg.RPID:
		return rec, invalidf("session is for RP ID %q", sd.RelyingPartyID)
	case !bytes.Equal(sd.UserID, u.Handle):
		return rec, invalidf("session is for another user")
	case sd.Expires.IsZero() || !rp.now().Before(sd.Expires):
		return rec, invalidf("session expired at %v", sd.Expires.Format(time.RFC3339))
	}
	sd.Expires = time.Time{}
	return rec, nil
}

// invalid wraps a failure of a ceremony: [ErrInvalid] for callers, and the
// library's detail (what failed and why) for the log.
func invalid(what string, err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.DevInfo != "" {
		info := strings.Join(strings.Fields(pe.DevInfo), " ") // one log line
		return fmt.Errorf("%w: %s: %w (%s)", ErrInvalid, what, err, info)
	}
	return fmt.Errorf("%w: %s: %w", ErrInvalid, what, err)
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}
