package authz_test

import (
	"slices"
	"testing"
	"time"

	"gatehouse/internal/apikey"
	"gatehouse/internal/authz"
	"gatehouse/internal/session"
	"gatehouse/internal/store/storetest"
)

// TestKeysMintedByEndedSessionsAreOffered is a stolen cookie: a session
// the owner later ends mints a live key, which outlives it. After "end
// all sessions" or a password change the key is offered for review; keys
// of sessions that merely logged out, or of the current one, are not.
func TestKeysMintedByEndedSessionsAreOffered(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			f := newFixtureOn(t, b.open(t))
			now := f.clock.Now()
			mint := func(id, name string) (*session.Session, *authz.Issued) {
				t.Helper()
				s := storetest.NewSession(t, f.st, f.owner, id, now)
				iss, err := f.keys.Create(ctx, authz.Actor{Session: s}, "ACC-L", apikey.Request{Name: name, Scopes: []string{"orders:read"}})
				if err != nil {
					t.Fatal(err)
				}
				if iss.Key.SessionID != id {
					t.Fatalf("key %s records session %q, want %q", name, iss.Key.SessionID, id)
				}
				return s, iss
			}
			current, mine := mint("ses_current", "mine")
			_, stolen := mint("ses_thief", "stolen")
			_, pw := mint("ses_old", "before the password change")
			_, out := mint("ses_gone", "logged out")
			_, revoked := mint("ses_thief2", "revoked already")
			f.clock.Add(time.Minute)
			end := func(id, reason string) {
				t.Helper()
				if err := f.st.EndSession(ctx, id, f.clock.Now(), reason); err != nil {
					t.Fatal(err)
				}
			}
			end("ses_thief", session.EndRevoked)
			end("ses_thief2", session.EndRevoked)
			end("ses_old", session.EndPasswordChange)
			end("ses_gone", session.EndLogout)
			if _, err := f.keys.Revoke(ctx, authz.Actor{}, "", revoked.Key.ID); err != nil {
				t.Fatal(err)
			}
			operator := f.create(t, "ACC-L", apikey.Request{Name: "ops", Scopes: []string{"orders:read"}})

			got, err := f.keys.MintedByEndedSessions(ctx, authz.Actor{Session: current})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, k := range got {
				ids = append(ids, k.ID)
			}
			want := []string{pw.Key.ID, stolen.Key.ID} // newest first: same time, so by store order
			slices.Sort(ids)
			slices.Sort(want)
			if !slices.Equal(ids, want) {
				t.Errorf("offered %v, want %v (not %s, mine; %s, logged out; %s, revoked; %s, an operator's)",
					ids, want, mine.Key.ID, out.Key.ID, revoked.Key.ID, operator.Key.ID)
			}
			if got, _ := f.keys.MintedByEndedSessions(ctx, authz.Actor{}); len(got) != 0 {
				t.Errorf("an operator is offered %d keys, want none", len(got))
			}
		})
	}
}
