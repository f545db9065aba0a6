package notice

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"gatehouse/internal/fault"
)

// Preferences are the channels a user chose per event. An event not in
// the map goes by its [Spec.Default]; an empty list switches it off,
// which only non-critical events allow ([Preferences.Validate]).
type Preferences map[Event][]Channel

// Channels returns the channels e goes by for a user with preferences p:
// their choice, or the default, and for a critical event always at least
// the default. The result is in [Channels] order and shares nothing with p.
func (p Preferences) Channels(e Event) []Channel {
	s, ok := byEvent[e]
	if !ok {
		return nil
	}
	chosen, ok := p[e]
	if !ok {
		return slices.Clone(s.Default)
	}
	set := map[Channel]bool{}
	for _, c := range chosen {
		set[c] = true
	}
	if s.Critical {
		for _, c := range s.Default {
			set[c] = true
		}
	}
	var out []Channel
	for _, c := range Channels() {
		if set[c] {
			out = append(out, c)
		}
	}
	return out
}

// Wants reports whether e goes to the user by channel c.
func (p Preferences) Wants(e Event, c Channel) bool {
	return slices.Contains(p.Channels(e), c)
}

// ErrCritical is wrapped by the error of [Preferences.Validate] for a
// choice that drops a default channel of a critical event.
var ErrCritical = errors.New("notice: a security-critical notice cannot be switched off")

// PrefError is a refused preference: the event at fault and what it must be.
type PrefError struct {
	Event Event
	Want  string
	err   error
}

func (e *PrefError) Error() string {
	return fmt.Sprintf("notice: preferences for %q: %s", e.Event, e.Want)
}

// Unwrap returns [ErrCritical] for a critical event switched off.
func (e *PrefError) Unwrap() error { return e.err }

// Kind is [fault.Invalid]: the request is refused and nothing changes.
func (e *PrefError) Kind() fault.Kind { return fault.Invalid }

// Fields names the refused event, for the problem document.
func (e *PrefError) Fields() []fault.Field {
	return []fault.Field{{Name: "events." + string(e.Event), Want: e.Want}}
}

// PrefErrors is every refused preference of one request, in event order.
type PrefErrors []*PrefError

func (es PrefErrors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "; ")
}

// Unwrap returns the errors, so that errors.Is finds [ErrCritical] and
// [fault.Fields] names every refused event.
func (es PrefErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Kind is [fault.Invalid].
func (es PrefErrors) Kind() fault.Kind { return fault.Invalid }

// Validate returns nil when p can be stored, and otherwise a [PrefErrors]
// naming every bad entry: an unknown event or channel, a channel twice,
// or a critical event missing one of its default channels (which wraps
// [ErrCritical]). A critical event is refused rather than quietly kept
// on, so that the user learns why their choice did not hold.
func (p Preferences) Validate() error {
	var errs PrefErrors
	events := make([]Event, 0, len(p))
	for e := range p {
		events = append(events, e)
	}
	sort.Slice(events, func(i, j int) bool { return events[i] < events[j] })
	for _, e := range events {
		s, ok := byEvent[e]
		if !ok {
			errs = append(errs, &PrefError{Event: e, Want: "a known event type (see GET /v1/notifications/preferences)"})
			continue
		}
		seen := map[Channel]bool{}
		bad := ""
		for _, c := range p[e] {
			switch {
			case !slices.Contains(Channels(), c):
				bad = "channels among mail, push and webhook"
			case seen[c]:
				bad = "each channel at most once"
			}
			seen[c] = true
		}
		if bad != "" {
			errs = append(errs, &PrefError{Event: e, Want: bad})
			continue
		}
		if s.Critical {
			for _, c := range s.Default {
				if !seen[c] {
					errs = append(errs, &PrefError{Event: e, err: ErrCritical,
						Want: "security-critical: it cannot be switched off; keep " + join(s.Default) + " on"})
					break
				}
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

func join(cs []Channel) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}

// Phrase bounds, in characters.
const (
	PhraseMin = 3
	PhraseMax = 64
)

// ErrPhrase is returned for a phrase that cannot be used.
var ErrPhrase = fault.NewField("phrase", fmt.Sprintf("%d to %d printable characters (letters, digits, punctuation, spaces)", PhraseMin, PhraseMax), "notice: unusable anti-phishing phrase")

// CleanPhrase returns the phrase to store for s, the user's anti-phishing
// phrase: trimmed, with runs of spaces kept as typed. It returns
// [ErrPhrase] for anything but valid UTF-8 of PhraseMin to PhraseMax
// printable characters. Line breaks and control or format characters
// are refused: the phrase is shown at the top of mails, and such
// characters could forge headers or hide text. "" clears the phrase.
//
// The phrase is not a secret (every mail shows it), but it is what tells
// a real mail from a phishing one, so it is never logged, and the API
// never reads it back.
func CleanPhrase(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", ErrPhrase
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if n := utf8.RuneCountInString(s); n < PhraseMin || n > PhraseMax {
		return "", ErrPhrase
	}
	for _, r := range s {
		if r == utf8.RuneError || (!unicode.IsPrint(r) && r != ' ') {
			return "", ErrPhrase
		}
	}
	return s, nil
}
