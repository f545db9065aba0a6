package posturegate_test

import (
	"errors"
	"testing"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/authz"
	"gatehouse/internal/fault"
	"gatehouse/internal/posturegate"
	"gatehouse/internal/session"
	"gatehouse/internal/user"
)

// TestSetPermissionsDecidesWhoMay is the rule "who may change trading
// permissions", which lived in the API's handler: owners for themselves
// with a fresh AAL2 proof; the platform team for anyone, naming the
// owner, past the gate with a reason; nobody else.
func TestSetPermissionsDecidesWhoMay(t *testing.T) {
	f := newFixture(t)
	owner := f.user("olga", user.Occasional)
	f.clean(owner)
	trader := f.user("tim", user.Occasional)
	f.clean(trader)
	stranger := f.user("sam", user.Occasional)
	admin := f.user("ada", user.Occasional)
	f.account("LIVE", account.Live, "US", account.Permissions{})
	f.member(owner, "LIVE", account.Owner)
	f.member(trader, "LIVE", account.Trader)
	svc := &posturegate.Service{Store: f.st, Admins: []string{"Ada"}, StepUpWindow: 5 * time.Minute, Now: func() time.Time { return now }}

	fresh := func(u *user.User, aal session.Assurance) session.Actor {
		return session.Actor{Session: &session.Session{ID: "ses_" + u.Username, UserID: u.ID, Door: session.Web, Assurance: aal, AuthTime: now.Add(-time.Minute)}, IP: "192.0.2.7"}
	}
	stale := func(u *user.User) session.Actor {
		a := fresh(u, session.AAL2)
		a.Session.AuthTime = now.Add(-time.Hour)
		return a
	}
	forbidden := func(err error) bool { var fe *authz.ForbiddenError; return errors.As(err, &fe) }
	stepUp := func(err error) bool { var se *session.StepUpError; return errors.As(err, &se) }
	notFound := func(err error) bool { return errors.Is(err, posturegate.ErrNoAccount) }
	invalidUser := func(err error) bool {
		fs := fault.Fields(err)
		return fault.Of(err) == fault.Invalid && len(fs) == 1 && fs[0].Name == "user"
	}
	tests := []struct {
		name  string
		actor session.Actor
		req   posturegate.PermissionRequest
		want  func(error) bool // nil: allowed
	}{
		{"OwnerTurnsOn", fresh(owner, session.AAL2), posturegate.PermissionRequest{Options: yes()}, nil},
		{"OwnerWithStaleProofStepsUp", stale(owner), posturegate.PermissionRequest{Options: yes()}, stepUp},
		{"OwnerAtAAL1StepsUp", fresh(owner, session.AAL1), posturegate.PermissionRequest{Options: yes()}, stepUp},
		{"TraderIsForbidden", fresh(trader, session.AAL2), posturegate.PermissionRequest{Options: yes()}, forbidden},
		{"StrangerSeesNoAccount", fresh(stranger, session.AAL2), posturegate.PermissionRequest{Options: yes()}, notFound},
		{"MalformedAccountIsNone", fresh(owner, session.AAL2), posturegate.PermissionRequest{Account: "../x", Options: yes()}, notFound},
		{"OwnerMayNotNameAUser", fresh(owner, session.AAL2), posturegate.PermissionRequest{Options: yes(), User: "olga"}, forbidden},
		{"OwnerMayNotOverride", fresh(owner, session.AAL2), posturegate.PermissionRequest{Options: yes(), Override: "ticket 1"}, forbidden},
		{"AdminForAnOwner", fresh(admin, session.AAL2), posturegate.PermissionRequest{Margin: yes(), User: "olga"}, nil},
		{"AdminNamingNoOne", fresh(admin, session.AAL2), posturegate.PermissionRequest{Margin: yes(), User: "nobody"}, invalidUser},
		{"AdminNamingATrader", fresh(admin, session.AAL2), posturegate.PermissionRequest{Margin: yes(), User: "tim"}, invalidUser},
		{"AdminWithStaleProofStepsUp", stale(admin), posturegate.PermissionRequest{Margin: yes(), User: "olga"}, stepUp},
		// An administrator's AAL1 session is no administrator's: the
		// account is not theirs to see.
		{"AdminAtAAL1SeesNoAccount", fresh(admin, session.AAL1), posturegate.PermissionRequest{Margin: yes(), User: "olga"}, notFound},
		{"AdminUnknownAccount", fresh(admin, session.AAL2), posturegate.PermissionRequest{Account: "NOPE", Margin: no()}, notFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.req.Account == "" {
				tt.req.Account = "LIVE"
			}
			before := permissions(t, f.st, "LIVE")
			_, err := svc.SetPermissions(ctx, tt.actor, tt.req)
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("SetPermissions = %v, want nil", err)
			case tt.want != nil && !tt.want(err):
				t.Fatalf("SetPermissions = %v (kind %v), want the refusal %s names", err, fault.Of(err), tt.name)
			case tt.want != nil && permissions(t, f.st, "LIVE") != before:
				t.Errorf("a refused change changed the permissions: %+v, want %+v", permissions(t, f.st, "LIVE"), before)
			}
		})
	}
}

func TestAdminRoutesNeedAnAdministrator(t *testing.T) {
	f := newFixture(t)
	admin := f.user("ada", user.Occasional)
	other := f.user("bob", user.Occasional)
	svc := &posturegate.Service{Store: f.st, Admins: []string{"ada"}, Now: func() time.Time { return now }}
	as := func(u *user.User, aal session.Assurance) session.Actor {
		return session.Actor{Session: &session.Session{UserID: u.ID, Assurance: aal, AuthTime: now.Add(-10 * time.Hour)}}
	}
	if _, err := svc.ReportOf(ctx, as(admin, session.AAL2), "bob"); err != nil {
		t.Errorf("ReportOf(bob) by an AAL2 admin = %v, want nil (an old proof will do for reading)", err)
	}
	var se *session.StepUpError
	if _, err := svc.Summary(ctx, as(admin, session.AAL1)); !errors.As(err, &se) {
		t.Errorf("Summary by an AAL1 admin = %v, want a step-up", err)
	}
	var fe *authz.ForbiddenError
	if _, err := svc.Summary(ctx, as(other, session.AAL3)); !errors.As(err, &fe) {
		t.Errorf("Summary by a non-admin = %v, want forbidden", err)
	}
	if _, err := svc.ReportOf(ctx, as(admin, session.AAL2), "nobody"); !errors.Is(err, posturegate.ErrNoUser) {
		t.Errorf("ReportOf(nobody) = %v, want ErrNoUser", err)
	}
}
