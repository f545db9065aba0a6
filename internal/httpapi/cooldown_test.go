package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/cooldown"
	"gatehouse/internal/login"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/store/storetest"
	"gatehouse/internal/user"
)

// TestAdminCooldownLift: an administrator with a fresh AAL3 session ends
// a user's cool-down early with a reason, audited with the administrator
// as actor; a trader, a stale administrator, an administrator lifting
// their own, a hostile or empty reason and an unknown user are refused
// and change nothing. Both stores.
func TestAdminCooldownLift(t *testing.T) {
	onBothStores(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		w := newAdminWorld(st)
		now, mk, auth := w.now, w.session, w.auth
		root, alice := storetest.NewUser(t, st, "root"), storetest.NewUser(t, st, "alice")
		until := now().Add(20 * time.Hour)
		for _, u := range []*user.User{root, alice} {
			if err := st.StartCooldown(ctx, u.ID, until, "password changed"); err != nil {
				t.Fatal(err)
			}
		}
		admin := mk(t, root, "ses_root", session.AAL3, now().Add(-time.Minute))
		stale := mk(t, root, "ses_stale", session.AAL3, now().Add(-time.Hour))
		trader := mk(t, alice, "ses_alice", session.AAL3, now().Add(-time.Minute))
		h := NewHandler(Deps{Login: &login.Service{Store: st, Now: now, Recovery: login.Recovery{Admins: []string{"root"}}}, Auth: auth,
			Log: slog.New(slog.DiscardHandler), Now: now, Cooldowns: &cooldown.Service{Store: st, Now: now}})
		call := func(c *http.Cookie, target, body string) int {
			t.Helper()
			r := httptest.NewRequest("POST", target, strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			r.AddCookie(c)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			return w.Code
		}
		good := `{"reason":"ticket 4411: owner confirmed the change by phone"}`
		for _, c := range []struct {
			name   string
			who    *http.Cookie
			target string
			body   string
			want   int
		}{
			{"Trader", trader, "/v1/admin/users/alice/cooldown/lift", good, 403},
			{"StaleAdmin", stale, "/v1/admin/users/alice/cooldown/lift", good, 403},
			{"OwnCooldown", admin, "/v1/admin/users/root/cooldown/lift", good, 403},
			{"NoReason", admin, "/v1/admin/users/alice/cooldown/lift", `{"reason":"  "}`, 400},
			{"ControlInReason", admin, "/v1/admin/users/alice/cooldown/lift", `{"reason":"ok\u0000"}`, 400},
			{"DuplicateKey", admin, "/v1/admin/users/alice/cooldown/lift", `{"reason":"a","Reason":"b"}`, 400},
			{"UnknownUser", admin, "/v1/admin/users/nobody/cooldown/lift", good, 404},
		} {
			if code := call(c.who, c.target, c.body); code != c.want {
				t.Errorf("%s: %d, want %d", c.name, code, c.want)
			}
		}
		for _, u := range []*user.User{root, alice} {
			if got, _ := st.UserByID(ctx, u.ID); !got.CoolingDown(now()) {
				t.Fatalf("%s's cool-down ended by a refused request", u.Username)
			}
		}

		if code := call(admin, "/v1/admin/users/alice/cooldown/lift", good); code != 204 {
			t.Fatalf("lift by a fresh administrator: %d, want 204", code)
		}
		if got, _ := st.UserByID(ctx, alice.ID); got.CoolingDown(now()) {
			t.Error("alice still cooling down after the lift")
		}
		var lifted *audit.Event
		for e, err := range st.AuditEvents(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			if e.Type == audit.CooldownLifted {
				lifted = e
			}
		}
		if lifted == nil || lifted.UserID != alice.ID || lifted.Actor != root.ID || !strings.Contains(lifted.Detail["reason"], "ticket 4411") {
			t.Errorf("audit of the lift = %+v; want cooldown.lifted for alice by root with the reason", lifted)
		}
		if code := call(admin, "/v1/admin/users/alice/cooldown/lift", good); code != 404 {
			t.Errorf("lifting again: %d, want 404 (no cool-down runs)", code)
		}
	})
}
