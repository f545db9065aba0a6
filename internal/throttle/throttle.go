// Package throttle bounds online guessing with growing delays.
//
// A counter is kept per key ("account and source", "source", "account").
// Every attempt is reserved before the secret is checked: the counter is
// raised and the next allowed time pushed out in one atomic step of the
// store, so a burst of parallel guesses gets no more tries than a
// sequence would. A success resets the counter.
package throttle

import (
	"time"
)

// Rule says how a counter slows its key down.
type Rule struct {
	Free  int           `yaml:"free"`  // failures allowed with no delay
	Base  time.Duration `yaml:"base"`  // the first delay, doubled for each further failure
	Max   time.Duration `yaml:"max"`   // the longest delay
	Limit int           `yaml:"limit"` // consecutive failures after which the key is closed; 0 for none
	// Forget is how long after the last failure the counter starts over.
	Forget time.Duration `yaml:"forget"`
}

// State is a counter as the store keeps it.
type State struct {
	Key      string
	Failures int
	NextAt   time.Time // no attempt before this
	LastAt   time.Time // the last failure
}

// Delay returns the wait after n consecutive failures.
func (r Rule) Delay(n int) time.Duration {
	if n <= r.Free {
		return 0
	}
	d := r.Base
	for i := r.Free + 1; i < n && d < r.Max; i++ {
		d *= 2
	}
	return min(d, r.Max)
}

// Closed reports whether the key has reached its limit.
func (r Rule) Closed(s State) bool { return r.Limit > 0 && s.Failures >= r.Limit }

// Reserve decides an attempt at now. When it is allowed, next is the state
// to store before the secret is checked: it already counts this attempt
// as a failure, and a success undoes it with [Rule.Reset]. When it is
// refused, wait says when to come back.
func (r Rule) Reserve(s State, now time.Time) (next State, ok bool, wait time.Duration) {
	if r.Forget > 0 && !s.LastAt.IsZero() && now.Sub(s.LastAt) >= r.Forget {
		s = State{Key: s.Key}
	}
	if r.Closed(s) {
		return s, false, r.Max
	}
	if now.Before(s.NextAt) {
		return s, false, s.NextAt.Sub(now)
	}
	s.Failures++
	s.LastAt = now
	// No delay leaves no gate: a concurrent attempt that read the clock a
	// moment earlier must not be refused by a wait of zero.
	s.NextAt = time.Time{}
	if d := r.Delay(s.Failures); d > 0 {
		s.NextAt = now.Add(d)
	}
	return s, true, 0
}

// Refund gives back one reserved attempt that turned out to succeed.
func Refund(s State, now time.Time) State {
	if s.Failures > 0 {
		s.Failures--
	}
	if s.NextAt.After(now) {
		s.NextAt = now
	}
	return s
}

// Policy is the set of counters a login passes.
type Policy struct {
	// AccountSource counts failures of one account from one address: the
	// tightest counter, aimed at a single guesser.
	AccountSource Rule `yaml:"account_source"`
	// Source counts failures from one address over all accounts, against
	// password spraying.
	Source Rule `yaml:"source"`
	// Account counts failures over all addresses, against distributed
	// guessing. Logins from a device the user has already used are not
	// counted against it, so a stranger's guesses do not lock the owner
	// out (OWASP Authentication Cheat Sheet, device cookies); once it is
	// closed, a new device still gets in with the right password when a
	// trusted device approves it.
	Account Rule `yaml:"account"`
	// Factor counts wrong second-factor answers of one user over all
	// flows, so a 6-digit code cannot be brute-forced within its window,
	// and closes after Limit in a row (NIST SP 800-63B-4 §3.2.2: at most
	// 100) until Forget has passed since the last one: a new flow needs
	// only the password again, so without a cap someone holding the
	// password guesses on, a few hundred codes a day.
	Factor Rule `yaml:"factor"`
	// FactorNotice is how many wrong second-factor answers in a row make
	// gatehouse tell the user: someone holding the password is guessing.
	// 0: never.
	FactorNotice int `yaml:"factor_notice"`
}

// DefaultPolicy bounds guessing as NIST SP 800-63B §3.2.2 asks: the
// account counter closes after 100 consecutive failures; the others slow
// down long before.
//
// The factor counter closes after 30 wrong answers in a row and forgets
// them a week after the last. NIST allows up to 100; 30 is well above
// what an owner mistyping needs (each success starts the count again),
// while someone holding the password gets about 30 guesses a week: with
// three codes in TOTP's window, about 0.5 % a year against a 6-digit
// code, against 1.6 % with 100. The owner is told after 5.
func DefaultPolicy() Policy {
	return Policy{
		AccountSource: Rule{Free: 5, Base: time.Second, Max: 15 * time.Minute, Forget: 24 * time.Hour},
		Source:        Rule{Free: 30, Base: time.Second, Max: 15 * time.Minute, Forget: time.Hour},
		Account:       Rule{Free: 10, Base: time.Second, Max: time.Minute, Limit: 100, Forget: 7 * 24 * time.Hour},
		Factor:        Rule{Free: 5, Base: 2 * time.Second, Max: 15 * time.Minute, Limit: 30, Forget: 7 * 24 * time.Hour},
		FactorNotice:  5,
	}
}

// Key names.
func AccountSourceKey(username, ip string) string { return "as:" + username + "|" + ip }

// SourceKey names the counter of one source address.
func SourceKey(ip string) string { return "s:" + ip }

// AccountKey names the counter of one account.
func AccountKey(username string) string { return "a:" + username }

// PasswordChangeKey names the counter of wrong current passwords given
// to change the password of one user: apart from [AccountKey], so that a
// stolen session cannot close the account to new devices.
func PasswordChangeKey(userID string) string { return "pc:" + userID }

// FactorKey names the counter of second-factor guesses of one user.
func FactorKey(userID string) string { return "f:" + userID }
