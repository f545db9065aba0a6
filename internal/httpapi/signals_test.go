package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/login"
	"gatehouse/internal/playbook"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/store/storetest"
)

// TestAdminSignals: the administrators' API records, lists, dry-runs,
// applies and closes a signal as the command line does, on both stores;
// a trader, and an administrator whose AAL3 is stale, are refused;
// hostile bodies are 400 and record nothing.
func TestAdminSignals(t *testing.T) {
	onBothStores(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		w := newAdminWorld(st)
		now, mk, auth := w.now, w.session, w.auth
		root, alice := storetest.NewUser(t, st, "root"), storetest.NewUser(t, st, "alice")
		admin := mk(t, root, "ses_root", session.AAL3, now().Add(-time.Minute))
		stale := mk(t, root, "ses_stale", session.AAL3, now().Add(-time.Hour))
		trader := mk(t, alice, "ses_alice", session.AAL3, now().Add(-time.Minute))
		mk(t, alice, "ses_victim", session.AAL2, storetest.T0)
		h := NewHandler(Deps{Login: &login.Service{Store: st, Now: now, Recovery: login.Recovery{Admins: []string{"root"}}}, Auth: auth,
			Log: slog.New(slog.DiscardHandler), Now: now, Signals: &playbook.Service{Store: st, Now: now}})
		call := func(c *http.Cookie, method, target, body string, out any) int {
			t.Helper()
			r := httptest.NewRequest(method, target, strings.NewReader(body))
			if body != "" {
				r.Header.Set("Content-Type", "application/json")
			}
			r.AddCookie(c)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if out != nil && w.Code < 300 {
				if err := json.Unmarshal(w.Body.Bytes(), out); err != nil {
					t.Fatalf("%s %s: %v in %s", method, target, err, w.Body)
				}
			}
			return w.Code
		}
		add := `{"title":"Phishing kit copies the portal","kind":"phishing","severity":"high","doors":["web"],"steps":["end-sessions","reauth:aal2"]}`
		if code := call(trader, "POST", "/v1/admin/signals", add, nil); code != 403 {
			t.Errorf("a trader adds a signal: %d, want 403", code)
		}
		if code := call(stale, "POST", "/v1/admin/signals", add, nil); code != 403 {
			t.Errorf("an administrator with a stale AAL3: %d, want 403", code)
		}
		for _, bad := range []string{
			`{"title":"x","kind":"rumour","severity":"high"}`,
			`{"title":"x","kind":"phishing","severity":"high","steps":["reboot-everything"]}`,
			`{"title":"x","kind":"phishing","severity":"high","Title":"twice"}`,
			`{"title":"a\u0000b","kind":"phishing","severity":"high"}`,
			`{"title":"x","kind":"phishing","severity":"high","link":"javascript:alert(1)"}`,
			`[]`,
		} {
			if code := call(admin, "POST", "/v1/admin/signals", bad, nil); code != 400 {
				t.Errorf("POST %s = %d, want 400", bad, code)
			}
		}
		var sig playbook.SignalJSON
		if code := call(admin, "POST", "/v1/admin/signals", add, &sig); code != 201 || !strings.HasPrefix(sig.ID, "sig_") || sig.CreatedBy != root.ID {
			t.Fatalf("POST /v1/admin/signals = %d %+v", code, sig)
		}
		var list struct{ Signals []playbook.SignalJSON }
		if code := call(admin, "GET", "/v1/admin/signals", "", &list); code != 200 || len(list.Signals) != 1 {
			t.Errorf("GET /v1/admin/signals = %d %+v; want the one signal (the refused ones recorded nothing)", code, list)
		}
		var dry, done playbook.PlanJSON
		if code := call(admin, "POST", "/v1/admin/signals/"+sig.ID+"/apply", `{"dry_run":true}`, &dry); code != 200 || !dry.DryRun || dry.Counts["end-session"] == 0 {
			t.Fatalf("dry run = %d %+v", code, dry)
		}
		if ss, _ := st.SessionByID(ctx, "ses_victim"); !ss.EndedAt.IsZero() {
			t.Fatal("the dry run ended a session")
		}
		if code := call(admin, "POST", "/v1/admin/signals/"+sig.ID+"/apply", `{}`, &done); code != 200 || done.DryRun || len(done.Actions) != len(dry.Actions) {
			t.Fatalf("apply = %d %+v; want what the dry run listed %+v", code, done, dry)
		}
		if ss, _ := st.SessionByID(ctx, "ses_victim"); ss.EndedAt.IsZero() {
			t.Error("apply left the web session live")
		}
		var again playbook.PlanJSON
		if code := call(admin, "POST", "/v1/admin/signals/"+sig.ID+"/apply", `{}`, &again); code != 200 || len(again.Actions) != 0 {
			t.Errorf("apply again = %d, %d actions; want none", code, len(again.Actions))
		}
		var closed playbook.SignalJSON
		if code := call(admin, "POST", "/v1/admin/signals/"+sig.ID+"/close", "", &closed); code != 200 || closed.State != "closed" || closed.ClosedBy != root.ID {
			t.Errorf("close = %d %+v", code, closed)
		}
		if code := call(admin, "POST", "/v1/admin/signals/"+sig.ID+"/apply", `{}`, nil); code != 403 {
			t.Errorf("apply a closed signal = %d, want 403", code)
		}
		for _, id := range []string{"sig_AAAAAAAAAAAAAAAA", "sig%00x"} {
			if code := call(admin, "GET", "/v1/admin/signals/"+id, "", nil); code != 404 {
				t.Errorf("GET signal %q = %d, want 404", id, code)
			}
		}
	})
}
