package store

import (
	"gatehouse/internal/factor/push"
	"unicode/utf8"

	"gatehouse/internal/apikey"
	"gatehouse/internal/audit"
	"gatehouse/internal/clienttext"
	"gatehouse/internal/device"
	"gatehouse/internal/factor"
	"gatehouse/internal/flow"
	"gatehouse/internal/session"
)

// The functions below clean, in place, the text fields of a value that a
// client can fill (see [clienttext.Clean]). Every implementation calls
// them before it stores the value, so both backends keep the same valid
// UTF-8 text, and the caller's copy matches what was stored.
//
// Keys (ids, usernames, fingerprints) are never cleaned: two different
// keys must not become one. Instead a look-up by a key that is not valid
// text finds nothing ([ErrNotFound]), as no stored key can equal it.

// CleanSession cleans the client's text of a session.
func CleanSession(s *session.Session) {
	clean(&s.DeviceName, &s.IP, &s.UserAgent)
}

// CleanFlow cleans the client's text of a login flow.
func CleanFlow(f *flow.Flow) {
	clean(&f.IP, &f.UserAgent, &f.DeviceName)
}

// CleanDevice cleans a device's name.
func CleanDevice(d *device.Device) {
	clean(&d.Name)
}

// CleanPushRequest cleans what a push request tells the phone.
func CleanPushRequest(p *push.Request) {
	clean(&p.Interface, &p.IP, &p.DeviceName)
}

// CleanFactor cleans a factor's name, phone number and flag.
func CleanFactor(f *factor.Factor) {
	clean(&f.Name, &f.Phone, &f.Flag)
}

// CleanKey cleans an API key's name.
func CleanKey(k *apikey.Key) {
	clean(&k.Name)
}

// CleanEvent cleans every text of an audit event, details included. A
// store calls it before sealing the event, so that the hash covers what
// is stored and the chain verifies when read back.
func CleanEvent(e *audit.Event) {
	clean(&e.Type, &e.UserID, &e.Actor, &e.Interface, &e.IP)
	for k, v := range e.Detail {
		if !clienttext.Valid(k) || !clienttext.Valid(v) {
			// The caller's map is left as it was; the event gets a copy.
			d := make(map[string]string, len(e.Detail))
			for k, v := range e.Detail {
				d[clienttext.Clean(k)] = clienttext.Clean(v)
			}
			e.Detail = d
			return
		}
	}
}

// CleanThrottleKey returns the throttle counter key for key. Throttle keys
// are built from what a client sent (a username), and counters need no
// exact key: two hostile usernames that clean alike share one counter,
// which only throttles the sender sooner.
func CleanThrottleKey(key string) string { return clienttext.Clean(key) }

func clean(fields ...*string) {
	for _, f := range fields {
		*f = clienttext.Clean(*f)
	}
}

// maxErrorText bounds a message's stored last error: a receiver's answer
// is not ours to store whole.
const maxErrorText = 500

// CleanErrorText returns the last error of an outbox message as stored:
// valid text, at most 500 bytes (cut at a rune).
func CleanErrorText(s string) string {
	s = clienttext.Clean(s)
	if len(s) <= maxErrorText {
		return s
	}
	cut := maxErrorText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// CleanMessage cleans the text of an outbox message about to be stored
// and fills in the defaults: pending, due when created, an empty payload.
func CleanMessage(m *Message) {
	clean(&m.Event, &m.UserID, &m.Destination)
	m.LastError = CleanErrorText(m.LastError)
	if m.State == "" {
		m.State = MessagePending
	}
	if m.NextAttemptAt.IsZero() {
		m.NextAttemptAt = m.CreatedAt
	}
	if m.Payload == nil {
		m.Payload = []byte{}
	}
}
