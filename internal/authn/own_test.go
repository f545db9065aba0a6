package authn_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/authn"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/store/storetest"
	"gatehouse/internal/token"
	"gatehouse/internal/user"
)

var ctx = context.Background()

// signIn stores a live web session of u whose token is "tok-"+id.
func signIn(t *testing.T, st store.Store, u *user.User, id string, created time.Time) *session.Session {
	t.Helper()
	s := &session.Session{ID: id, UserID: u.ID, Door: session.Web, TokenHash: token.Hash("tok-" + id), IP: "192.0.2.1",
		Assurance: session.AAL2, AuthTime: created, CreatedAt: created, LastSeenAt: created,
		ExpiresAt: created.Add(12 * time.Hour), Idle: 15 * time.Minute}
	if err := st.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	return s
}

// world is alice with three sessions and bob with one, and a resolver
// whose clock stands a minute after the last sign-in.
type world struct {
	st         store.Store
	sessions   *authn.Sessions
	alice, bob *user.User
	a1, a2, a3 *session.Session
	b1         *session.Session
}

func newWorld(t *testing.T) world {
	t.Helper()
	st := storetest.SQLite(t)
	w := world{st: st, alice: storetest.NewUser(t, st, "alice"), bob: storetest.NewUser(t, st, "bob")}
	t0 := storetest.T0
	w.a1 = signIn(t, st, w.alice, "ses_a1", t0)
	w.a2 = signIn(t, st, w.alice, "ses_a2", t0.Add(time.Second))
	w.a3 = signIn(t, st, w.alice, "ses_a3", t0.Add(2*time.Second))
	w.b1 = signIn(t, st, w.bob, "ses_b1", t0)
	w.sessions = authn.New(st, time.Hour, func() time.Time { return t0.Add(time.Minute) }, nil)
	return w
}

// live reports whether the session with id still resolves by its token.
func (w world) live(t *testing.T, id string) bool {
	t.Helper()
	_, err := w.sessions.Resolve(ctx, "tok-"+id)
	if err != nil && !errors.Is(err, authn.ErrUnauthenticated) {
		t.Fatal(err)
	}
	return err == nil
}

func TestEnd(t *testing.T) {
	tests := []struct {
		name    string
		target  func(w world) string
		wantErr error
		// ended is the session the call ends, "" for none.
		ended  func(w world) string
		reason string
	}{
		{"OtherOwnSession", func(w world) string { return w.a2.ID }, nil, func(w world) string { return w.a2.ID }, session.EndRevoked},
		{"OwnSessionIsALogout", func(w world) string { return w.a1.ID }, nil, func(w world) string { return w.a1.ID }, session.EndLogout},
		{"AnotherUsersSessionIsNoSession", func(w world) string { return w.b1.ID }, authn.ErrNoSession, nil, ""},
		{"UnknownIsNoSession", func(w world) string { return "ses_nope" }, authn.ErrNoSession, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			// Resolve every session first, so that a stale cache would
			// keep an ended one alive.
			for _, id := range []string{"ses_a1", "ses_a2", "ses_a3", "ses_b1"} {
				w.live(t, id)
			}
			actor := session.Actor{Session: w.a1, IP: "198.51.100.9"}
			err := w.sessions.End(ctx, actor, tt.target(w))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("End(%s) = %v, want %v", tt.target(w), err, tt.wantErr)
			}
			ended := ""
			if tt.ended != nil {
				ended = tt.ended(w)
			}
			for _, id := range []string{"ses_a1", "ses_a2", "ses_a3", "ses_b1"} {
				if got, want := w.live(t, id), id != ended; got != want {
					t.Errorf("after End(%s), %s live = %v, want %v", tt.target(w), id, got, want)
				}
			}
			trail, err := w.st.AuditOfUser(ctx, w.alice.ID, 0, 10)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range trail {
				if e.Type == audit.SessionEnded {
					got = append(got, e.Detail["session"]+" "+e.Detail["reason"]+" by "+e.Detail["by_session"]+" from "+e.IP)
				}
			}
			var want []string
			if ended != "" {
				want = []string{ended + " " + tt.reason + " by ses_a1 from 198.51.100.9"}
			}
			if !slices.Equal(got, want) {
				t.Errorf("session.ended events = %q, want %q", got, want)
			}
		})
	}
}

func TestEndOthersEndsTheActorsOtherSessionsOnly(t *testing.T) {
	w := newWorld(t)
	for _, id := range []string{"ses_a1", "ses_a2", "ses_a3", "ses_b1"} {
		w.live(t, id)
	}
	n, err := w.sessions.EndOthers(ctx, session.Actor{Session: w.a2})
	if err != nil || n != 2 {
		t.Fatalf("EndOthers = %d, %v; want 2, nil", n, err)
	}
	for id, want := range map[string]bool{"ses_a1": false, "ses_a2": true, "ses_a3": false, "ses_b1": true} {
		if got := w.live(t, id); got != want {
			t.Errorf("after EndOthers from ses_a2, %s live = %v, want %v", id, got, want)
		}
	}
	if n, err := w.sessions.EndOthers(ctx, session.Actor{Session: w.a2}); err != nil || n != 0 {
		t.Errorf("EndOthers again = %d, %v; want 0, nil", n, err)
	}
}

func TestOwnListsTheActorsLiveSessions(t *testing.T) {
	w := newWorld(t)
	if err := w.st.EndSession(ctx, w.a3.ID, storetest.T0.Add(30*time.Second), session.EndLogout); err != nil {
		t.Fatal(err)
	}
	me := *w.a1
	me.LastSeenAt = storetest.T0.Add(time.Minute) // the request's copy is fresher than the store's
	own, err := w.sessions.Own(ctx, session.Actor{Session: &me})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range own {
		got = append(got, s.ID)
		if s.ID == me.ID && !s.LastSeenAt.Equal(me.LastSeenAt) {
			t.Errorf("Own: %s last seen %v, want the actor's %v", s.ID, s.LastSeenAt, me.LastSeenAt)
		}
	}
	if want := []string{"ses_a2", "ses_a1"}; !slices.Equal(got, want) {
		t.Errorf("Own = %q, want %q (live, newest first, not bob's)", got, want)
	}
}

func TestOwnSessionFlowsRefuseAnOperator(t *testing.T) {
	w := newWorld(t)
	if _, err := w.sessions.Own(ctx, session.Actor{}); err == nil {
		t.Error("Own(operator) = nil error, want a refusal")
	}
	if err := w.sessions.End(ctx, session.Actor{}, w.a1.ID); err == nil {
		t.Error("End(operator) = nil error, want a refusal")
	}
	if _, err := w.sessions.EndOthers(ctx, session.Actor{}); err == nil {
		t.Error("EndOthers(operator) = nil error, want a refusal")
	}
	if !w.live(t, w.a1.ID) {
		t.Error("an operator's refused End ended the session")
	}
}

func TestLogoutTwiceIsDone(t *testing.T) {
	w := newWorld(t)
	a := session.Actor{Session: w.a1}
	for i := range 2 {
		if err := w.sessions.Logout(ctx, a); err != nil {
			t.Fatalf("Logout #%d = %v, want nil", i+1, err)
		}
	}
	if w.live(t, w.a1.ID) {
		t.Error("after Logout, the session still resolves")
	}
}
