package authn_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/apikey"
	"gatehouse/internal/authn"
	"gatehouse/internal/session"
	"gatehouse/internal/store/sqlite"
	"gatehouse/internal/store/storetest"
	"gatehouse/internal/token"
)

// TestRevocationByAnotherProcessRefusedOnNextRequest ends a cached web
// session and revokes a key through a second handle on the same SQLite
// file, as `gatehouse session revoke` and `gatehouse key revoke` do while
// serve runs. With a cache that would believe the session for an hour,
// the next request is refused all the same, and the key cache is told;
// without the watcher (the control) the cache would still accept it.
func TestRevocationByAnotherProcessRefusedOnNextRequest(t *testing.T) {
	for _, watched := range []bool{true, false} {
		dir := t.TempDir()
		server, err := sqlite.Open(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		defer server.Close()
		cli, err := sqlite.Open(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()

		u := storetest.NewUser(t, server, "wes")
		tok, err := token.New(nil, 32)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		s := &session.Session{ID: "ses_web", UserID: u.ID, Door: session.Web, TokenHash: token.Hash(tok), Assurance: session.AAL2,
			AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour), Idle: time.Hour}
		if err := server.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		storetest.NewAccount(t, server, "ACC-L", account.Live)
		if err := server.CreateKey(ctx, storetest.NewKey("key_bot", "ACC-L", account.Live, now)); err != nil {
			t.Fatal(err)
		}

		sessions := authn.New(server, time.Hour, nil, nil)
		var forgotten []string
		auth := &authn.Authenticator{Sessions: sessions}
		if watched {
			// Every request reads the log: the pacing is not under test.
			auth.Watch = authn.NewWatcher(server, time.Nanosecond, sessions, func(ids ...string) { forgotten = append(forgotten, ids...) }, nil)
		}
		cookie := &authn.Credential{Cookie: tok}
		if _, err := auth.Authenticate(ctx, cookie); err != nil {
			t.Fatalf("before the revocation: %v", err)
		}
		if err := cli.EndSession(ctx, s.ID, now, session.EndRevoked); err != nil {
			t.Fatal(err)
		}
		if err := cli.RevokeKey(ctx, "key_bot", now, apikey.RevokedByAdmin); err != nil {
			t.Fatal(err)
		}
		_, err = auth.Authenticate(ctx, cookie)
		if watched {
			if !errors.Is(err, authn.ErrUnauthenticated) {
				t.Errorf("next request after another process ended the session = %v, want refused", err)
			}
			if !slices.Equal(forgotten, []string{"key_bot"}) {
				t.Errorf("key cache told to forget %q, want [key_bot]", forgotten)
			}
		} else if err != nil {
			t.Errorf("control without a watcher: %v; want the cached session (else this test proves nothing)", err)
		}
	}
}
