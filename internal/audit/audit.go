// Package audit defines the append-only, hash-chained audit trail.
//
// Every event holds the hash of the one before it, so altering or removing
// a stored row breaks the chain at that row, and [Verify] names it.
package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"sort"
	"time"
)

// Event types. They are part of the contract with log processors: add,
// never rename.
const (
	LoginSucceeded  = "login.succeeded"
	LoginFailed     = "login.failed"
	LoginThrottled  = "login.throttled"
	SessionStarted  = "session.started"
	SessionEnded    = "session.ended"
	PasswordChanged = "password.changed"
	UserCreated     = "user.created"
	AccountCreated  = "account.created"
	MemberAdded     = "member.added"
	// MemberRemoved: Detail holds "account" and "role" (the role the
	// member had).
	MemberRemoved = "member.removed"

	FactorAdded         = "factor.added"
	FactorRemoved       = "factor.removed"
	FactorVerified      = "factor.verified"
	FactorFailed        = "factor.failed"
	FactorCloneSuspect  = "factor.clone_suspected"
	RecoveryUsed        = "recovery.used"
	RecoveryRegenerated = "recovery.regenerated"
	PushApproved        = "push.approved"
	PushDenied          = "push.denied"
	PushReported        = "push.reported"
	NoticeReported      = "notice.reported" // "This wasn't me" answered on the phone to a notice
	DeviceNew           = "device.new"
	DeviceTrusted       = "device.trusted"
	DeviceRevoked       = "device.revoked"
	// StepUp: Detail holds "session", "aal" (the session's assurance
	// after, as AAL2), "previous_aal" (before) and "amr".
	StepUp = "session.step_up"
	// FactorGuessing tells the user that second-factor answers keep
	// failing: someone holding the password is guessing. Detail holds
	// "failures" (in a row, over every login), "limit" and "closed"
	// ("true" once answers are refused until the count is forgotten).
	FactorGuessing = "factor.guessing"
	// AccountClosed tells the user that wrong passwords closed the account
	// to devices it has not seen before (throttle.account.limit). Detail
	// holds "failures".
	AccountClosed = "login.account_closed"
	// NoticePreferences: the user changed the channels of their notices;
	// Detail holds "changed" (the event types whose channels differ).
	NoticePreferences = "notice.preferences_changed"
	// NoticePhrase: the user set, replaced or cleared their anti-phishing
	// phrase. Detail holds "set" ("true" or "false"), never the phrase.
	NoticePhrase = "notice.phrase_changed"
	// AccountFrozen: "This wasn't me". Every session of the user ended,
	// every API key the user created is suspended. Detail holds "by"
	// (the user's id, "link", "phone:<factor id>" or "admin"),
	// "sessions_ended" and "keys_suspended" (counts).
	AccountFrozen = "account.frozen"
	// AccountUnfrozen lifts a freeze. Detail holds "keys_restored" (a
	// count) and, when the user unfroze, "proven" (the assurance proven
	// fresh); a password.changed event comes with it.
	AccountUnfrozen = "account.unfrozen"
	// CooldownStarted: a security change (Detail "reason": password,
	// factor_added, factor_removed, unfreeze, recovery) started a
	// cool-down, or lengthened the one running; Detail "until" is when it
	// ends (RFC 3339, UTC). It is written in the change's transaction.
	CooldownStarted = "cooldown.started"
	// CooldownLifted: an administrator ended a cool-down early. Detail
	// holds "reason" (the administrator's, mandatory) and "was_until".
	CooldownLifted = "cooldown.lifted"
	// OrdersRateLimited: a key or session went over its ceiling of
	// order-placing requests per minute (authz.orders_per_minute) and was
	// refused; written once per run of refusals. Detail holds "key" and
	// "account", or "session"; and "per_minute".
	OrdersRateLimited = "orders.rate_limited"
	// OutboxRetried: an operator made a parked outbox message pending
	// again. Detail holds "message", "channel" and "event".
	OutboxRetried = "outbox.retried"
)

// Lost-factor recovery event types (see package recovery). Detail holds
// "request" (its id) and, per type: "completes_at", "account_at" and
// "by" (requested: the user's id or "admin", with "reason" for an
// operator's), "completes_at" and "last_day" (reminder: "true" for the
// one a day before completion), "by" (cancelled: "link", "sign_in",
// "admin" or the user's id; completed), "admin" and "reason"
// (shortening_approved: the first of the two administrators; shortened:
// "admins", both).
const (
	RecoveryRequested       = "recovery.requested"
	RecoveryReminder        = "recovery.reminder"
	RecoveryCancelled       = "recovery.cancelled"
	RecoveryCompleted       = "recovery.completed"
	RecoveryShorteningAsked = "recovery.shortening_approved"
	RecoveryShortened       = "recovery.shortened"
	// PasswordResetRequested: a reset link was mailed (Detail "ip"); the
	// reset itself is a password.changed with "by" "reset".
	PasswordResetRequested = "password.reset_requested"
)

// API key event types. Detail holds "account" and "key" (the public
// identifier, never the secret), and per type: "scopes", "environment",
// "expires_at" (created), "successor" and "overlap_ends_at" (rotated),
// "reason" (revoked: user, admin, dormant or signal), "ip" (first use
// from an address the key had never been used from), "reason" (suspended:
// member_removed).
const (
	KeyCreated    = "apikey.created"
	KeyRotated    = "apikey.rotated"
	KeyRevoked    = "apikey.revoked"
	KeyNewAddress = "apikey.new_address"
	// KeyNewNetwork: a watched key (live, trading or moving money) was
	// first used from a network. Detail holds "account", "key",
	// "network" and "held" ("true" when the key waits for its owner's
	// approval there).
	KeyNewNetwork = "apikey.new_network"
	// KeyNetworkApproved: the owner approved a held network of a key.
	// Detail holds "account", "key" and "network".
	KeyNetworkApproved = "apikey.network_approved"
	// KeySuspended: the key is refused until its creator is a member of
	// its account again.
	KeySuspended = "apikey.suspended"
)

// Trading permission event types. Detail holds "account" and
// "environment"; PermissionsChanged adds "before" and "after" (the
// permissions on, comma-separated, or "none"), "turned_on",
// "turned_off" and, when given, "override_reason"; PermissionsOverride,
// written beside it when an administrator turned permissions on past the
// posture gate, adds "reason", "turned_on" and "findings" (the ids of
// the high findings passed over). UserID is the user the change was made
// for; Actor is who made it.
const (
	PermissionsChanged  = "permissions.changed"
	PermissionsOverride = "permissions.override"
)

// Shared Signals event types: system events (no UserID), whose Actor is
// "ssf:" and the stream id. StreamChanged: a receiver changed its stream;
// Detail holds "stream", "status", "previous_status" and "events" (the
// event types delivered, comma-separated). VerificationRequested: a
// receiver asked for a verification event; Detail holds "stream" and
// "state" (the receiver's opaque value, echoed in the event).
const (
	StreamChanged         = "ssf.stream_changed"
	VerificationRequested = "ssf.verification_requested"
)

// Security signal event types (see package signal). Every event a
// signal's playbook causes carries "signal" (its id) in Detail: the
// session.ended and apikey.revoked events too. SignalCreated and
// SignalClosed are system events (no UserID); Detail holds "signal",
// "title", "kind", "severity" and "steps". SignalApplied tells one user
// what the signal asks of them: Detail holds "signal", "title", "link",
// "todo" (what to do, sentences joined by "; ") and "steps" (the steps
// that concern the user, comma-separated).
const (
	SignalCreated = "signal.created"
	SignalApplied = "signal.applied"
	SignalClosed  = "signal.closed"
)

// Event is one entry of the audit trail.
type Event struct {
	Seq       int64 // position in the chain, from 1; assigned by the store
	Time      time.Time
	Type      string
	UserID    string // whose trail the event belongs to; empty for system events
	Actor     string // who acted: a user id, "admin" for the CLI, "system"
	Interface string
	IP        string
	// Detail holds small facts about the event (a session id, a reason).
	// It never holds a secret.
	Detail   map[string]string
	PrevHash []byte
	Hash     []byte
}

// Sum returns the hash of e chained to prev. The encoding is length-prefixed,
// so no two different events encode alike.
func Sum(prev []byte, e *Event) []byte {
	// One buffer, hashed once: the same bytes as writing each field to
	// the hash in turn, without a call (and a conversion) per field.
	var stack [1024]byte
	b := appendField(stack[:0], prev)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Seq))
	var ts [40]byte
	b = appendField(b, e.Time.UTC().AppendFormat(ts[:0], time.RFC3339Nano))
	b = appendField(b, e.Type)
	b = appendField(b, e.UserID)
	b = appendField(b, e.Actor)
	b = appendField(b, e.Interface)
	b = appendField(b, e.IP)
	var kb [16]string
	keys := kb[:0]
	for k := range e.Detail {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b = binary.BigEndian.AppendUint64(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendField(b, k)
		b = appendField(b, e.Detail[k])
	}
	sum := sha256.Sum256(b)
	return sum[:]
}

// appendField appends f to b as Sum hashes it: its length, eight bytes
// big-endian, then its bytes.
func appendField[T string | []byte](b []byte, f T) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(len(f)))
	return append(b, f...)
}

// Seal sets e's sequence number and hashes from the chain's head (the last
// event, or nil for the first).
func Seal(head *Event, e *Event) {
	if head == nil {
		e.Seq, e.PrevHash = 1, nil
	} else {
		e.Seq, e.PrevHash = head.Seq+1, head.Hash
	}
	e.Time = e.Time.UTC().Truncate(time.Microsecond) // what every store can hold
	e.Hash = Sum(e.PrevHash, e)
}

// ErrBroken is wrapped by the errors of [Verify].
var ErrBroken = errors.New("audit: chain broken")

// BrokenError names the first event where the chain does not hold.
type BrokenError struct {
	Seq    int64
	Reason string
}

func (e *BrokenError) Error() string {
	return fmt.Sprintf("audit: chain broken at event %d: %s", e.Seq, e.Reason)
}

func (e *BrokenError) Unwrap() error { return ErrBroken }

// Verify walks events in sequence order and returns a [*BrokenError] for
// the first event that was altered, removed or inserted, and the number
// of events checked.
func Verify(events iter.Seq2[*Event, error]) (int64, error) {
	var prev *Event
	var n int64
	for e, err := range events {
		if err != nil {
			return n, err
		}
		n++
		want := int64(1)
		var prevHash []byte
		if prev != nil {
			want, prevHash = prev.Seq+1, prev.Hash
		}
		switch {
		case e.Seq != want:
			return n, &BrokenError{Seq: want, Reason: fmt.Sprintf("missing (next stored event is %d)", e.Seq)}
		case hex.EncodeToString(e.PrevHash) != hex.EncodeToString(prevHash):
			return n, &BrokenError{Seq: e.Seq, Reason: "previous-hash link does not match"}
		case hex.EncodeToString(Sum(e.PrevHash, e)) != hex.EncodeToString(e.Hash):
			return n, &BrokenError{Seq: e.Seq, Reason: "content does not match its hash"}
		}
		prev = e
	}
	return n, nil
}
