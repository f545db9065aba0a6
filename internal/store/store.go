// Package store is the persistence contract of gatehouse, in the manner of
// database/sql/driver: small per-aggregate interfaces composed into [Tx]
// and [Store]. Two packages implement it, store/sqlite and store/postgres,
// and store/storetest holds the conformance suite both run.
//
// Implementations persist; they hold no business rules. Where a rule must
// run atomically with a read (throttle counters, the audit chain), the
// store calls a pure function of the domain inside its transaction.
package store

import (
	"context"
	"errors"
	"iter"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/audit"
	"gatehouse/internal/device"
	"gatehouse/internal/fault"
	"gatehouse/internal/session"
	"gatehouse/internal/throttle"
	"gatehouse/internal/user"
)

// Errors every implementation returns.
var (
	ErrNotFound = fault.New(fault.NotFound, "store: not found")
	ErrConflict = errors.New("store: conflict") // a unique value is taken
	// ErrSchemaTooNew is returned by Open for a database written by a newer gatehouse.
	ErrSchemaTooNew = errors.New("store: database schema is newer than this binary")
)

// Users persists login identities.
type Users interface {
	CreateUser(ctx context.Context, u *user.User) error
	UserByID(ctx context.Context, id string) (*user.User, error)
	// UserByUsername looks up a normalised username.
	UserByUsername(ctx context.Context, username string) (*user.User, error)
	SetPasswordHash(ctx context.Context, userID, hash string, now time.Time) error
	ListUsers(ctx context.Context) ([]*user.User, error)
	// FreezeUser marks the user frozen since at by by (see
	// [user.User.Frozen]); ErrConflict when frozen already, ErrNotFound
	// when there is no such user.
	FreezeUser(ctx context.Context, userID string, at time.Time, by string) error
	// UnfreezeUser lifts the user's freeze; ErrNotFound when the user is
	// not frozen.
	UnfreezeUser(ctx context.Context, userID string) error
	// StartCooldown sets the user's cool-down to end at until, or keeps
	// the later end already stored, and records reason; ErrNotFound when
	// there is no such user.
	StartCooldown(ctx context.Context, userID string, until time.Time, reason string) error
	// LiftCooldown ends the user's running cool-down at now; ErrNotFound
	// when none runs (or there is no such user).
	LiftCooldown(ctx context.Context, userID string, now time.Time) error
}

// Accounts persists brokerage accounts and memberships.
type Accounts interface {
	CreateAccount(ctx context.Context, a *account.Account) error
	AccountByID(ctx context.Context, id string) (*account.Account, error)
	ListAccounts(ctx context.Context) ([]*account.Account, error)
	SetPermissions(ctx context.Context, accountID string, p account.Permissions) error
	// AddMember adds a membership, or changes the role of an existing one.
	AddMember(ctx context.Context, m *account.Membership) error
	// RemoveMember ends the user's membership of the account; ErrNotFound
	// when there is none.
	RemoveMember(ctx context.Context, userID, accountID string) error
	Membership(ctx context.Context, userID, accountID string) (*account.Membership, error)
	MembershipsOfUser(ctx context.Context, userID string) ([]*account.Membership, error)
}

// Sessions persists sessions.
type Sessions interface {
	CreateSession(ctx context.Context, s *session.Session) error
	SessionByTokenHash(ctx context.Context, hash []byte) (*session.Session, error)
	SessionByID(ctx context.Context, id string) (*session.Session, error)
	// SessionsOfUser lists a user's sessions that have not ended, newest first.
	SessionsOfUser(ctx context.Context, userID string) ([]*session.Session, error)
	// ListSessions lists every session that has not ended, newest first.
	ListSessions(ctx context.Context) ([]*session.Session, error)
	// EndSession marks a session ended; ErrNotFound if it is unknown or
	// ended already.
	EndSession(ctx context.Context, id string, now time.Time, reason string) error
	// EndSessions ends those of the sessions ids still live and returns the
	// ids it ended: a playbook ending thousands at once.
	EndSessions(ctx context.Context, ids []string, now time.Time, reason string) ([]string, error)
	// EndSessionsOfUser ends every session of the user but except (which
	// may be empty) and returns the ids it ended.
	EndSessionsOfUser(ctx context.Context, userID, except string, now time.Time, reason string) ([]string, error)
	// TouchSessions records last-seen times, keeping the later of stored and given.
	TouchSessions(ctx context.Context, seen map[string]time.Time) error
	// SetSessionAssurance records a step-up.
	SetSessionAssurance(ctx context.Context, id string, aal session.Assurance, authTime time.Time) error
	// LowerSession drops a session that has not ended to AAL1 with the
	// methods amr, when a factor it proved is removed: it must step up
	// again before what needs more. Other instances are told, as of a
	// revocation.
	LowerSession(ctx context.Context, id, amr string) error
	// RaiseSession records a step-up with the methods proven and a new
	// token hash: the token is replaced whenever the session gains power.
	// ip, the address the step-up came from, becomes the session's
	// address (forward-auth asks a session that moved to another network
	// to step up there); "" keeps the one stored.
	RaiseSession(ctx context.Context, id string, aal session.Assurance, amr string, authTime time.Time, tokenHash []byte, ip string) error
	// EndSessionsOfDevice ends every live session of a device and returns their ids.
	EndSessionsOfDevice(ctx context.Context, deviceID string, now time.Time, reason string) ([]string, error)
	// CountActiveSessions counts sessions not ended and not past their absolute end.
	CountActiveSessions(ctx context.Context, now time.Time) (map[session.Door]int, error)
}

// Devices persists the clients a user has signed in from.
type Devices interface {
	CreateDevice(ctx context.Context, d *device.Device) error
	// DeviceByFingerprint finds a user's device by its fingerprint (the
	// hash of a web device cookie, or a key thumbprint).
	DeviceByFingerprint(ctx context.Context, userID, fingerprint string) (*device.Device, error)
	DevicesOfUser(ctx context.Context, userID string) ([]*device.Device, error)
	DeviceByID(ctx context.Context, id string) (*device.Device, error)
	SetDeviceStatus(ctx context.Context, id string, status device.Status) error
	TouchDevice(ctx context.Context, id string, now time.Time) error
}

// DeviceApprovals persists the single-use links, e-mailed to a user, that
// approve a new device; as hashes only.
type DeviceApprovals interface {
	// CreateDeviceApproval stores the hash of a single-use e-mailed link token.
	CreateDeviceApproval(ctx context.Context, tokenHash []byte, deviceID, userID string, expires time.Time) error
	// UseDeviceApproval spends a link token; ErrNotFound when unknown, used or expired.
	UseDeviceApproval(ctx context.Context, tokenHash []byte, now time.Time) (deviceID, userID string, err error)
}

// FreezeLinks persists the single-use links that notices carry ("This
// wasn't me", and the cancel link of a recovery's notices), each for one
// purpose; as hashes only.
type FreezeLinks interface {
	// CreateFreezeLink stores the hash of a link token for userID.
	CreateFreezeLink(ctx context.Context, tokenHash []byte, userID string, expires time.Time) error
	// UseFreezeLink spends a link token and returns its user; ErrNotFound
	// when it is unknown, used or expired.
	UseFreezeLink(ctx context.Context, tokenHash []byte, now time.Time) (userID string, err error)
	// CreateLink stores the hash of a single-use link token for userID
	// that serves purpose only ([LinkFreeze], [LinkRecoveryCancel]);
	// CreateFreezeLink is CreateLink for LinkFreeze.
	CreateLink(ctx context.Context, tokenHash []byte, userID, purpose string, expires time.Time) error
	// UseLink spends a link token of purpose and returns its user;
	// ErrNotFound when it is unknown, of another purpose, used or
	// expired. UseFreezeLink is UseLink for LinkFreeze.
	UseLink(ctx context.Context, tokenHash []byte, purpose string, now time.Time) (userID string, err error)
}

// Audit persists the hash-chained audit trail.
type Audit interface {
	// AppendAudit seals e onto the chain's head (see [audit.Seal]) and stores it.
	AppendAudit(ctx context.Context, e *audit.Event) error
	// AuditHead returns the chain's last event; ErrNotFound when the
	// chain is empty.
	AuditHead(ctx context.Context) (*audit.Event, error)
	// AuditEvents walks the whole chain in order, for verification.
	AuditEvents(ctx context.Context) iter.Seq2[*audit.Event, error]
	// AuditOfUser returns up to limit of a user's events with Seq < before
	// (0: from the newest), newest first.
	AuditOfUser(ctx context.Context, userID string, before int64, limit int) ([]*audit.Event, error)
}

// Throttles persists throttle counters.
type Throttles interface {
	// Reserve runs decide on the stored state of key (a zero State when
	// none) and stores the state it returns when ok, all atomically: two
	// concurrent calls for one key never see the same state.
	Reserve(ctx context.Context, key string, decide func(throttle.State) (throttle.State, bool)) (throttle.State, bool, error)
	// ResetThrottle forgets a key's counter.
	ResetThrottle(ctx context.Context, key string) error
}

// Purger deletes what has expired, for the janitor.
type Purger interface {
	// PurgeExpired deletes what can no longer be used: login flows,
	// enrolment codes, approval and freeze links, single-use values
	// ([Once]) that expired before expired; and
	// what is too old to matter: push requests and transaction-bound
	// approvals ([Approvals]) created, and throttle
	// counters last failed, before old (which must lie beyond every
	// throttle rule's forget window and the posture report's look-back).
	// It returns how many rows went.
	PurgeExpired(ctx context.Context, expired, old time.Time) (int64, error)
}

// Tx is what a transaction, and a store outside one, can do.
type Tx interface {
	Users
	Accounts
	Sessions
	Devices
	Audit
	Throttles
	Factors
	RecoveryCodes
	Flows
	Pushes
	Enrolments
	DeviceApprovals
	FreezeLinks
	Purger
	Keys
	Outbox
	Notices
	NoticeRates
	Streams
	Approvals
	Once
	Recoveries
	Signals
}

// Store is an open database.
type Store interface {
	Tx
	// InTx runs fn in one transaction, committed when fn returns nil.
	// Every security-relevant change and its audit event go through one.
	InTx(ctx context.Context, fn func(Tx) error) error
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	// Alone runs fn unless another process on the store is running work
	// of the same name, and reports whether it ran: background work that
	// every instance schedules (the janitor's purges, the dormant-key and
	// signal sweeps) then runs on one instance at a time. A backend that
	// one process serves runs fn.
	Alone(ctx context.Context, name string, fn func(context.Context) error) (ran bool, err error)
	// Revocations delivers what any instance, this one included, revoked
	// or changed where the backend can tell (PostgreSQL LISTEN/NOTIFY):
	// sessions ended (or whose token changed, or whose assurance dropped),
	// keys revoked, rotated, suspended or thawed, users frozen or whose
	// memberships changed; and, when some may have been lost (a
	// reconnection, a reader too slow), one entry with All set. nil where
	// the backend cannot tell. Consumers must treat a repeat as harmless.
	Revocations() <-chan Revocation
	// RevokedSince returns the entries of the revocation log after seq,
	// oldest first, at most limit of them, and the seq to ask after next
	// time (seq itself when there are none); a seq below 0 asks only
	// where the log ends. The log names every session ended (or whose
	// token changed) and every key revoked (or rotated), by any process
	// on the store, for an hour. A backend whose revocations reach every
	// instance another way may keep no log and answer none.
	RevokedSince(ctx context.Context, seq int64, limit int) ([]Revocation, int64, error)
	Close() error
}

// Revocation is an entry of the revocation log ([Store.RevokedSince]),
// or a notification of [Store.Revocations].
type Revocation struct {
	Seq int64 // in the log only
	// Session, Key or User is the id of what was revoked or changed; the
	// others are "". User names a user whose freeze or memberships
	// changed: whatever is cached of that user must be read again.
	Session, Key, User string
	// All says that revocations may have been lost: nothing cached can be
	// vouched for and every cache must be emptied. The ids are "".
	All bool
}
