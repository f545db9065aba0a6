package httpapi

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/session"
	"gatehouse/internal/store/storetest"
	"gatehouse/internal/token"
)

// TestAuthzSessionMustNameItsAccount is the viewer of a family account
// who owns another: without naming an account she may read, not trade;
// naming her own she trades there; naming the family account she cannot.
func TestAuthzSessionMustNameItsAccount(t *testing.T) {
	st := storetest.SQLite(t)
	storetest.NewAccount(t, st, "ACC-L", account.Live)
	storetest.NewAccount(t, st, "FAMILY", account.Live)
	storetest.NewAccount(t, st, "MINE", account.Live)
	u := storetest.NewUser(t, st, "maya")
	for acct, role := range map[string]account.Role{"FAMILY": account.Viewer, "MINE": account.Owner} {
		if err := st.AddMember(context.Background(), &account.Membership{UserID: u.ID, AccountID: acct, Role: role, CreatedAt: storetest.T0}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	s := &session.Session{ID: "ses_maya", UserID: u.ID, Door: session.Web, TokenHash: token.Hash("tok-maya"), Assurance: session.AAL2,
		AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour), Idle: 15 * time.Minute}
	if err := st.CreateSession(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	h, _ := authzHandlerOn(t, st)

	tests := []struct {
		name    string
		method  string
		account []string // the Gatehouse-Account header's values
		status  int
		ident   string // X-Gatehouse-Account on 200
		missing []string
	}{
		{"UnnamedOrderRefused", "POST", nil, 403, "", []string{"scope orders:write", "account named in the Gatehouse-Account header"}},
		{"UnnamedReadAllowed", "GET", nil, 200, "", nil},
		{"OwnAccountOrderAllowed", "POST", []string{"MINE"}, 200, "MINE", nil},
		{"FamilyAccountOrderRefused", "POST", []string{"FAMILY"}, 403, "", []string{"scope orders:write"}},
		{"FamilyAccountReadAllowed", "GET", []string{"FAMILY"}, 200, "FAMILY", nil},
		{"NotMemberRefused", "POST", []string{"ACC-L"}, 403, "", []string{"environment live", "scope orders:write", "account ACC-L"}},
		{"TwoAccountsRefused", "POST", []string{"MINE", "FAMILY"}, 403, "", nil},
		{"MalformedAccountRefused", "POST", []string{"MINE/../FAMILY"}, 403, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string][]string{"X-Original-Method": {tt.method}, "X-Original-Url": {"http://live.localhost/api/orders"},
				"Cookie": {"gatehouse_session=tok-maya"}, "X-Forwarded-For": {"203.0.113.7"}}
			if tt.account != nil {
				hdr["Gatehouse-Account"] = tt.account
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, authzRequest("10.0.0.1:1", hdr))
			if w.Code != tt.status {
				t.Fatalf("status %d %s, want %d", w.Code, w.Body, tt.status)
			}
			if got := w.Header().Get(hdrAccount); got != tt.ident {
				t.Errorf("%s = %q, want %q", hdrAccount, got, tt.ident)
			}
			if tt.missing != nil {
				var p struct {
					Missing []string `json:"missing"`
				}
				json.Unmarshal(w.Body.Bytes(), &p)
				if !slices.Equal(p.Missing, tt.missing) {
					t.Errorf("missing = %q, want %q", p.Missing, tt.missing)
				}
			}
		})
	}
}
