package posture

import (
	"fmt"
	"strings"
	"time"
)

// span says a duration the way a person would: "3 hours", "5 weeks",
// "14 months".
func span(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	unit := func(n int64, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %ss", n, one)
	}
	switch {
	case d < time.Minute:
		return "under a minute"
	case d < time.Hour:
		return unit(int64(d/time.Minute), "minute")
	case d < 48*time.Hour:
		return unit(int64(d/time.Hour), "hour")
	case d < 60*day:
		return unit(int64(d/day), "day")
	case d < 2*365*day:
		return unit(int64(d/(30*day)), "month")
	}
	return unit(int64(d/(365*day)), "year")
}

// ago says how long before now t was.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	if t.After(now) {
		return "in " + span(t.Sub(now))
	}
	return span(now.Sub(t)) + " ago"
}

// kindLabel names a factor kind for a person.
func kindLabel(f Factor) string {
	switch f.Kind {
	case SMS:
		return "SMS codes"
	case TOTP:
		return "authenticator app"
	case Push:
		return "push approval"
	case WebAuthn:
		if f.DeviceBound {
			return "security key"
		}
		return "passkey"
	case Recovery:
		return "recovery codes"
	}
	return string(f.Kind)
}

// factorName names f as its owner will recognise it.
func factorName(f Factor) string {
	if f.Name != "" {
		return f.Name
	}
	return kindLabel(f)
}

// keyName names k as its owner will recognise it.
func keyName(k APIKey) string {
	if k.Name != "" {
		return k.Name
	}
	return k.ID
}

// list joins words as English does: "a", "a and b", "a, b and c".
func list(words []string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

// plural returns n and the word, with an s unless n is 1.
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// factorEvidence is the evidence that factor f is enrolled.
func factorEvidence(f Factor, now time.Time) Evidence {
	detail := kindLabel(f) + " enrolled"
	if !f.LastUsed.IsZero() {
		detail += ", last used " + ago(now, f.LastUsed)
	}
	return Evidence{Kind: "factor", ID: f.ID, Name: factorName(f), Detail: detail}
}

// sessionEvidence is the evidence of session se.
func sessionEvidence(se Session, now time.Time) Evidence {
	life := "never expires"
	if !se.Expires.IsZero() {
		life = "lasts " + span(se.Lifetime()) + ", expires " + ago(now, se.Expires)
	}
	seen := se.LastSeen
	if seen.IsZero() {
		seen = se.Created
	}
	return Evidence{
		Kind: "session", ID: se.ID, Name: se.Device,
		Detail: fmt.Sprintf("%s session, AAL%d, %s, last seen %s", se.Interface, se.Assurance, life, ago(now, seen)),
	}
}

// keyEvidence is the evidence of API key k, with detail.
func keyEvidence(k APIKey, detail string) Evidence {
	return Evidence{Kind: "key", ID: k.ID, Name: keyName(k), Detail: detail}
}

// where says where a key lives, for a sentence: " on the cloud VM".
func where(k APIKey) string {
	if k.Location == "" {
		return ""
	}
	return " (" + k.Location + ")"
}
