package login_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gatehouse/internal/audit"
	"gatehouse/internal/fault"
	"gatehouse/internal/login"
	"gatehouse/internal/notice"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/user"
)

// signedIn is u signed in from a browser, as the actor of a request
// from addr.
func (f *fixture) signedIn(t *testing.T, u *user.User) session.Actor {
	t.Helper()
	r := f.mustLogin(t, webLogin(u.Username, pw, ""))
	return session.Actor{Session: r.Session, IP: "198.51.100.7"}
}

func TestNoticePreferences(t *testing.T) {
	f := newFixture(t)
	u := f.addUser(t, "alice", user.Occasional)
	a := f.signedIn(t, u)
	got, err := f.svc.OwnNoticeSettings(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if got.Preferences != nil || got.PhraseSet {
		t.Errorf("settings of a new user = %+v, want the defaults and no phrase", got)
	}

	// The portal sends every event; what equals the default is not kept.
	choice := notice.Preferences{
		notice.SessionCreated: {notice.Push, notice.Mail},
		notice.KeyRotated:     {},
		notice.DevicePending:  {notice.Mail, notice.Push, notice.Webhook},
		notice.KeyRevoked:     {notice.Mail, notice.Webhook},
	}
	got, err = f.svc.SetNoticePreferences(ctx, a, choice)
	if err != nil {
		t.Fatalf("SetNoticePreferences = %v", err)
	}
	want := notice.Preferences{notice.SessionCreated: {notice.Mail, notice.Push}, notice.KeyRotated: {}}
	if diff := cmp.Diff(want, got.Preferences); diff != "" {
		t.Errorf("preferences kept (-want +got):\n%s", diff)
	}
	if stored, _ := f.st.NoticeSettingsOf(ctx, u.ID); !cmp.Equal(want, stored.Preferences) || !stored.UpdatedAt.Equal(f.clock.Now()) {
		t.Errorf("stored preferences = %v at %v, want %v at %v", stored.Preferences, stored.UpdatedAt, want, f.clock.Now())
	}
	e := f.lastEvent(t, u.ID, audit.NoticePreferences)
	if e == nil {
		t.Fatal("no notice.preferences_changed event")
	}
	if e.Detail["changed"] != "session.created,key.rotated" || e.Actor != u.ID || e.IP != "198.51.100.7" || e.Interface != "web" {
		t.Errorf("audit event = %+v, want changed session.created,key.rotated by alice from 198.51.100.7 on web", e)
	}
	if n, ok := notice.FromAudit(e); !ok || n.Event != notice.PreferencesChanged {
		t.Errorf("FromAudit(preferences changed) = %v, %v; want a notice.preferences_changed notice", n.Event, ok)
	}

	// The same choice again changes nothing and is not audited again.
	before := len(f.events(t, u.ID))
	f.clock.Add(time.Minute)
	if _, err := f.svc.SetNoticePreferences(ctx, a, want); err != nil {
		t.Fatal(err)
	}
	if after := len(f.events(t, u.ID)); after != before {
		t.Errorf("setting the same preferences wrote %d audit events, want none", after-before)
	}

	// Back to the defaults.
	if got, err := f.svc.SetNoticePreferences(ctx, a, nil); err != nil || got.Preferences != nil {
		t.Errorf("SetNoticePreferences(nil) = %v, %v; want the defaults", got.Preferences, err)
	}
	if e := f.lastEvent(t, u.ID, audit.NoticePreferences); e.Detail["changed"] != "session.created,key.rotated" {
		t.Errorf("back to the defaults: changed = %q", e.Detail["changed"])
	}
}

// TestNoticePreferencesRefused: a critical event cannot be switched off;
// the refusal names it, and nothing changes or is audited.
func TestNoticePreferencesRefused(t *testing.T) {
	f := newFixture(t)
	u := f.addUser(t, "alice", user.Occasional)
	a := f.signedIn(t, u)
	kept := notice.Preferences{notice.KeyRotated: {}}
	if _, err := f.svc.SetNoticePreferences(ctx, a, kept); err != nil {
		t.Fatal(err)
	}
	before := len(f.events(t, u.ID))
	_, err := f.svc.SetNoticePreferences(ctx, a, notice.Preferences{
		notice.KeyRotated:      {notice.Mail},
		notice.PasswordChanged: {notice.Mail},
		notice.KeyCreated:      {},
	})
	if !errors.Is(err, notice.ErrCritical) || fault.Of(err) != fault.Invalid {
		t.Fatalf("switching off critical events: %v (kind %v), want ErrCritical, Invalid", err, fault.Of(err))
	}
	var names []string
	for _, fl := range fault.Fields(err) {
		names = append(names, fl.Name)
	}
	if want := []string{"events.key.created", "events.password.changed"}; !cmp.Equal(names, want) {
		t.Errorf("fields at fault = %v, want %v", names, want)
	}
	if st, _ := f.st.NoticeSettingsOf(ctx, u.ID); !cmp.Equal(st.Preferences, kept) {
		t.Errorf("a refused change stored %v, want %v kept", st.Preferences, kept)
	}
	if after := len(f.events(t, u.ID)); after != before {
		t.Errorf("a refused change wrote %d audit events", after-before)
	}
	if _, err := f.svc.SetNoticePreferences(ctx, session.Actor{}, kept); err == nil {
		t.Error("an operator set a user's preferences")
	}
}

func TestNoticePhrase(t *testing.T) {
	f := newFixture(t)
	u := f.addUser(t, "alice", user.Occasional)
	a := f.signedIn(t, u)
	const phrase = "  violet lighthouse 42  "
	if err := f.svc.SetNoticePhrase(ctx, a, phrase); err != nil {
		t.Fatalf("SetNoticePhrase = %v", err)
	}
	if st, _ := f.st.NoticeSettingsOf(ctx, u.ID); st.Phrase != "violet lighthouse 42" {
		t.Errorf("stored phrase = %q, want it trimmed", st.Phrase)
	}
	if got, _ := f.svc.OwnNoticeSettings(ctx, a); !got.PhraseSet {
		t.Error("OwnNoticeSettings: PhraseSet = false after setting one")
	}
	e := f.lastEvent(t, u.ID, audit.NoticePhrase)
	if e == nil || e.Detail["set"] != "true" {
		t.Fatalf("audit event = %+v, want notice.phrase_changed set=true", e)
	}
	for k, v := range e.Detail {
		if strings.Contains(v, "violet") || strings.Contains(k, "violet") {
			t.Errorf("the audit event holds the phrase: %s=%q", k, v)
		}
	}
	if n, ok := notice.FromAudit(e); !ok || n.Event != notice.PhraseChanged || !notice.Critical(n.Event) {
		t.Errorf("FromAudit(phrase changed) = %v, %v; want the critical notice.phrase_changed", n.Event, ok)
	}

	// A phrase that cannot be shown safely is refused, naming the field.
	for _, bad := range []string{"two\nlines", "ab", strings.Repeat("x", notice.PhraseMax+1), "bad\xffbyte", "hidden\u200btext"} {
		err := f.svc.SetNoticePhrase(ctx, a, bad)
		if !errors.Is(err, notice.ErrPhrase) || len(fault.Fields(err)) != 1 || fault.Fields(err)[0].Name != "phrase" {
			t.Errorf("SetNoticePhrase(%q) = %v, want ErrPhrase naming phrase", bad, err)
		}
	}
	if st, _ := f.st.NoticeSettingsOf(ctx, u.ID); st.Phrase != "violet lighthouse 42" {
		t.Errorf("after refused phrases the phrase is %q", st.Phrase)
	}

	// The same phrase again is no change; clearing it is one.
	before := len(f.events(t, u.ID))
	if err := f.svc.SetNoticePhrase(ctx, a, "violet lighthouse 42"); err != nil {
		t.Fatal(err)
	}
	if after := len(f.events(t, u.ID)); after != before {
		t.Errorf("the same phrase again wrote %d audit events", after-before)
	}
	if err := f.svc.SetNoticePhrase(ctx, a, ""); err != nil {
		t.Fatal(err)
	}
	if e := f.lastEvent(t, u.ID, audit.NoticePhrase); e.Detail["set"] != "false" {
		t.Errorf("clearing the phrase: set = %q, want false", e.Detail["set"])
	}
	if got, _ := f.svc.OwnNoticeSettings(ctx, a); got.PhraseSet {
		t.Error("PhraseSet after clearing it")
	}
}

// TestNoticePhraseAtomic: a phrase whose audit event cannot be written is
// not stored either.
func TestNoticePhraseAtomic(t *testing.T) {
	f := newFixture(t)
	u := f.addUser(t, "alice", user.Occasional)
	a := f.signedIn(t, u)
	f.count.failAudit(audit.NoticePhrase)
	if err := f.svc.SetNoticePhrase(ctx, a, "unaudited phrase"); !errors.Is(err, errAuditDown) {
		t.Fatalf("SetNoticePhrase with the audit trail down = %v, want %v", err, errAuditDown)
	}
	if st, _ := f.st.NoticeSettingsOf(ctx, u.ID); st.Phrase != "" {
		t.Errorf("phrase stored without its audit event: %q", st.Phrase)
	}
	f.count.failAudit(audit.NoticePreferences)
	if _, err := f.svc.SetNoticePreferences(ctx, a, notice.Preferences{notice.KeyRotated: {}}); !errors.Is(err, errAuditDown) {
		t.Fatalf("SetNoticePreferences with the audit trail down = %v, want %v", err, errAuditDown)
	}
	if st, _ := f.st.NoticeSettingsOf(ctx, u.ID); st.Preferences != nil {
		t.Errorf("preferences stored without their audit event: %v", st.Preferences)
	}
}

// TestSentNotices lists the notices written to the actor, newest first,
// by mail, push and webhook; not another user's, not the signals sent
// about them to other services.
func TestSentNotices(t *testing.T) {
	f := newFixture(t)
	u := f.addUser(t, "alice", user.Occasional)
	f.addUser(t, "bob", user.Occasional)
	a := f.signedIn(t, u)
	t0 := f.clock.Now()
	for i, m := range []*store.Message{
		{ID: "msg_1", Channel: store.ChannelMail, Event: "session.created", UserID: u.ID, Destination: "alice@example.com", Payload: []byte(`{"secret":"x"}`)},
		{ID: "msg_2", Channel: store.ChannelSSF, Event: "session-revoked", UserID: u.ID, Destination: "https://gw.example/ssf"},
		{ID: "msg_3", Channel: store.ChannelWebhook, Event: "key.created", UserID: u.ID, Destination: "https://hooks.example/in"},
		{ID: "msg_4", Channel: store.ChannelMail, Event: "session.created", UserID: "usr_bob", Destination: "bob@example.com"},
		{ID: "msg_5", Channel: store.ChannelSSF, Event: "session-revoked", UserID: u.ID, Destination: "https://gw.example/ssf"},
	} {
		m.CreatedAt = t0.Add(time.Duration(i) * time.Second)
		if err := f.st.EnqueueMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.st.MarkDelivered(ctx, "msg_1", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, more, err := f.svc.SentNotices(ctx, a, login.SentFilter{})
	if err != nil || more {
		t.Fatalf("SentNotices = %v, more %v", err, more)
	}
	want := []login.SentNotice{
		{ID: "msg_3", Event: notice.KeyCreated, Channel: notice.Webhook, State: store.MessagePending, CreatedAt: t0.Add(2 * time.Second)},
		{ID: "msg_1", Event: notice.SessionCreated, Channel: notice.Mail, State: store.MessageDelivered, CreatedAt: t0, DeliveredAt: t0.Add(time.Minute)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SentNotices (-want +got):\n%s", diff)
	}
	// The newest message is a signal: the page of one is still a notice.
	got, more, err = f.svc.SentNotices(ctx, a, login.SentFilter{Limit: 1})
	if err != nil || len(got) != 1 || got[0].ID != "msg_3" || !more {
		t.Fatalf("SentNotices(limit 1) = %v, more %v, %v; want the newest notice, more", got, more, err)
	}
	got, more, err = f.svc.SentNotices(ctx, a, login.SentFilter{Limit: 1, AfterTime: got[0].CreatedAt, AfterID: got[0].ID})
	if err != nil || len(got) != 1 || got[0].ID != "msg_1" || more {
		t.Errorf("SentNotices(the page after) = %v, more %v, %v; want msg_1, no more", got, more, err)
	}
	for _, f2 := range []login.SentFilter{{Channel: notice.Mail}, {Event: notice.SessionCreated}, {State: store.MessageDelivered}} {
		if got, _, err := f.svc.SentNotices(ctx, a, f2); err != nil || len(got) != 1 || got[0].ID != "msg_1" {
			t.Errorf("SentNotices(%+v) = %v, %v; want msg_1", f2, got, err)
		}
	}
	if got, _, err := f.svc.SentNotices(ctx, a, login.SentFilter{Channel: "ssf"}); err != nil || len(got) != 0 {
		t.Errorf("SentNotices(channel ssf) = %v, %v; want none: signals are not notices", got, err)
	}
}
