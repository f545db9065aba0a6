package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gatehouse/internal/factor"
	"gatehouse/internal/notice"
	"gatehouse/internal/store"
	"gatehouse/internal/user"
)

// noticeTests are the conformance tests of the users' notice settings.
var noticeTests = []suiteTest{
	{"NoticeSettings", testNoticeSettings},
	{"NoticeSettingsRefused", testNoticeSettingsRefused},
	{"NoticeSettingsInTx", testNoticeSettingsInTx},
	{"NoticeRates", testNoticeRates},
	{"NoticeRatesConcurrent", testNoticeRatesConcurrent},
	{"NoticeFacts", testNoticeFacts},
	{"NoticeFactsConcurrent", testNoticeFactsConcurrent},
}

// testNoticeRates: a user sent nothing has the zero rate; a stored rate
// reads back as stored, one user's not another's; an unknown user's is
// refused.
func testNoticeRates(t *testing.T, s store.Store) {
	alice, bob := NewUser(t, s, "alice"), NewUser(t, s, "bob")
	got, err := s.NoticeRateOf(ctx, alice.ID)
	if err != nil || got.Summary != "" || !got.State.Start.IsZero() || got.State.Sent != 0 || len(got.State.Held) != 0 {
		t.Fatalf("NoticeRateOf(new user) = %+v, %v; want the zero rate", got, err)
	}
	want := &store.NoticeRate{State: notice.RateState{Start: T0, Sent: 10, Held: map[notice.Event]int{notice.KeyRotated: 4}}, Summary: "msg_sum"}
	if err := s.InTx(ctx, func(tx store.Tx) error {
		if _, err := tx.NoticeRateOf(ctx, alice.ID); err != nil {
			return err
		}
		return tx.SetNoticeRate(ctx, alice.ID, want)
	}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.NoticeRateOf(ctx, alice.ID); err != nil {
		t.Fatal(err)
	} else if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("NoticeRateOf (-want +got):\n%s", diff)
	}
	if got, _ := s.NoticeRateOf(ctx, bob.ID); got.State.Sent != 0 {
		t.Errorf("bob's rate = %+v, want the zero rate", got)
	}
	if err := s.SetNoticeRate(ctx, "usr_nobody", want); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetNoticeRate(unknown user) = %v, want ErrNotFound", err)
	}
	if err := s.InTx(ctx, func(tx store.Tx) error {
		_, err := tx.NoticeRateOf(ctx, "usr_nobody")
		return err
	}); err != nil {
		t.Errorf("NoticeRateOf(unknown user) in a transaction = %v, want the zero rate", err)
	}
}

// testNoticeRatesConcurrent: transactions that read a user's rate and
// store it one more hold it in turn, so none of the counts is lost.
func testNoticeRatesConcurrent(t *testing.T, s store.Store) {
	countConcurrently(t, s, func(tx store.Tx, userID string) (*store.NoticeRate, error) { return tx.NoticeRateOf(ctx, userID) })
}

// testNoticeFactsConcurrent: NoticeFacts holds the rate as NoticeRateOf
// does.
func testNoticeFactsConcurrent(t *testing.T, s store.Store) {
	countConcurrently(t, s, func(tx store.Tx, userID string) (*store.NoticeRate, error) {
		_, _, r, err := tx.NoticeFacts(ctx, userID)
		return r, err
	})
}

// testNoticeFacts: the user, their factors and their rate, as the
// separate reads give them; for no such user, none and the zero rate.
func testNoticeFacts(t *testing.T, s store.Store) {
	alice := NewUser(t, s, "alice")
	if err := s.CreateFactor(ctx, &factor.Factor{ID: "fac_phone", UserID: alice.ID, Kind: factor.Push, Status: factor.Active, CredentialID: []byte("phone"), CreatedAt: T0}); err != nil {
		t.Fatal(err)
	}
	want := &store.NoticeRate{State: notice.RateState{Start: T0, Sent: 3}, Summary: "msg_sum"}
	if err := s.SetNoticeRate(ctx, alice.ID, want); err != nil {
		t.Fatal(err)
	}
	for _, inTx := range []bool{false, true} {
		read := func(id string) (u *user.User, fs []*factor.Factor, r *store.NoticeRate, err error) {
			if !inTx {
				return s.NoticeFacts(ctx, id)
			}
			err = s.InTx(ctx, func(tx store.Tx) error {
				var err error
				u, fs, r, err = tx.NoticeFacts(ctx, id)
				return err
			})
			return u, fs, r, err
		}
		u, fs, r, err := read(alice.ID)
		if err != nil || u == nil || u.Email != alice.Email || len(fs) != 1 || fs[0].ID != "fac_phone" || cmp.Diff(want, r) != "" {
			t.Errorf("NoticeFacts(alice) in a transaction %v = %+v, %v, %+v, %v", inTx, u, fs, r, err)
		}
		u, fs, r, err = read("usr_nobody")
		if err != nil || u != nil || len(fs) != 0 || r == nil || r.State.Sent != 0 {
			t.Errorf("NoticeFacts(nobody) in a transaction %v = %+v, %v, %+v, %v; want nothing and the zero rate", inTx, u, fs, r, err)
		}
	}
}

// countConcurrently counts one notice of a user in each of several
// concurrent transactions, reading the rate with read: none is lost.
func countConcurrently(t *testing.T, s store.Store, read func(tx store.Tx, userID string) (*store.NoticeRate, error)) {
	alice := NewUser(t, s, "alice")
	const n = 12
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			errs <- s.InTx(ctx, func(tx store.Tx) error {
				r, err := read(tx, alice.ID)
				if err != nil {
					return err
				}
				r.State.Sent++
				return tx.SetNoticeRate(ctx, alice.ID, r)
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("InTx = %v", err)
		}
	}
	if got, err := s.NoticeRateOf(ctx, alice.ID); err != nil || got.State.Sent != n {
		t.Errorf("Sent after %d counts = %d, %v", n, got.State.Sent, err)
	}
}

// testNoticeSettings: a user who never chose has the defaults and no
// phrase; preferences and phrase are set apart, each keeping the other,
// read back as stored, and one user's settings are not another's.
func testNoticeSettings(t *testing.T, s store.Store) {
	alice, bob := NewUser(t, s, "alice"), NewUser(t, s, "bob")
	got, err := s.NoticeSettingsOf(ctx, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&store.NoticeSettings{}, got); diff != "" {
		t.Errorf("settings of a user who never chose (-want +got):\n%s", diff)
	}
	if got, err := s.NoticeSettingsOf(ctx, "usr_nobody"); err != nil || got.Preferences != nil || got.Phrase != "" {
		t.Errorf("NoticeSettingsOf(unknown) = %+v, %v; want the zero settings", got, err)
	}

	prefs := notice.Preferences{
		notice.KeyRotated:     {},                                         // switched off
		notice.SessionCreated: {notice.Mail},                              // fewer than the default
		notice.FactorAdded:    {notice.Mail, notice.Push, notice.Webhook}, // a critical one, kept on
	}
	t1 := T0.Add(time.Hour)
	if err := s.SetNoticePreferences(ctx, alice.ID, prefs, t1); err != nil {
		t.Fatalf("SetNoticePreferences = %v", err)
	}
	t2 := t1.Add(time.Minute)
	if err := s.SetNoticePhrase(ctx, alice.ID, "blue heron at dawn", t2); err != nil {
		t.Fatalf("SetNoticePhrase = %v", err)
	}
	want := &store.NoticeSettings{Preferences: prefs, Phrase: "blue heron at dawn", UpdatedAt: t2}
	got, err = s.NoticeSettingsOf(ctx, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("settings after both were set (-want +got):\n%s", diff)
	}
	if !got.Preferences.Wants(notice.SessionCreated, notice.Mail) || got.Preferences.Wants(notice.SessionCreated, notice.Push) || len(got.Preferences.Channels(notice.KeyRotated)) != 0 {
		t.Errorf("stored preferences read back as %v", got.Preferences)
	}

	// New preferences replace the old ones and keep the phrase.
	t3 := t2.Add(time.Minute)
	if err := s.SetNoticePreferences(ctx, alice.ID, notice.Preferences{notice.KeyRevoked: {notice.Webhook}}, t3); err != nil {
		t.Fatal(err)
	}
	// Clearing the phrase keeps the preferences.
	t4 := t3.Add(time.Minute)
	if err := s.SetNoticePhrase(ctx, alice.ID, "", t4); err != nil {
		t.Fatal(err)
	}
	want = &store.NoticeSettings{Preferences: notice.Preferences{notice.KeyRevoked: {notice.Webhook}}, UpdatedAt: t4}
	if got, _ := s.NoticeSettingsOf(ctx, alice.ID); !cmp.Equal(want, got) {
		t.Errorf("after replacing the preferences and clearing the phrase: %s", cmp.Diff(want, got))
	}
	// Back to the defaults: nil, as for a user who never chose.
	if err := s.SetNoticePreferences(ctx, alice.ID, nil, t4); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.NoticeSettingsOf(ctx, alice.ID); got.Preferences != nil {
		t.Errorf("preferences after setting none = %v, want nil", got.Preferences)
	}

	if got, _ := s.NoticeSettingsOf(ctx, bob.ID); got.Preferences != nil || got.Phrase != "" || !got.UpdatedAt.IsZero() {
		t.Errorf("bob's settings = %+v, want the zero settings: alice's changed them", got)
	}
	// A phrase for bob alone leaves him no preferences.
	if err := s.SetNoticePhrase(ctx, bob.ID, "été à Genève", t1); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.NoticeSettingsOf(ctx, bob.ID); got.Phrase != "été à Genève" || got.Preferences != nil {
		t.Errorf("bob's settings after his phrase = %+v", got)
	}
}

// testNoticeSettingsRefused: what the rules refuse is never stored, and a
// user who does not exist gets no settings.
func testNoticeSettingsRefused(t *testing.T, s store.Store) {
	alice := NewUser(t, s, "alice")
	good := notice.Preferences{notice.KeyRotated: {notice.Mail}}
	if err := s.SetNoticePreferences(ctx, alice.ID, good, T0); err != nil {
		t.Fatal(err)
	}
	if err := s.SetNoticePhrase(ctx, alice.ID, "kept phrase", T0); err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]notice.Preferences{
		"critical off":    {notice.PasswordChanged: {}},
		"critical fewer":  {notice.KeyCreated: {notice.Mail}},
		"unknown event":   {"session.maybe": {notice.Mail}},
		"unknown channel": {notice.KeyRotated: {"pigeon"}},
		"channel twice":   {notice.KeyRotated: {notice.Mail, notice.Mail}},
	} {
		err := s.SetNoticePreferences(ctx, alice.ID, p, T0.Add(time.Hour))
		var pe notice.PrefErrors
		if !errors.As(err, &pe) {
			t.Errorf("SetNoticePreferences(%s) = %v, want notice.PrefErrors", name, err)
		}
	}
	if err := s.SetNoticePreferences(ctx, alice.ID, notice.Preferences{notice.DevicePending: {}}, T0); !errors.Is(err, notice.ErrCritical) {
		t.Errorf("switching off a critical event: %v, want ErrCritical", err)
	}
	for _, phrase := range []string{"line\nbreak", "  padded  ", "ab", "\xff\xfe\xfd", "nul\x00here", "bidi\u202eoverride"} {
		if err := s.SetNoticePhrase(ctx, alice.ID, phrase, T0.Add(time.Hour)); !errors.Is(err, notice.ErrPhrase) {
			t.Errorf("SetNoticePhrase(%q) = %v, want ErrPhrase", phrase, err)
		}
	}
	want := &store.NoticeSettings{Preferences: good, Phrase: "kept phrase", UpdatedAt: T0}
	if got, _ := s.NoticeSettingsOf(ctx, alice.ID); !cmp.Equal(want, got) {
		t.Errorf("refused changes changed the settings: %s", cmp.Diff(want, got))
	}
	if err := s.SetNoticePreferences(ctx, "usr_nobody", good, T0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetNoticePreferences(unknown user) = %v, want ErrNotFound", err)
	}
	if err := s.SetNoticePhrase(ctx, "usr_nobody", "a phrase", T0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetNoticePhrase(unknown user) = %v, want ErrNotFound", err)
	}
	for _, id := range hostile {
		if err := s.SetNoticePhrase(ctx, id, "a phrase", T0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SetNoticePhrase(%s) = %v, want ErrNotFound", short(id), err)
		}
		if got, err := s.NoticeSettingsOf(ctx, id); err != nil || got.Phrase != "" {
			t.Errorf("NoticeSettingsOf(%s) = %+v, %v; want the zero settings", short(id), got, err)
		}
	}
}

// testNoticeSettingsInTx: a change of settings commits or rolls back with
// its transaction, and a refused one leaves the transaction usable.
func testNoticeSettingsInTx(t *testing.T, s store.Store) {
	alice := NewUser(t, s, "alice")
	boom := errors.New("boom")
	err := s.InTx(ctx, func(tx store.Tx) error {
		if err := tx.SetNoticePhrase(ctx, alice.ID, "rolled back", T0); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx = %v, want boom", err)
	}
	if got, _ := s.NoticeSettingsOf(ctx, alice.ID); got.Phrase != "" {
		t.Errorf("phrase survived rollback: %q", got.Phrase)
	}
	err = s.InTx(ctx, func(tx store.Tx) error {
		if err := tx.SetNoticePhrase(ctx, "usr_nobody", "a phrase", T0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("in a transaction, SetNoticePhrase(unknown user) = %v, want ErrNotFound", err)
		}
		if err := tx.SetNoticePhrase(ctx, alice.ID, "committed", T0); err != nil {
			return err
		}
		got, err := tx.NoticeSettingsOf(ctx, alice.ID)
		if err != nil || got.Phrase != "committed" {
			t.Errorf("inside the transaction the phrase reads %+v, %v", got, err)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.NoticeSettingsOf(ctx, alice.ID); got.Phrase != "committed" {
		t.Errorf("committed phrase reads %q", got.Phrase)
	}
}
