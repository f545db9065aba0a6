// Package recovery is the lost-factor recovery request: a user who has
// the password but no usable second factor and no recovery code asks to
// be let back in, and is, only after a waiting period during which every
// channel is told and the real owner can cancel it with one click or any
// sign-in with a real factor. It is a domain package: the request, its
// schedule of notices and the waiting periods, as pure values and
// functions of now.
//
// Security invariant: nothing here, and no caller, ends a wait early
// except [Request.Shorten], which needs two different administrators.
package recovery

import (
	"errors"
	"time"
)

// Status is where a request stands.
type Status string

// The statuses of a request.
const (
	// Pending waits for CompletesAt; it can be cancelled.
	Pending Status = "pending"
	// Cancelled was stopped: by the owner (a link, a sign-in with a real
	// factor), or by an operator.
	Cancelled Status = "cancelled"
	// Completed gave its user a session that may only enrol a factor.
	Completed Status = "completed"
)

// Wait is the waiting period of a recovery for one trader profile, after
// IBKR's practice: the recovery completes (a new factor may be enrolled,
// trading resumes) after Trading; account management and transfers stay
// closed until Account after the start.
type Wait struct {
	Trading time.Duration `yaml:"trading" json:"trading"`
	Account time.Duration `yaml:"account" json:"account"`
}

// DefaultWait is every profile's wait unless configured: 2 days before
// trading access, 8 days before account management and transfers.
var DefaultWait = Wait{Trading: 48 * time.Hour, Account: 8 * 24 * time.Hour}

// MinWait is the shortest configurable Trading wait: the notice a day
// before completion must have a day to reach the owner.
const MinWait = 24 * time.Hour

// ErrWait refuses a waiting period shorter than [MinWait], or an account
// wait shorter than the trading one.
var ErrWait = errors.New("recovery: waits are at least 24h, and account is at least trading")

// Check returns ErrWait for a wait that cannot be used.
func (w Wait) Check() error {
	if w.Trading < MinWait || w.Account < w.Trading {
		return ErrWait
	}
	return nil
}

// Request is one lost-factor recovery.
type Request struct {
	// ID names the request (rcv_ and 128 random bits): it is shown to
	// whoever started it with the right password and to the owner's
	// channels, and names it in GET /v1/recovery/{id}.
	ID     string
	UserID string
	Status Status
	// StartedBy is the user's id, or "admin" (the CLI, for a user who
	// cannot start it themselves); Reason is the operator's reason.
	StartedBy string
	Reason    string
	IP        string
	CreatedAt time.Time
	// CompletesAt is when the user may complete it; AccountAt when
	// account management and transfers open again.
	CompletesAt time.Time
	AccountAt   time.Time
	// NextNoticeAt is when the next reminder is due; zero when none is.
	NextNoticeAt time.Time
	// EndedAt and EndedBy say when and by what it was cancelled or
	// completed ("link", "sign_in", "admin", the user's id).
	EndedAt time.Time
	EndedBy string
	// ShortenFirst is the administrator who asked first to end the wait
	// early, with ShortenReason; ShortenedBy names both once the second
	// agreed ("alice,bob").
	ShortenFirst  string
	ShortenReason string
	ShortenedBy   string
}

// New is a pending request for userID started at now with wait w: its
// first reminder falls a day later (or a day before it completes).
func New(id, userID, startedBy, reason, ip string, w Wait, now time.Time) *Request {
	now = now.UTC().Truncate(time.Microsecond) // as the stores keep it
	r := &Request{ID: id, UserID: userID, Status: Pending, StartedBy: startedBy, Reason: reason, IP: ip,
		CreatedAt: now, CompletesAt: now.Add(w.Trading), AccountAt: now.Add(w.Account)}
	r.NextNoticeAt = r.NoticeAfter(now)
	return r
}

// Ready reports whether the request may be completed at now.
func (r *Request) Ready(now time.Time) bool {
	return r.Status == Pending && !now.Before(r.CompletesAt)
}

// NoticeAfter returns when the reminder after one sent at last is due:
// a day later, or the day before completion when that comes first and
// has not passed; zero when no reminder is left (the request completes
// within a day of last).
func (r *Request) NoticeAfter(last time.Time) time.Time {
	next := last.Add(24 * time.Hour)
	if dayBefore := r.CompletesAt.Add(-24 * time.Hour); last.Before(dayBefore) && next.After(dayBefore) {
		next = dayBefore
	}
	if !next.Before(r.CompletesAt) {
		return time.Time{}
	}
	return next
}

// LastDay reports whether a reminder sent at t is the one a day before
// completion.
func (r *Request) LastDay(t time.Time) bool {
	return !t.Before(r.CompletesAt.Add(-24 * time.Hour))
}

// Errors of [Request.Shorten].
var (
	ErrNotPending = errors.New("recovery: the request is not pending")
	ErrSameAdmin  = errors.New("recovery: a shortening needs a second, different administrator")
)

// Shorten records admin's approval, with reason, to end r's wait at now:
// four eyes. The first approval is kept and changes no time; a second by
// a different administrator ends both waits at now (if they were later)
// and reports done. The same administrator twice is ErrSameAdmin.
func (r *Request) Shorten(admin, reason string, now time.Time) (done bool, err error) {
	switch {
	case r.Status != Pending:
		return false, ErrNotPending
	case r.ShortenFirst == "":
		r.ShortenFirst, r.ShortenReason = admin, reason
		return false, nil
	case r.ShortenFirst == admin:
		return false, ErrSameAdmin
	}
	now = now.UTC().Truncate(time.Microsecond)
	r.ShortenedBy = r.ShortenFirst + "," + admin
	if r.ShortenReason != reason {
		r.ShortenReason += "; " + reason
	}
	r.CompletesAt, r.AccountAt = minTime(r.CompletesAt, now), minTime(r.AccountAt, now)
	r.NextNoticeAt = time.Time{}
	return true, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
