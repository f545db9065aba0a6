package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gatehouse/internal/notice"
	"gatehouse/internal/store"
	"gatehouse/internal/store/storetest"
)

// noticeForm is the notifications form as a browser sends it: every
// event named, with the channels of choose (the event's current channels
// when choose has none for it); locked channels always sent.
func noticeForm(token string, choose notice.Preferences) url.Values {
	f := url.Values{"csrf": {token}}
	for _, sp := range notice.Catalogue() {
		f.Add("events", string(sp.Event))
		for _, c := range choose.Channels(sp.Event) {
			f.Add("c."+string(sp.Event), string(c))
		}
	}
	return f
}

func TestNoticesPage(t *testing.T) {
	e, b := scenario(t)
	for i, m := range []*store.Message{
		{ID: "msg_1", Channel: store.ChannelMail, Event: "session.created", UserID: "usr_alice", Destination: "alice@example.com", Payload: []byte(`{"token":"SECRET"}`)},
		{ID: "msg_2", Channel: store.ChannelPush, Event: "factor.added", UserID: "usr_alice"},
	} {
		m.CreatedAt = at(5).Add(time.Duration(i) * time.Second)
		if err := e.st.EnqueueMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.st.MarkDelivered(ctx, "msg_1", at(6)); err != nil {
		t.Fatal(err)
	}
	page := b.get(t, "/notifications")
	golden(t, "notifications", page, http.StatusOK)
	if strings.Contains(page.Body, "SECRET") {
		t.Error("the page shows a message's payload")
	}
	if !strings.Contains(b.get(t, "/").Body, `<a href="/notifications">Notifications</a>`) {
		t.Error("the menu does not link the notifications page")
	}

	// Switch a notice off and narrow another.
	choice := notice.Preferences{notice.KeyRotated: {}, notice.SessionCreated: {notice.Mail}}
	a := b.post(t, "/notifications/preferences", noticeForm(csrf(t, page), choice))
	if a.Code != http.StatusSeeOther || a.Location() != "/notifications?done=notices-saved" {
		t.Fatalf("save choices = %d to %q\n%s", a.Code, a.Location(), a.Body)
	}
	st, _ := e.st.NoticeSettingsOf(ctx, "usr_alice")
	if !cmp.Equal(st.Preferences, choice) {
		t.Errorf("stored preferences = %v, want %v", st.Preferences, choice)
	}
	page = b.get(t, a.Location())
	for _, want := range []string{
		"Your notice choices were saved.",
		`<input id="n-key.rotated-mail" name="c.key.rotated" type="checkbox" value="mail">`,
		`<input id="n-session.created-mail" name="c.session.created" type="checkbox" value="mail" checked>`,
		`<input id="n-session.created-push" name="c.session.created" type="checkbox" value="push">`,
		`<input id="n-password.changed-mail" type="checkbox" checked disabled><input type="hidden" name="c.password.changed" value="mail">`,
	} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("after saving, the page lacks %s", want)
		}
	}

	// A form that drops a locked channel (only a forged one can) is
	// refused, saying why, and changes nothing.
	forged := noticeForm(csrf(t, page), choice)
	forged["c.password.changed"] = nil
	a = b.post(t, "/notifications/preferences", forged)
	if a.Code != http.StatusUnprocessableEntity || !strings.Contains(a.Body, "cannot be switched off") || !strings.Contains(a.Body, `id="events-error"`) {
		t.Errorf("switching off a critical notice = %d\n%s", a.Code, a.Body)
	}
	for name, f := range map[string]url.Values{
		"unknown event":   {"csrf": {csrf(t, page)}, "events": {"session.maybe"}},
		"unknown channel": {"csrf": {csrf(t, page)}, "events": {"key.rotated"}, "c.key.rotated": {"pigeon"}},
	} {
		if a := b.post(t, "/notifications/preferences", f); a.Code != http.StatusUnprocessableEntity || !strings.Contains(a.Body, "cannot be used") {
			t.Errorf("%s = %d", name, a.Code)
		}
	}
	if a := b.post(t, "/notifications/preferences", noticeForm("forged", nil)); a.Code != http.StatusForbidden {
		t.Errorf("a form without the session's token = %d, want 403", a.Code)
	}
	if st, _ := e.st.NoticeSettingsOf(ctx, "usr_alice"); !cmp.Equal(st.Preferences, choice) {
		t.Errorf("refused forms changed the preferences to %v", st.Preferences)
	}
}

func TestNoticesPhrase(t *testing.T) {
	e, b := scenario(t)
	page := b.get(t, "/notifications")
	if !strings.Contains(page.Body, "You have no phrase yet.") {
		t.Error("the page does not say there is no phrase")
	}
	const phrase = "kingfisher over the canal"
	a := b.post(t, "/notifications/phrase", url.Values{"csrf": {csrf(t, page)}, "phrase": {phrase}, "action": {"save"}})
	if a.Code != http.StatusSeeOther || a.Location() != "/notifications?done=phrase-saved" {
		t.Fatalf("save phrase = %d to %q\n%s", a.Code, a.Location(), a.Body)
	}
	if st, _ := e.st.NoticeSettingsOf(ctx, "usr_alice"); st.Phrase != phrase {
		t.Errorf("stored phrase = %q", st.Phrase)
	}
	page = b.get(t, a.Location())
	golden(t, "notifications-phrase", page, http.StatusOK)
	for _, p := range append(signedInPages, "/notifications?done=phrase-saved") {
		if strings.Contains(b.get(t, p).Body, "kingfisher") {
			t.Errorf("%s shows the phrase", p)
		}
	}

	for _, bad := range []string{"two\nlines", "ab", "   ", strings.Repeat("x", 65)} {
		a := b.post(t, "/notifications/phrase", url.Values{"csrf": {csrf(t, page)}, "phrase": {bad}, "action": {"save"}})
		if a.Code != http.StatusUnprocessableEntity || !strings.Contains(a.Body, "Choose a phrase of 3 to 64") || !strings.Contains(a.Body, `aria-invalid="true"`) {
			t.Errorf("phrase %q = %d\n%s", bad, a.Code, a.Body)
		}
	}
	if st, _ := e.st.NoticeSettingsOf(ctx, "usr_alice"); st.Phrase != phrase {
		t.Errorf("refused phrases changed it to %q", st.Phrase)
	}
	a = b.post(t, "/notifications/phrase", url.Values{"csrf": {csrf(t, page)}, "action": {"clear"}})
	if a.Code != http.StatusSeeOther || a.Location() != "/notifications?done=phrase-cleared" {
		t.Fatalf("clear phrase = %d to %q", a.Code, a.Location())
	}
	if st, _ := e.st.NoticeSettingsOf(ctx, "usr_alice"); st.Phrase != "" || !st.UpdatedAt.Equal(storetest.T0.Add(6*time.Minute)) {
		t.Errorf("after clearing: %+v", st)
	}
}
