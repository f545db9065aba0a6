package posture

import (
	"slices"
	"strings"
)

// The set-up fields whose absence would otherwise be read as "none": left
// out of a SETUP.yaml, they are not stated, and the checks built on them
// are not run on a guess.
const (
	FieldFactors       = "factors"
	FieldRecoveryCodes = "recovery_codes_left"
	FieldNotifications = "settings.session_notifications"
)

// StatedFields lists the fields that may be left unstated, in the order the
// report asks about them.
var StatedFields = []string{FieldFactors, FieldRecoveryCodes, FieldNotifications}

// needs says which unstated fields keep which rules from running: a rule
// judged on a field nobody stated would raise a finding built on a guess
// (no factors read as "no second factor", a missing count as "no recovery
// codes").
var needs = map[string][]string{
	"desktop":       {FieldFactors},
	"sms":           {FieldFactors},
	"phishing":      {FieldFactors},
	"second-factor": {FieldFactors},
	"recovery":      {FieldFactors, FieldRecoveryCodes},
	"notifications": {FieldNotifications},
}

// Question is a field of the set-up that was not stated: the report asks
// for it instead of guessing, and says which checks wait on the answer.
type Question struct {
	Field string `json:"field"`
	// Ask is the question, for the account holder.
	Ask string `json:"ask"`
	// Answer says how to give the answer in SETUP.yaml.
	Answer string `json:"answer"`
	// Checks are the rules not run for want of it.
	Checks []string `json:"checks"`
}

var questions = map[string]Question{
	FieldFactors: {
		Ask:    "Which second factors do you have (security keys, passkeys, an authenticator app, push on the phone, SMS)?",
		Answer: "List them under factors:, or write factors: [] if you have none.",
	},
	FieldRecoveryCodes: {
		Ask:    "How many unused recovery codes do you hold?",
		Answer: "Write recovery_codes_left: with the count (0 if you have none or cannot find them).",
	},
	FieldNotifications: {
		Ask:    "Are you told of every new sign-in to the account?",
		Answer: "Write settings: {session_notifications: on} or off.",
	},
}

// unstated reports whether s leaves field unstated.
func (s Snapshot) unstated(field string) bool { return slices.Contains(s.Unstated, field) }

// runs reports whether rule may run on s: every field it needs is stated.
func (s Snapshot) runs(rule string) bool {
	for _, f := range needs[rule] {
		if s.unstated(f) {
			return false
		}
	}
	return true
}

// askFor returns the questions for the fields s leaves unstated, with the
// rules each keeps from running.
func askFor(s Snapshot, rules []Rule) []Question {
	var out []Question
	for _, field := range StatedFields {
		if !s.unstated(field) {
			continue
		}
		q := questions[field]
		q.Field = field
		for _, r := range rules {
			if slices.Contains(needs[r.Name], field) {
				q.Checks = append(q.Checks, r.Name)
			}
		}
		out = append(out, q)
	}
	return out
}

// checksText names the checks a question holds back, for a sentence.
func (q Question) checksText() string { return strings.Join(q.Checks, ", ") }
