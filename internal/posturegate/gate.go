package posturegate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/audit"
	"gatehouse/internal/fault"
	"gatehouse/internal/posture"
	"gatehouse/internal/store"
)

// Errors of [ChangePermissions].
var (
	// ErrNotOwner refuses a change for a user who is not an owner of the
	// account: only an owner's posture may gate its permissions.
	ErrNotOwner = fault.New(fault.Forbidden, "posturegate: the user is not an owner of the account")
	// ErrNoGateUser refuses to turn a permission on without a user whose
	// posture gates it.
	ErrNoGateUser = fault.NewField("user", "name the owner you act for: turning a permission on is gated on their posture",
		"posturegate: turning a permission on needs the user it is done for")
)

// GateError refuses to turn trading permissions on while the posture of
// the user they are turned on for has a high finding. Findings are those
// high findings, in the report's order; they say what to fix first.
type GateError struct {
	UserID  string
	Account string
	// TurningOn names the permissions the refused change would turn on.
	TurningOn []string
	Findings  []posture.Finding
}

// Error names the permissions refused and the ids of the findings.
func (e *GateError) Error() string {
	ids := make([]string, len(e.Findings))
	for i, f := range e.Findings {
		ids[i] = f.ID
	}
	return fmt.Sprintf("posturegate: turning on %s for account %s refused while high findings are open: %s",
		strings.Join(e.TurningOn, ", "), e.Account, strings.Join(ids, ", "))
}

// Kind is [fault.PostureGate].
func (e *GateError) Kind() fault.Kind { return fault.PostureGate }

// TurningOn names the permissions that are off in current and on in
// want, in the order options, margin, futures, withdrawals.
func TurningOn(want, current account.Permissions) []string {
	var out []string
	for _, p := range permissionList(want) {
		if !hasPermission(current, p) {
			out = append(out, p)
		}
	}
	return out
}

// permissionList names the permissions that are on.
func permissionList(p account.Permissions) []string {
	return posture.Permissions(p).List()
}

func hasPermission(p account.Permissions, name string) bool {
	switch name {
	case "options":
		return p.Options
	case "margin":
		return p.Margin
	case "futures":
		return p.Futures
	case "withdrawals":
		return p.Withdrawals
	}
	return false
}

// CheckPermissions is the permission gate. It returns nil when changing
// the permissions of the account with accountID from current to want
// turns nothing on: turning permissions off is always allowed. Otherwise
// it judges the posture of the user with userID as it would be after the
// change (with want in place of the account's permissions, because some
// failure modes grow to high once margin, options, futures or withdrawals
// are on) and returns a [*GateError] listing the high findings when there
// is any. The permissions-ahead-of-controls finding is left out of the
// list: it is open only because the others are, and fixing them closes
// it.
func CheckPermissions(ctx context.Context, st Reader, userID, accountID string, want, current account.Permissions, p Platform, now time.Time) error {
	on := TurningOn(want, current)
	if len(on) == 0 {
		return nil
	}
	highs, err := highsAfter(ctx, st, userID, accountID, want, p, now)
	if err != nil {
		return err
	}
	if len(highs) == 0 {
		return nil
	}
	return &GateError{UserID: userID, Account: accountID, TurningOn: on, Findings: highs}
}

// highsAfter returns the high findings of the user's posture with the
// account's permissions set to want.
func highsAfter(ctx context.Context, st Reader, userID, accountID string, want account.Permissions, p Platform, now time.Time) ([]posture.Finding, error) {
	snap, err := Snapshot(ctx, st, userID, p, now)
	if err != nil {
		return nil, err
	}
	for i := range snap.Accounts {
		if snap.Accounts[i].ID == accountID {
			snap.Accounts[i].Permissions = posture.Permissions(want)
		}
	}
	var highs []posture.Finding
	for _, f := range posture.Assess(snap, now).Findings {
		if f.Exposure == posture.High && f.FailureMode != posture.PermissionsAhead {
			highs = append(highs, f)
		}
	}
	return highs, nil
}

// Change asks to change some of an account's trading permissions. A nil
// field is left as it is.
type Change struct {
	Account     string
	Options     *bool
	Margin      *bool
	Futures     *bool
	Withdrawals *bool
	// For is the id of the user the change is made for, whose posture
	// gates it; it must be an owner of the account. It may be empty only
	// when nothing is turned on.
	For string
	// Actor is who makes the change, for the audit trail: a user id, or
	// "admin" for the command line.
	Actor     string
	Interface string // the actor's door, for the audit trail; may be empty
	IP        string // the actor's address, for the audit trail; may be empty
	// Override, when not empty, is the reason the gate is bypassed. The
	// caller decides who may give one (an administrator); the bypass and
	// the findings it passed over are audited.
	Override string
}

// apply returns p with c's fields set.
func (c Change) apply(p account.Permissions) account.Permissions {
	set := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	set(&p.Options, c.Options)
	set(&p.Margin, c.Margin)
	set(&p.Futures, c.Futures)
	set(&p.Withdrawals, c.Withdrawals)
	return p
}

// Result is what [ChangePermissions] did.
type Result struct {
	Before, After account.Permissions
	// Overridden are the high findings an override passed over; empty
	// when the gate was not in the way.
	Overridden []posture.Finding
}

// Changed reports whether any permission changed.
func (r Result) Changed() bool { return r.Before != r.After }

// TxRunner runs a function in one store transaction; a
// [gatehouse/internal/store.Store] is one.
type TxRunner interface {
	InTx(ctx context.Context, fn func(store.Tx) error) error
}

// ChangePermissions applies c in one transaction: it reads the account,
// checks that c.For is an owner of it, runs the gate ([CheckPermissions])
// unless c.Override gives a reason, stores the new permissions and
// appends the audit events, "permissions.changed" for every change and
// "permissions.override" when an override passed over high findings. A
// change that changes nothing writes nothing.
//
// It returns the store's not-found error for an unknown account,
// [ErrNotOwner], [ErrNoGateUser] or a [*GateError].
func ChangePermissions(ctx context.Context, st TxRunner, c Change, p Platform, now time.Time) (Result, error) {
	var res Result
	err := st.InTx(ctx, func(tx store.Tx) error {
		res = Result{}
		a, err := tx.AccountByID(ctx, c.Account)
		if err != nil {
			return fmt.Errorf("posturegate: account: %w", err)
		}
		res.Before = a.Permissions
		res.After = c.apply(a.Permissions)
		on := TurningOn(res.After, res.Before)
		if c.For != "" {
			m, err := tx.Membership(ctx, c.For, a.ID)
			if errors.Is(err, store.ErrNotFound) || (err == nil && m.Role != account.Owner) {
				return ErrNotOwner
			}
			if err != nil {
				return err
			}
		} else if len(on) > 0 {
			return ErrNoGateUser
		}
		if len(on) > 0 {
			// Raising a permission waits out the owner's cool-down, even
			// for an administrator: lifting it is a separate, audited act.
			u, err := tx.UserByID(ctx, c.For)
			if err != nil {
				return err
			}
			if err := u.CheckCooldown(now, "raising trading permissions"); err != nil {
				return err
			}
		}
		if !res.Changed() {
			return nil
		}
		err = CheckPermissions(ctx, tx, c.For, a.ID, res.After, res.Before, p, now)
		var ge *GateError
		switch {
		case errors.As(err, &ge) && c.Override != "":
			res.Overridden = ge.Findings
		case err != nil:
			return err
		}
		if err := tx.SetPermissions(ctx, a.ID, res.After); err != nil {
			return err
		}
		base := func() map[string]string {
			return map[string]string{"account": a.ID, "environment": string(a.Environment)}
		}
		d := base()
		d["before"] = words(res.Before)
		d["after"] = words(res.After)
		d["turned_on"] = strings.Join(on, ",")
		d["turned_off"] = strings.Join(TurningOn(res.Before, res.After), ",")
		if c.Override != "" {
			d["override_reason"] = c.Override
		}
		trail := c.For
		if trail == "" {
			trail = c.Actor // an administrator turning permissions off for nobody in particular
		}
		ev := &audit.Event{Time: now, Type: audit.PermissionsChanged, UserID: trail, Actor: c.Actor, Interface: c.Interface, IP: c.IP, Detail: d}
		if err := tx.AppendAudit(ctx, ev); err != nil {
			return err
		}
		if len(res.Overridden) == 0 {
			return nil
		}
		d = base()
		d["reason"] = c.Override
		d["turned_on"] = strings.Join(on, ",")
		ids := make([]string, len(res.Overridden))
		for i, f := range res.Overridden {
			ids[i] = f.ID
		}
		d["findings"] = strings.Join(ids, ",")
		return tx.AppendAudit(ctx, &audit.Event{Time: now, Type: audit.PermissionsOverride, UserID: trail, Actor: c.Actor, Interface: c.Interface, IP: c.IP, Detail: d})
	})
	if err != nil {
		return Result{}, err
	}
	return res, nil
}

// words describes p for the audit trail: the permissions on, or "none".
func words(p account.Permissions) string {
	if l := permissionList(p); len(l) > 0 {
		return strings.Join(l, ",")
	}
	return "none"
}
