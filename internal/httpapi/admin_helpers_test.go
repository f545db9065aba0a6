package httpapi

import (
	"context"
	"net/http"
	"testing"
	"time"

	"gatehouse/internal/authn"
	"gatehouse/internal/dpop"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/store/storetest"
	"gatehouse/internal/token"
	"gatehouse/internal/user"
)

// onBothStores runs fn on a fresh SQLite and a fresh PostgreSQL store.
func onBothStores(t *testing.T, fn func(t *testing.T, st store.Store)) {
	for _, b := range []struct {
		name string
		open func(t *testing.T) store.Store
	}{{"SQLite", func(t *testing.T) store.Store { return storetest.SQLite(t) }}, {"PostgreSQL", func(t *testing.T) store.Store { return storetest.Postgres(t) }}} {
		t.Run(b.name, func(t *testing.T) { fn(t, b.open(t)) })
	}
}

// adminWorld is a store with web sessions made at will and the
// authenticator that reads them, at a fixed now.
type adminWorld struct {
	st   store.Store
	now  func() time.Time
	auth *Authenticator
}

func newAdminWorld(st store.Store) adminWorld {
	now := func() time.Time { return storetest.T0.Add(time.Hour) }
	auth := &Authenticator{Authenticator: &authn.Authenticator{Sessions: authn.New(st, time.Second, now, nil), Replay: &dpop.ReplayCache{Window: time.Minute},
		MaxAge: time.Minute, Now: now}, Origin: "http://localhost"}
	return adminWorld{st: st, now: now, auth: auth}
}

// session stores a web session of u at aal, proven at auth, and returns
// its cookie.
func (w adminWorld) session(t *testing.T, u *user.User, id string, aal session.Assurance, auth time.Time) *http.Cookie {
	t.Helper()
	s := &session.Session{ID: id, UserID: u.ID, Door: session.Web, TokenHash: token.Hash("tok-" + id), Assurance: aal, AuthTime: auth,
		CreatedAt: storetest.T0, LastSeenAt: w.now(), ExpiresAt: storetest.T0.Add(12 * time.Hour), Idle: 15 * time.Minute}
	if err := w.st.CreateSession(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return &http.Cookie{Name: "gatehouse_session", Value: "tok-" + id}
}
