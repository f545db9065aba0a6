// Package notice is what gatehouse tells an account holder about their
// account: the catalogue of notice events, which of them are
// security-critical, the channels each goes by, the holder's preferences
// and anti-phishing phrase, the per-user rate rule, and the rendering of a
// notice as mail. It is a domain package: no I/O. Delivery (the outbox and
// its workers) and storage live elsewhere.
package notice

import (
	"time"

	"gatehouse/internal/audit"
)

// Event is the dotted type of a notice, such as "session.created". The
// same names are used in webhooks, in GET /v1/notifications and in the
// preferences: they are part of the contract, added to, never renamed.
type Event string

// The notice events.
const (
	SessionCreated      Event = "session.created"        // a new sign-in
	SessionEndedByOther Event = "session.ended_by_other" // a session ended from another session, or by an operator
	DevicePending       Event = "device.pending"         // a new device waits for approval
	DeviceApproved      Event = "device.approved"
	DeviceRevoked       Event = "device.revoked"
	FactorAdded         Event = "factor.added"
	FactorRemoved       Event = "factor.removed"
	FactorGuessing      Event = "factor.guessing" // second-factor answers keep failing
	PasswordChanged     Event = "password.changed"
	RecoveryUsed        Event = "recovery.used"
	RecoveryRegenerated Event = "recovery.regenerated"
	KeyCreated          Event = "key.created"
	KeyRotated          Event = "key.rotated"
	KeyRevoked          Event = "key.revoked"
	KeyNewNetwork       Event = "key.new_network" // a key's first use from an address it had never been used from
	PermissionChanged   Event = "permission.changed"
	AccountClosed       Event = "account.closed" // wrong passwords closed the account to new devices
	AccountFrozen       Event = "account.frozen"
	AccountUnfrozen     Event = "account.unfrozen"
	CooldownStarted     Event = "cooldown.started"    // a security change made risky actions wait
	CooldownLifted      Event = "cooldown.lifted"     // an administrator ended a cool-down early
	OrdersRateLimited   Event = "orders.rate_limited" // a key or session placed orders far faster than its ceiling
	KeyHeld             Event = "key.held"            // a key with a hold was refused on a network its owner has not approved
	KeyNetworkApproved  Event = "key.network_approved"
	PreferencesChanged  Event = "notice.preferences_changed"
	PhraseChanged       Event = "notice.phrase_changed"
	Summary             Event = "notice.summary"    // stands for the notices the rate rule held back
	ApprovalApproved    Event = "approval.approved" // a transaction was approved on the phone or a security key
	ApprovalDenied      Event = "approval.denied"   // a transaction asked in the user's name was refused
	// The lost-factor recovery: started, reminded daily and a day before
	// it completes, cancelled, completed, and its wait shortened by two
	// administrators. Every mail of requested and reminder carries the
	// one-click cancel link beside the freeze link.
	RecoveryRequested Event = "recovery.requested"
	RecoveryReminder  Event = "recovery.reminder"
	RecoveryCancelled Event = "recovery.cancelled"
	RecoveryCompleted Event = "recovery.completed"
	RecoveryShortened Event = "recovery.shortened"
	// SignalApplied: an operator's security signal asks something of the
	// user (sign in again, rotate keys, enrol a security key...); the
	// notice carries the signal's title and what to do.
	SignalApplied Event = "signal.applied"
)

// Channel is a way a notice reaches someone.
type Channel string

// The channels, in the order they are listed everywhere.
const (
	Mail Channel = "mail" // e-mail to the user's address
	Push Channel = "push" // the paired phone
	// Webhook is the platform's configured endpoints (Standard Webhooks),
	// which relay to the platform's own apps; each endpoint also chooses
	// the event types it wants.
	Webhook Channel = "webhook"
)

// Channels lists every channel, in order.
func Channels() []Channel { return []Channel{Mail, Push, Webhook} }

// Spec is what the catalogue says of one event.
type Spec struct {
	Event Event
	// Critical events cannot be switched off: every channel of Default
	// always carries them, whatever the preferences say. They are those
	// an intruder would most like the owner not to see.
	Critical bool
	// Default is the channels the event goes by unless the user chooses.
	Default []Channel
	// Subject is the mail subject; Says is the sentence that opens the
	// notice. Neither holds a secret or a link.
	Subject, Says string
	// Advice says what to do if it was not the holder.
	Advice string
}

var (
	mailPushHook = []Channel{Mail, Push, Webhook}
	mailHook     = []Channel{Mail, Webhook}
)

const (
	adviceFreeze = "If this was not you, press \"This wasn't me\" below: it ends every session, suspends every API key and refuses trading until you unfreeze with your strongest factor."
	adviceCheck  = "If you do not recognise this, press \"This wasn't me\" below, then review your sessions and keys in the portal."
	// adviceCancel: signing in with a second factor cancels a recovery too.
	adviceCancel = "If this was not you, press \"Cancel the recovery\" below, or sign in with your second factor: either stops it. Then change your password, or press \"This wasn't me\" to freeze the account."
)

// catalogue is every event, in the order documentation and the portal
// list them.
var catalogue = []Spec{
	{SessionCreated, false, mailPushHook, "New sign-in to your gatehouse account", "Your account was just signed in to.", adviceFreeze},
	{SessionEndedByOther, false, mailHook, "A session of your gatehouse account was ended", "One of your sessions was ended from elsewhere.", adviceCheck},
	{DevicePending, true, mailPushHook, "A new device is waiting for approval", "A device your account has not used before signed in with your password and waits for approval.", adviceFreeze},
	{DeviceApproved, true, mailPushHook, "A new device was approved", "A new device was approved for your account.", adviceFreeze},
	{DeviceRevoked, false, mailHook, "A device was removed", "A device was removed from your account; its sessions ended.", adviceCheck},
	{FactorAdded, true, mailPushHook, "A second factor was added", "A second factor was added to your account.", adviceFreeze},
	{FactorRemoved, true, mailPushHook, "A second factor was removed", "A second factor was removed from your account.", adviceFreeze},
	{FactorGuessing, false, mailPushHook, "Someone is guessing your second factor", "Wrong second-factor answers keep arriving for your account: whoever sends them knows your password.", "If this was not you, change your password now, and press \"This wasn't me\" below."},
	{PasswordChanged, true, mailPushHook, "Your password was changed", "The password of your account was changed; your other sessions ended.", adviceFreeze},
	{RecoveryUsed, true, mailPushHook, "A recovery code was used", "A recovery code was used to sign in to your account.", adviceFreeze},
	{RecoveryRegenerated, true, mailPushHook, "New recovery codes were made", "New recovery codes were made for your account; the old ones no longer work.", adviceFreeze},
	{KeyCreated, true, mailPushHook, "A new API key was created", "A new API key was created on your account.", adviceFreeze},
	{KeyRotated, false, mailHook, "An API key was rotated", "An API key of your account was rotated.", adviceCheck},
	{KeyRevoked, false, mailHook, "An API key was revoked", "An API key of your account was revoked.", adviceCheck},
	{KeyNewNetwork, false, mailPushHook, "An API key was used from a new network", "An API key of your account was used from an address it had never been used from.", adviceFreeze},
	{PermissionChanged, false, mailHook, "Trading permissions changed", "The trading permissions of an account you belong to changed.", adviceCheck},
	{AccountClosed, false, mailPushHook, "Sign-ins from new devices are closed", "Wrong passwords kept arriving for your account, so it is closed to devices it has not seen before. Your known devices still sign in.", "If this was not you, change your password from a known device."},
	{AccountFrozen, true, mailPushHook, "Your gatehouse account is frozen", "Your account was frozen: every session ended, every API key is suspended and trading is refused.", "To unfreeze, sign in with your strongest factor; then change your password."},
	{AccountUnfrozen, true, mailPushHook, "Your gatehouse account was unfrozen", "Your account was unfrozen.", adviceFreeze},
	{CooldownStarted, false, mailPushHook, "Risky actions on your account are paused for a cool-down", "A security change on your account started a cool-down: until it ends, no new live API key, no transfer or bank-account change, no trading permission raised and no removal of another second factor.", adviceFreeze},
	{CooldownLifted, true, mailPushHook, "The cool-down of your account was lifted", "An administrator ended the cool-down of your account early: risky actions are allowed again.", adviceFreeze},
	{KeyHeld, true, mailPushHook, "An API key was held on a new network", "A live API key of your account, which you set to wait on new networks, was used from a network it had never been used from; that use was refused. Approve the network on the Keys page of the portal if it is yours.", adviceFreeze},
	{KeyNetworkApproved, false, mailPushHook, "A network was approved for an API key", "A network an API key of your account was held on was approved; the key now works from it.", adviceFreeze},
	{OrdersRateLimited, false, mailPushHook, "Orders refused: too many too fast", "A key or session of your account placed orders faster than its ceiling per minute allows; the orders over it were refused.", adviceFreeze},
	{PreferencesChanged, false, []Channel{Mail}, "Your notice settings changed", "The notices your account sends, and where, were changed.", adviceCheck},
	{PhraseChanged, true, []Channel{Mail}, "Your anti-phishing phrase changed", "The anti-phishing phrase shown at the top of these mails was changed. This mail already shows the new one.", adviceFreeze},
	{ApprovalApproved, false, mailHook, "A transaction was approved", "A transaction on your account was approved with your phone or security key.", adviceFreeze},
	{ApprovalDenied, true, mailPushHook, "A transaction was refused", "Someone asked you to approve a transaction on your account, and it was refused: they may be acting in your name.", adviceFreeze},
	{RecoveryRequested, true, mailPushHook, "Someone asked to recover your account without its second factor", "A recovery of your account was started: whoever started it knows your password and says they lost every second factor and recovery code. When the wait ends they may add a new second factor.", adviceCancel},
	{RecoveryReminder, true, mailPushHook, "A recovery of your account is still waiting", "A recovery of your account without its second factor is still waiting to complete.", adviceCancel},
	{RecoveryCancelled, true, mailPushHook, "The recovery of your account was cancelled", "The recovery of your account without its second factor was cancelled; nothing changed.", adviceCheck},
	{RecoveryCompleted, true, mailPushHook, "The recovery of your account completed", "The recovery of your account completed: every session ended, and a new session may add a second factor.", adviceFreeze},
	{RecoveryShortened, true, mailPushHook, "The wait of the recovery of your account was shortened", "Two administrators shortened the wait of the recovery of your account; it may complete now.", adviceCancel},
	{SignalApplied, true, mailPushHook, "A security advisory asks something of you", "The operators of gatehouse issued a security advisory that concerns your account.", "Do what it asks above: until you do, some doors may ask you to sign in again or refuse what the advisory covers."},
	{Summary, true, []Channel{Mail}, "More activity on your gatehouse account", "More notices than usual were due for your account, so they are summed up here.", adviceCheck},
}

var byEvent = func() map[Event]*Spec {
	m := make(map[Event]*Spec, len(catalogue))
	for i := range catalogue {
		m[catalogue[i].Event] = &catalogue[i]
	}
	return m
}()

// Catalogue returns every event's spec, in the order they are listed.
// The caller may not change the specs.
func Catalogue() []Spec { return catalogue }

// Lookup returns the spec of e, and whether e is a known event.
func Lookup(e Event) (Spec, bool) {
	s, ok := byEvent[e]
	if !ok {
		return Spec{}, false
	}
	return *s, true
}

// Critical reports whether e is security-critical: it cannot be
// switched off.
func Critical(e Event) bool {
	s, ok := byEvent[e]
	return ok && s.Critical
}

// Notice is one thing to tell a user. It holds no secret: it is stored in
// the outbox, delivered by mail, push and webhook, and listed back.
type Notice struct {
	// ID is stable across retries and channels: receivers drop duplicates by it.
	ID     string
	Event  Event
	UserID string
	Time   time.Time
	// Interface is the door (web, desktop, mobile, api); Device, IP the
	// client, as the change recorded them. Any may be empty.
	Interface string
	Device    string
	IP        string
	// Detail holds the event's facts (account, key, factor, reason...),
	// the audit event's detail as its owner may read it.
	Detail map[string]string
}

// FromAudit returns the notice an audit event gives its user, and false
// for an event that is not told (or belongs to nobody). It is the one
// mapping from the audit trail's types to notice events.
func FromAudit(e *audit.Event) (Notice, bool) {
	ev, ok := auditEvent(e)
	if !ok || e.UserID == "" {
		return Notice{}, false
	}
	n := Notice{Event: ev, UserID: e.UserID, Time: e.Time, Interface: e.Interface, IP: e.IP, Detail: map[string]string{}}
	for k, v := range audit.ForOwner(e).Detail {
		n.Detail[k] = v
	}
	for _, k := range []string{"name", "device_name"} {
		if v := n.Detail[k]; v != "" && n.Device == "" && (ev == SessionCreated || ev == DevicePending || ev == DeviceApproved) {
			n.Device = v
		}
	}
	return n, true
}

func auditEvent(e *audit.Event) (Event, bool) {
	switch e.Type {
	case audit.SessionStarted:
		return SessionCreated, true
	case audit.SessionEnded:
		// Ended from another session of the user, or by an operator; a
		// logout, a password change and a device removal are told by
		// their own notices.
		by, id := e.Detail["by_session"], e.Detail["session"]
		if e.Detail["signal"] != "" {
			return "", false // the signal's own notice tells why
		}
		if e.Actor == "admin" || (by != "" && by != id) {
			return SessionEndedByOther, true
		}
		return "", false
	}
	if e.Type == audit.KeyNewNetwork {
		// The address's own notice (apikey.new_address) tells of the use;
		// a refusal is told as such.
		if e.Detail["held"] == "true" {
			return KeyHeld, true
		}
		return "", false
	}
	ev, ok := fromAudit[e.Type]
	return ev, ok
}

// fromAudit maps the audit types that are told one to one.
var fromAudit = map[string]Event{
	audit.DeviceNew:           DevicePending,
	audit.DeviceTrusted:       DeviceApproved,
	audit.DeviceRevoked:       DeviceRevoked,
	audit.FactorAdded:         FactorAdded,
	audit.FactorRemoved:       FactorRemoved,
	audit.FactorGuessing:      FactorGuessing,
	audit.PasswordChanged:     PasswordChanged,
	audit.RecoveryUsed:        RecoveryUsed,
	audit.RecoveryRegenerated: RecoveryRegenerated,
	audit.KeyCreated:          KeyCreated,
	audit.KeyRotated:          KeyRotated,
	audit.KeyRevoked:          KeyRevoked,
	audit.KeyNewAddress:       KeyNewNetwork,
	audit.PermissionsChanged:  PermissionChanged,
	audit.AccountClosed:       AccountClosed,
	audit.NoticePreferences:   PreferencesChanged,
	audit.CooldownStarted:     CooldownStarted,
	audit.CooldownLifted:      CooldownLifted,
	audit.OrdersRateLimited:   OrdersRateLimited,
	audit.KeyNetworkApproved:  KeyNetworkApproved,
	audit.NoticePhrase:        PhraseChanged,
	audit.ApprovalApproved:    ApprovalApproved,
	audit.ApprovalDenied:      ApprovalDenied,
	audit.RecoveryRequested:   RecoveryRequested,
	audit.RecoveryReminder:    RecoveryReminder,
	audit.RecoveryCancelled:   RecoveryCancelled,
	audit.RecoveryCompleted:   RecoveryCompleted,
	audit.RecoveryShortened:   RecoveryShortened,
	audit.SignalApplied:       SignalApplied,
	"account.frozen":          AccountFrozen,
	"account.unfrozen":        AccountUnfrozen,
}
