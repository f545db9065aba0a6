// Package posturegate builds posture reports from the store: it reads one
// user's factors, devices, sessions, API keys, accounts and push
// requests, maps them into a [posture.Snapshot] and judges it with
// [posture.Assess]. It also sums the reports of every user for the
// platform team ([Summary]) and gates trading permissions on them
// ([CheckPermissions], [ChangePermissions]).
//
// The rules live in package posture; this package only reads and maps,
// so the server, the portal and the command line judge one state alike.
package posturegate

import (
	"context"
	"errors"
	"fmt"
	"gatehouse/internal/factor/push"
	"slices"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/apikey"
	"gatehouse/internal/device"
	"gatehouse/internal/factor"
	"gatehouse/internal/posture"
	"gatehouse/internal/session"
	"gatehouse/internal/signal"
	"gatehouse/internal/store"
	"gatehouse/internal/throttle"
	"gatehouse/internal/user"
)

// Reader is the part of the store a report is built from. Both
// [gatehouse/internal/store.Store] and a transaction's
// [gatehouse/internal/store.Tx] satisfy it.
type Reader interface {
	UserByID(ctx context.Context, id string) (*user.User, error)
	MembershipsOfUser(ctx context.Context, userID string) ([]*account.Membership, error)
	AccountByID(ctx context.Context, id string) (*account.Account, error)
	FactorsOfUser(ctx context.Context, userID string) ([]*factor.Factor, error)
	RecoveryCodes(ctx context.Context, userID string) ([]factor.RecoveryCode, error)
	DevicesOfUser(ctx context.Context, userID string) ([]*device.Device, error)
	SessionsOfUser(ctx context.Context, userID string) ([]*session.Session, error)
	SessionByID(ctx context.Context, id string) (*session.Session, error)
	KeysOfAccount(ctx context.Context, accountID string) ([]*apikey.Key, error)
	PushRequestsSince(ctx context.Context, userID string, since time.Time) ([]*push.Request, error)
	// ListSignals gives the security signals in force that concern the
	// user, shown in the report.
	ListSignals(ctx context.Context) ([]*signal.Signal, error)
	// Reserve reads the user's second-factor counter: a decision that
	// refuses stores nothing.
	Reserve(ctx context.Context, key string, decide func(throttle.State) (throttle.State, bool)) (throttle.State, bool, error)
}

// PushWindow is how far back push requests are read: the window in
// which the posture rules count unapproved pushes.
const PushWindow = 30 * 24 * time.Hour

// Platform is what a report knows of the platform around its user.
type Platform struct {
	// Entities names the legal entities of accounts; nil means
	// [posture.DefaultEntities].
	Entities posture.EntityTable
	// SignInNotices says gatehouse e-mails every user about every new
	// sign-in (mail.notify_sign_ins with a working mailer).
	SignInNotices bool
	// FactorRule is the second-factor counter's rule (throttle.factor);
	// the zero Rule means [throttle.DefaultPolicy]'s.
	FactorRule throttle.Rule
}

// ForUser returns the posture report of the user with userID at now,
// judged with what p says of the platform. An unknown user is the
// store's not-found error.
func ForUser(ctx context.Context, st Reader, userID string, p Platform, now time.Time) (posture.Report, error) {
	snap, err := Snapshot(ctx, st, userID, p, now)
	if err != nil {
		return posture.Report{}, err
	}
	r := posture.Assess(snap, now)
	if r.Signals, err = signalNotices(ctx, st, userID, now); err != nil {
		return posture.Report{}, err
	}
	return r, nil
}

// signalNotices lists the open, applied signals whose scope holds the
// user, with the steps the user still owes (a security key, another
// factor than SMS) and the rules in force meanwhile.
func signalNotices(ctx context.Context, st Reader, userID string, now time.Time) ([]posture.SignalNotice, error) {
	sigs, err := st.ListSignals(ctx)
	if err != nil {
		return nil, fmt.Errorf("posturegate: signals: %w", err)
	}
	u, err := st.UserByID(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("posturegate: user: %w", err)
	}
	var fs []*factor.Factor
	var out []posture.SignalNotice
	for _, sg := range sigs {
		if !sg.InForce() || sg.AppliedAt.IsZero() || !sg.UserInScope(u) {
			continue
		}
		if fs == nil {
			if fs, err = st.FactorsOfUser(ctx, userID); err != nil {
				return nil, fmt.Errorf("posturegate: factors: %w", err)
			}
		}
		n := posture.SignalNotice{ID: sg.ID, Title: sg.Title, Severity: string(sg.Severity), Link: sg.Link}
		for _, step := range sg.Steps {
			switch step.Kind {
			case signal.RequirePhishingResistant:
				if !slices.ContainsFunc(fs, func(f *factor.Factor) bool { return f.Kind == factor.WebAuthn && f.Usable() }) {
					n.Owed = append(n.Owed, step.Todo())
				}
			case signal.ForbidSMS:
				if slices.ContainsFunc(fs, func(f *factor.Factor) bool { return f.Kind == factor.SMS }) {
					n.Owed = append(n.Owed, step.Todo())
				}
			case signal.Reauth, signal.RouteAAL, signal.RotateKeys:
				n.Rules = append(n.Rules, step.Todo())
			}
		}
		out = append(out, n)
	}
	return out, nil
}

// Snapshot reads the stored state of the user with userID at now and
// maps it for the posture rules:
//
//   - factors: the active second factors, with their kind and whether a
//     WebAuthn credential is device-bound; pending enrolments, and
//     credentials flagged as possible clones, cannot sign anyone in and
//     are left out;
//   - the recovery codes not yet used;
//   - devices not revoked, trusted or not; whether a phone has a screen
//     lock, or holds the password, is not known to the server;
//   - the sessions that can still be used at now, with their interface,
//     device, start, last use, absolute end and assurance;
//   - the keys of every account the user is a member of that still open
//     a door at now (not revoked, expired or past a rotation's overlap),
//     with scopes, environment, allowlist, creation, expiry and last use.
//     A key whose minting session was later ended as untrusted
//     ([session.Session.EndedUntrusted]) has MinterEnded set.
//     Which scopes a key used is not recorded, so UsedScopes stays nil
//     (unknown); a key is only accepted in its own environment, so a key
//     that was ever used was used there;
//   - the accounts, with permissions and legal entity;
//   - push requests of the last [PushWindow], a pending one past its
//     expiry counted as unanswered;
//   - the run of wrong second-factor answers the throttle counts, unless
//     forgotten, and the run at which it closes.
//
// Session notifications are off: gatehouse e-mails only the approval of
// a new device, not every new session.
func Snapshot(ctx context.Context, st Reader, userID string, p Platform, now time.Time) (posture.Snapshot, error) {
	entities := p.Entities
	if entities == nil {
		entities = posture.DefaultEntities()
	}
	u, err := st.UserByID(ctx, userID)
	if err != nil {
		return posture.Snapshot{}, fmt.Errorf("posturegate: user: %w", err)
	}
	snap := posture.Snapshot{UserID: u.ID, UserName: u.Username, Profile: posture.Profile(u.Profile)}
	snap.Settings.SessionNotifications = p.SignInNotices

	fs, err := st.FactorsOfUser(ctx, u.ID)
	if err != nil {
		return posture.Snapshot{}, fmt.Errorf("posturegate: factors: %w", err)
	}
	for _, f := range fs {
		if !f.Usable() {
			continue
		}
		snap.Factors = append(snap.Factors, posture.Factor{
			ID: f.ID, Kind: posture.FactorKind(f.Kind), Name: f.Name,
			DeviceBound: f.Kind == factor.WebAuthn && f.DeviceBound,
			Created:     f.CreatedAt, LastUsed: f.LastUsedAt,
		})
	}
	codes, err := st.RecoveryCodes(ctx, u.ID)
	if err != nil {
		return posture.Snapshot{}, fmt.Errorf("posturegate: recovery codes: %w", err)
	}
	for _, c := range codes {
		if c.UsedAt.IsZero() {
			snap.RecoveryCodesLeft++
		}
	}

	devs, err := st.DevicesOfUser(ctx, u.ID)
	if err != nil {
		return posture.Snapshot{}, fmt.Errorf("posturegate: devices: %w", err)
	}
	for _, d := range devs {
		if d.Status == device.Revoked {
			continue
		}
		snap.Devices = append(snap.Devices, posture.Device{
			ID: d.ID, Interface: d.Interface, Name: d.Name, Trusted: d.Status == device.Trusted, Lock: posture.LockUnknown,
		})
	}

	sessions, err := st.SessionsOfUser(ctx, u.ID)
	if err != nil {
		return posture.Snapshot{}, fmt.Errorf("posturegate: sessions: %w", err)
	}
	for _, s := range sessions {
		if !s.Active(now) {
			continue
		}
		snap.Sessions = append(snap.Sessions, posture.Session{
			ID: s.ID, Interface: string(s.Door), Device: s.DeviceName,
			Created: s.CreatedAt, LastSeen: s.LastSeenAt, Expires: s.ExpiresAt,
			Assurance: min(max(int(s.Assurance), 1), 3),
		})
	}

	ms, err := st.MembershipsOfUser(ctx, u.ID)
	if err != nil {
		return posture.Snapshot{}, fmt.Errorf("posturegate: memberships: %w", err)
	}
	for _, m := range ms {
		a, err := st.AccountByID(ctx, m.AccountID)
		if err != nil {
			return posture.Snapshot{}, fmt.Errorf("posturegate: account %s: %w", m.AccountID, err)
		}
		snap.Accounts = append(snap.Accounts, mapAccount(a, entities))
		keys, err := st.KeysOfAccount(ctx, a.ID)
		if err != nil {
			return posture.Snapshot{}, fmt.Errorf("posturegate: keys of %s: %w", a.ID, err)
		}
		for _, k := range keys {
			if k.Usable(now) != nil {
				continue
			}
			pk := mapKey(k)
			if k.SessionID != "" {
				s, err := st.SessionByID(ctx, k.SessionID)
				switch {
				case errors.Is(err, store.ErrNotFound):
					// Purged long after it ended: the reason is gone.
				case err != nil:
					return posture.Snapshot{}, fmt.Errorf("posturegate: session of key %s: %w", k.ID, err)
				default:
					pk.MinterEnded = s.EndedUntrusted()
				}
			}
			snap.Keys = append(snap.Keys, pk)
		}
	}

	pushes, err := st.PushRequestsSince(ctx, u.ID, now.Add(-PushWindow))
	if err != nil {
		return posture.Snapshot{}, fmt.Errorf("posturegate: push requests: %w", err)
	}
	for _, p := range pushes {
		if out, ok := pushOutcome(p, now); ok {
			snap.Pushes = append(snap.Pushes, posture.PushAttempt{Time: p.CreatedAt, Outcome: out})
		}
	}

	rule := p.FactorRule
	if rule == (throttle.Rule{}) {
		rule = throttle.DefaultPolicy().Factor
	}
	st8, _, err := st.Reserve(ctx, throttle.FactorKey(u.ID), func(s throttle.State) (throttle.State, bool) { return s, false })
	if err != nil {
		return posture.Snapshot{}, fmt.Errorf("posturegate: factor throttle: %w", err)
	}
	if rule.Forget == 0 || st8.LastAt.IsZero() || now.Sub(st8.LastAt) < rule.Forget {
		snap.FactorFailures = st8.Failures
	}
	snap.FactorLimit = rule.Limit
	return snap, nil
}

func mapAccount(a *account.Account, entities posture.EntityTable) posture.Account {
	out := posture.Account{
		ID: a.ID, Name: a.Name, Environment: string(a.Environment),
		Permissions: posture.Permissions(a.Permissions),
	}
	if a.EntityCode != "" {
		out.Entity, _ = entities.Lookup(a.EntityCode)
	}
	return out
}

func mapKey(k *apikey.Key) posture.APIKey {
	out := posture.APIKey{
		ID: k.ID, Name: k.Name, Account: k.AccountID, Environment: string(k.Environment),
		Scopes:  k.Scopes.Names(),
		Created: k.CreatedAt, Expires: k.ExpiresAt, LastUsed: k.LastUsedAt,
	}
	for _, p := range k.AllowIPs {
		out.Allowlist = append(out.Allowlist, p.String())
	}
	if !k.LastUsedAt.IsZero() {
		out.UsedEnvironments = []string{string(k.Environment)}
	}
	return out
}

// pushOutcome maps a stored push request to the outcome the rules count;
// false for one still waiting for its answer.
func pushOutcome(p *push.Request, now time.Time) (string, bool) {
	switch p.Outcome {
	case push.RequestApproved:
		return posture.PushApproved, true
	case push.RequestDenied:
		return posture.PushDenied, true
	case push.RequestReported:
		return posture.PushReported, true
	case push.RequestExpired:
		return posture.PushExpired, true
	}
	if now.Before(p.ExpiresAt) {
		return "", false // pending: the user may still answer
	}
	return posture.PushExpired, true
}
