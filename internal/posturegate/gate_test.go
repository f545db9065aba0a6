package posturegate_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"gatehouse/internal/account"
	"gatehouse/internal/audit"
	"gatehouse/internal/factor"
	"gatehouse/internal/posture"
	"gatehouse/internal/posturegate"
	"gatehouse/internal/store"
	"gatehouse/internal/user"
)

func yes() *bool { b := true; return &b }
func no() *bool  { b := false; return &b }

// events returns the audit events of u, oldest first.
func events(t *testing.T, st store.Store, u *user.User) []*audit.Event {
	t.Helper()
	evs, err := st.AuditOfUser(ctx, u.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
		evs[i], evs[j] = evs[j], evs[i]
	}
	return evs
}

func permissions(t *testing.T, st store.Store, id string) account.Permissions {
	t.Helper()
	a, err := st.AccountByID(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return a.Permissions
}

func TestChangePermissions(t *testing.T) {
	f := newFixture(t)
	sms := f.user("sunny", user.Occasional)
	f.factor(sms, "sms-1", factor.SMS, false)
	clean := f.user("cleo", user.Occasional)
	f.clean(clean)
	trader := f.user("tim", user.Occasional)
	f.clean(trader)
	f.account("LIVE", account.Live, "US", account.Permissions{})
	f.member(sms, "LIVE", account.Owner)
	f.member(clean, "LIVE", account.Owner)
	f.member(trader, "LIVE", account.Trader)

	t.Run("Refused", func(t *testing.T) {
		_, err := posturegate.ChangePermissions(ctx, f.st, posturegate.Change{Account: "LIVE", Options: yes(), For: sms.ID, Actor: sms.ID}, posturegate.Platform{}, now)
		var ge *posturegate.GateError
		if !errors.As(err, &ge) || len(ge.Findings) != 1 || ge.Findings[0].ID != "sms-only-second-factor" {
			t.Fatalf("ChangePermissions = %v, want a gate refusal naming sms-only-second-factor", err)
		}
		if p := permissions(t, f.st, "LIVE"); p != (account.Permissions{}) {
			t.Errorf("permissions after a refusal = %+v, want all off", p)
		}
		if evs := events(t, f.st, sms); len(evs) != 0 {
			t.Errorf("a refusal wrote %d audit events", len(evs))
		}
	})

	t.Run("Allowed", func(t *testing.T) {
		res, err := posturegate.ChangePermissions(ctx, f.st, posturegate.Change{Account: "LIVE", Options: yes(), Margin: yes(), For: clean.ID, Actor: clean.ID, Interface: "web", IP: "192.0.2.9"}, posturegate.Platform{}, now)
		if err != nil {
			t.Fatal(err)
		}
		want := account.Permissions{Options: true, Margin: true}
		if !res.Changed() || res.After != want || res.Before != (account.Permissions{}) || len(res.Overridden) != 0 {
			t.Errorf("Result = %+v", res)
		}
		if p := permissions(t, f.st, "LIVE"); p != want {
			t.Errorf("stored permissions = %+v, want %+v", p, want)
		}
		evs := events(t, f.st, clean)
		if len(evs) != 1 {
			t.Fatalf("audit events = %d, want 1", len(evs))
		}
		e := evs[0]
		wantDetail := map[string]string{"account": "LIVE", "environment": "live", "before": "none", "after": "options,margin", "turned_on": "options,margin", "turned_off": ""}
		if e.Type != audit.PermissionsChanged || e.Actor != clean.ID || e.Interface != "web" || e.IP != "192.0.2.9" || !cmp.Equal(e.Detail, wantDetail) {
			t.Errorf("audit event = %+v %v", e, e.Detail)
		}
	})

	t.Run("TurnOffDespiteFindings", func(t *testing.T) {
		res, err := posturegate.ChangePermissions(ctx, f.st, posturegate.Change{Account: "LIVE", Margin: no(), For: sms.ID, Actor: sms.ID}, posturegate.Platform{}, now)
		if err != nil {
			t.Fatalf("turning margin off with a high finding open = %v, want allowed", err)
		}
		if res.After != (account.Permissions{Options: true}) {
			t.Errorf("after = %+v", res.After)
		}
	})

	t.Run("Override", func(t *testing.T) {
		const reason = "ticket 4711: client signed the options agreement"
		res, err := posturegate.ChangePermissions(ctx, f.st, posturegate.Change{Account: "LIVE", Withdrawals: yes(), For: sms.ID, Actor: "admin", Override: reason}, posturegate.Platform{}, now)
		if err != nil {
			t.Fatal(err)
		}
		// One root cause, one finding: SMS as the only factor is a
		// consequence of the missing phishing-resistant factor.
		if len(res.Overridden) != 1 || res.Overridden[0].ID != "phishing-no-resistant-factor" ||
			len(res.Overridden[0].Also) != 1 || res.Overridden[0].Also[0].ID != "sms-only-second-factor" {
			t.Errorf("Overridden = %+v", res.Overridden)
		}
		if p := permissions(t, f.st, "LIVE"); !p.Withdrawals {
			t.Errorf("withdrawals not on after override: %+v", p)
		}
		evs := events(t, f.st, sms)
		last := evs[len(evs)-2:]
		if last[0].Type != audit.PermissionsChanged || last[0].Detail["override_reason"] != reason || last[0].Actor != "admin" {
			t.Errorf("change event = %+v %v", last[0], last[0].Detail)
		}
		o := last[1]
		if o.Type != audit.PermissionsOverride || o.Detail["reason"] != reason || o.Detail["turned_on"] != "withdrawals" ||
			o.Detail["findings"] != "phishing-no-resistant-factor" || o.UserID != sms.ID {
			t.Errorf("override event = %+v %v", o, o.Detail)
		}
		if _, err := audit.Verify(f.st.AuditEvents(ctx)); err != nil {
			t.Errorf("audit chain: %v", err)
		}
	})

	t.Run("OverrideNotNeeded", func(t *testing.T) {
		res, err := posturegate.ChangePermissions(ctx, f.st, posturegate.Change{Account: "LIVE", Futures: yes(), For: clean.ID, Actor: "admin", Override: "just in case"}, posturegate.Platform{}, now)
		if err != nil || len(res.Overridden) != 0 {
			t.Fatalf("= %+v, %v", res, err)
		}
		evs := events(t, f.st, clean)
		if e := evs[len(evs)-1]; e.Type != audit.PermissionsChanged {
			t.Errorf("last event = %s, want only the change: the gate was not in the way", e.Type)
		}
	})

	t.Run("NoChangeWritesNothing", func(t *testing.T) {
		before := len(events(t, f.st, clean))
		res, err := posturegate.ChangePermissions(ctx, f.st, posturegate.Change{Account: "LIVE", Options: yes(), For: clean.ID, Actor: clean.ID}, posturegate.Platform{}, now)
		if err != nil || res.Changed() {
			t.Fatalf("= %+v, %v", res, err)
		}
		if after := len(events(t, f.st, clean)); after != before {
			t.Errorf("a change that changes nothing wrote %d events", after-before)
		}
	})

	t.Run("ErrNotOwner", func(t *testing.T) {
		_, err := posturegate.ChangePermissions(ctx, f.st, posturegate.Change{Account: "LIVE", Options: no(), For: trader.ID, Actor: trader.ID}, posturegate.Platform{}, now)
		if !errors.Is(err, posturegate.ErrNotOwner) {
			t.Errorf("a trader changing permissions = %v, want ErrNotOwner", err)
		}
		outsider := f.user("olga", user.Occasional)
		_, err = posturegate.ChangePermissions(ctx, f.st, posturegate.Change{Account: "LIVE", Options: no(), For: outsider.ID, Actor: outsider.ID}, posturegate.Platform{}, now)
		if !errors.Is(err, posturegate.ErrNotOwner) {
			t.Errorf("a non-member changing permissions = %v, want ErrNotOwner", err)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := posturegate.ChangePermissions(ctx, f.st, posturegate.Change{Account: "NOPE", Options: yes(), For: clean.ID, Actor: clean.ID}, posturegate.Platform{}, now)
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown account = %v, want ErrNotFound", err)
		}
	})

	t.Run("ErrNoGateUser", func(t *testing.T) {
		_, err := posturegate.ChangePermissions(ctx, f.st, posturegate.Change{Account: "LIVE", Margin: yes(), Actor: "usr_admin"}, posturegate.Platform{}, now)
		if !errors.Is(err, posturegate.ErrNoGateUser) {
			t.Errorf("turning on for nobody = %v, want ErrNoGateUser", err)
		}
		res, err := posturegate.ChangePermissions(ctx, f.st, posturegate.Change{Account: "LIVE", Withdrawals: no(), Actor: "usr_admin"}, posturegate.Platform{}, now)
		if err != nil || res.After.Withdrawals {
			t.Errorf("turning off for nobody = %+v, %v; want allowed", res, err)
		}
	})
}

func TestSummary(t *testing.T) {
	f := newFixture(t)
	sms := f.user("sunny", user.Occasional)
	f.factor(sms, "sms-1", factor.SMS, false)
	f.user("nora", user.Occasional) // no second factor at all
	clean := f.user("cleo", user.Occasional)
	f.clean(clean)
	f.account("LIVE", account.Live, "US", account.Permissions{})
	f.member(sms, "LIVE", account.Owner)

	o, err := posturegate.Summary(ctx, f.st, posturegate.Platform{}, now)
	if err != nil {
		t.Fatal(err)
	}
	if o.Users != 3 || o.UsersWithHigh != 2 || !o.AssessedAt.Equal(now) {
		t.Errorf("Overview = %d users, %d with high, at %v; want 3, 2", o.Users, o.UsersWithHigh, o.AssessedAt)
	}
	for _, tt := range []struct {
		check    string
		exposure posture.Exposure
		users    int
	}{
		{"sms-only-second-factor", posture.High, 1},
		{"no-second-factor", posture.High, 1},
		{"notifications-off", posture.Medium, 3},
		{"phishing", posture.Mitigated, 1},
	} {
		c, ok := o.Count(tt.check, tt.exposure)
		if !ok || c.Users != tt.users || c.Findings != tt.users {
			t.Errorf("count of %s/%s = %+v, %v; want %d users", tt.check, tt.exposure, c, ok, tt.users)
		}
	}
	total := 0
	for _, c := range o.Checks {
		total += c.Findings
	}
	sum := 0
	for _, e := range posture.Exposures {
		n, ok := o.Exposures[e]
		if !ok {
			t.Errorf("exposure %s missing from the counts", e)
		}
		sum += n
	}
	if sum != total || o.Exposures[posture.High] != 2 {
		t.Errorf("exposures %v sum to %d, checks to %d; want equal, 2 high", o.Exposures, sum, total)
	}
	for i := 1; i < len(o.Checks); i++ {
		a, b := o.Checks[i-1], o.Checks[i]
		if a.Exposure == b.Exposure && a.Check > b.Check {
			t.Errorf("checks out of order: %s before %s", a.Check, b.Check)
		}
	}
	if o.Checks[0].Exposure != posture.High {
		t.Errorf("first check %+v; want a high one first", o.Checks[0])
	}
}
