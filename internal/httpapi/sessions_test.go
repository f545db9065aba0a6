package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/apikey"
	"gatehouse/internal/audit"
	"gatehouse/internal/authn"
	"gatehouse/internal/authz"
	"gatehouse/internal/dpop"
	"gatehouse/internal/login"
	"gatehouse/internal/posturegate"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/store/storetest"
	"gatehouse/internal/token"
)

// apiUser is the API over a fresh store holding alice, signed in on the
// web with the cookie it returns.
type apiUser struct {
	h      http.Handler
	st     store.Store
	cookie *http.Cookie
	sess   *session.Session
}

func newAPIUser(t *testing.T) apiUser {
	t.Helper()
	st := storetest.SQLite(t)
	now := func() time.Time { return storetest.T0.Add(time.Minute) }
	u := storetest.NewUser(t, st, "alice")
	s := &session.Session{ID: "ses_alice", UserID: u.ID, Door: session.Web, TokenHash: token.Hash("tok-alice"), IP: "192.0.2.1",
		Assurance: session.AAL2, AuthTime: storetest.T0, CreatedAt: storetest.T0, LastSeenAt: storetest.T0,
		ExpiresAt: storetest.T0.Add(12 * time.Hour), Idle: 15 * time.Minute}
	if err := st.CreateSession(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	auth := &Authenticator{Authenticator: &authn.Authenticator{Sessions: authn.New(st, time.Second, now, nil), Replay: &dpop.ReplayCache{Window: time.Minute},
		MaxAge: time.Minute, Now: now}, Origin: "http://localhost"}
	keys := authz.NewKeys(authz.KeysConfig{Store: st, Limits: apikey.DefaultLimits(), StepUpWindow: 5 * time.Minute, MaxAge: time.Second, Now: now})
	h := NewHandler(Deps{Posture: &posturegate.Service{Store: st, Now: now}, Login: &login.Service{Store: st, Now: now}, Auth: auth, Log: slog.New(slog.DiscardHandler), Now: now, Keys: keys})
	return apiUser{h: h, st: st, cookie: &http.Cookie{Name: auth.Cookies.Session(), Value: "tok-alice"}, sess: s}
}

func (a apiUser) do(t *testing.T, method, target string, out any) *http.Response {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	r.AddCookie(a.cookie)
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	if out != nil && w.Code < 300 {
		if err := json.Unmarshal(w.Body.Bytes(), out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, target, err, w.Body)
		}
	}
	return w.Result()
}

// TestAuditHidesWhatThePortalHides: GET /v1/audit shows the owner what
// the portal's activity page shows, no more. The reason a second factor
// failed (a replayed code, say) was listed by the API although the portal
// hid it on purpose.
func TestAuditHidesWhatThePortalHides(t *testing.T) {
	a := newAPIUser(t)
	ctx := context.Background()
	for _, e := range []*audit.Event{
		{Type: audit.LoginFailed, Detail: map[string]string{"reason": "bad_password"}},
		{Type: audit.FactorFailed, Detail: map[string]string{"reason": "replayed", "kind": "totp"}},
		{Type: audit.SessionEnded, Detail: map[string]string{"reason": session.EndLogout, "session": "ses_old"}},
	} {
		e.Time, e.UserID, e.Actor = storetest.T0, a.sess.UserID, a.sess.UserID
		if err := a.st.AppendAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	var got struct {
		Events []eventView `json:"events"`
	}
	if resp := a.do(t, "GET", "/v1/audit", &got); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/audit = %d, want 200", resp.StatusCode)
	}
	if len(got.Events) != 3 {
		t.Fatalf("GET /v1/audit has %d events, want 3", len(got.Events))
	}
	// The portal shows why a session ended (it says so in words), never
	// why a sign-in or a factor failed.
	wantReason := map[string]bool{audit.LoginFailed: false, audit.FactorFailed: false, audit.SessionEnded: true}
	for _, e := range got.Events {
		if _, has := e.Detail["reason"]; has != wantReason[e.Type] {
			t.Errorf("GET /v1/audit %s detail %v: reason shown = %v, want %v", e.Type, e.Detail, has, wantReason[e.Type])
		}
	}
	if got, want := got.Events[1].Detail["kind"], "totp"; got != want {
		t.Errorf("factor.failed kind = %q, want %q: only the reason is hidden", got, want)
	}
}

// TestDeleteAnotherUsersSessionIsNotFound: the flow decides ownership and
// the API answers its refusal as a session that does not exist.
func TestDeleteAnotherUsersSessionIsNotFound(t *testing.T) {
	a := newAPIUser(t)
	bob := storetest.NewUser(t, a.st, "bob")
	storetest.NewSession(t, a.st, bob, "ses_bob", storetest.T0)
	for _, id := range []string{"ses_bob", "ses_nope"} {
		if resp := a.do(t, "DELETE", "/v1/sessions/"+id, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("DELETE /v1/sessions/%s = %d, want 404", id, resp.StatusCode)
		}
	}
	s, err := a.st.SessionByID(context.Background(), "ses_bob")
	if err != nil || !s.EndedAt.IsZero() {
		t.Errorf("bob's session after alice's DELETE: %+v, %v; want it live", s, err)
	}
}

// TestEndOthersOffersKeysTheyMinted: a session the user did not
// recognise made a live key; ending the other sessions answers with it,
// so the user can revoke it too.
func TestEndOthersOffersKeysTheyMinted(t *testing.T) {
	a := newAPIUser(t)
	storetest.NewAccount(t, a.st, "ACC-L", account.Live)
	if err := a.st.AddMember(context.Background(), &account.Membership{UserID: a.sess.UserID, AccountID: "ACC-L", Role: account.Owner, CreatedAt: storetest.T0}); err != nil {
		t.Fatal(err)
	}
	u, err := a.st.UserByID(context.Background(), a.sess.UserID)
	if err != nil {
		t.Fatal(err)
	}
	thief := storetest.NewSession(t, a.st, u, "ses_thief", storetest.T0.Add(time.Minute))
	keys := authz.NewKeys(authz.KeysConfig{Store: a.st, Limits: apikey.DefaultLimits(), StepUpWindow: 5 * time.Minute, MaxAge: time.Second,
		Now: func() time.Time { return storetest.T0.Add(time.Minute) }})
	iss, err := keys.Create(context.Background(), authz.Actor{Session: thief}, "ACC-L", apikey.Request{Name: "not mine", Scopes: []string{"orders:read"}})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Ended  int       `json:"ended"`
		Review []keyView `json:"keys_to_review"`
	}
	if resp := a.do(t, "DELETE", "/v1/sessions?others=true", &got); resp.StatusCode != 200 {
		t.Fatalf("DELETE /v1/sessions?others=true = %d", resp.StatusCode)
	}
	if got.Ended != 1 || len(got.Review) != 1 || got.Review[0].ID != iss.Key.ID || got.Review[0].SessionID != "ses_thief" {
		t.Errorf("ended %d, keys to review %+v; want 1 and the key %s minted by ses_thief", got.Ended, got.Review, iss.Key.ID)
	}
}
