package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gatehouse/internal/audit"
	"gatehouse/internal/notice"
	"gatehouse/internal/store"
	"gatehouse/internal/store/storetest"
)

// send makes a request with a JSON body as a's browser session and
// returns the status and the answer.
func (a apiUser) send(t *testing.T, method, target, body string) (int, []byte) {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.AddCookie(a.cookie)
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	return w.Code, w.Body.Bytes()
}

// TestNoticePreferencesAPI reads the defaults, switches events off and
// on, and reads the choice back; what GET answers, PUT takes back as is.
func TestNoticePreferencesAPI(t *testing.T) {
	a := newAPIUser(t)
	var got preferencesView
	if resp := a.do(t, "GET", "/v1/notifications/preferences", &got); resp.StatusCode != 200 {
		t.Fatalf("GET preferences = %d", resp.StatusCode)
	}
	if len(got.Events) != len(notice.Catalogue()) || len(got.Catalogue) != len(notice.Catalogue()) || got.PhraseSet || got.UpdatedAt != nil {
		t.Fatalf("GET preferences of a new user = %+v", got)
	}
	if cs := got.Events[notice.KeyRotated]; !cmp.Equal(cs, []notice.Channel{notice.Mail, notice.Webhook}) {
		t.Errorf("key.rotated goes by %v by default", cs)
	}
	if c := got.Catalogue[0]; c.Event != notice.SessionCreated || c.Critical {
		t.Errorf("first catalogue entry = %+v", c)
	}

	// Round trip: the GET's events, PUT back, change nothing.
	b, _ := json.Marshal(map[string]any{"events": got.Events})
	if code, body := a.send(t, "PUT", "/v1/notifications/preferences", string(b)); code != 200 {
		t.Fatalf("PUT of what GET answered = %d %s", code, body)
	}
	if stored, _ := a.st.NoticeSettingsOf(context.Background(), a.sess.UserID); stored.Preferences != nil {
		t.Errorf("PUT of the defaults stored %v", stored.Preferences)
	}

	code, body := a.send(t, "PUT", "/v1/notifications/preferences", `{"events":{"key.rotated":[],"session.created":["push"],"factor.added":["webhook","mail","push"]}}`)
	if code != 200 {
		t.Fatalf("PUT preferences = %d %s", code, body)
	}
	got = preferencesView{}
	json.Unmarshal(body, &got)
	want := map[notice.Event][]notice.Channel{notice.KeyRotated: {}, notice.SessionCreated: {notice.Push}, notice.FactorAdded: {notice.Mail, notice.Push, notice.Webhook},
		notice.KeyRevoked: {notice.Mail, notice.Webhook}}
	for e, cs := range want {
		if !cmp.Equal(got.Events[e], cs) {
			t.Errorf("after PUT, %s goes by %v, want %v", e, got.Events[e], cs)
		}
	}
	if got.UpdatedAt == nil {
		t.Error("after PUT, no updated_at")
	}
	var again preferencesView
	a.do(t, "GET", "/v1/notifications/preferences", &again)
	if diff := cmp.Diff(got, again); diff != "" {
		t.Errorf("GET after PUT differs from PUT's answer (-put +get):\n%s", diff)
	}
	// The answer says [] for an event switched off, never null.
	if !strings.Contains(string(body), `"key.rotated":[]`) {
		t.Errorf("an event switched off is not []: %s", body)
	}
}

// TestNoticePreferencesAPIRefused: every bad body is a 400 problem that
// names the field at fault, and nothing changes.
func TestNoticePreferencesAPIRefused(t *testing.T) {
	a := newAPIUser(t)
	for _, tt := range []struct {
		name, body string
		field      string // a field the problem names; "" for none
	}{
		{"critical off", `{"events":{"password.changed":[]}}`, "events.password.changed"},
		{"critical fewer", `{"events":{"device.pending":["mail"]}}`, "events.device.pending"},
		{"unknown channel", `{"events":{"key.rotated":["pigeon"]}}`, "events.key.rotated"},
		{"channel twice", `{"events":{"key.rotated":["mail","mail"]}}`, "events.key.rotated"},
		{"null list", `{"events":{"key.rotated":null}}`, "events.key.rotated"},
		{"unknown event", `{"events":{"session.maybe<script>":["mail"]}}`, "events"},
		{"no events", `{}`, "events"},
		{"events null", `{"events":null}`, "events"},
		{"event twice", `{"events":{"key.rotated":[],"key.rotated":["mail"]}}`, ""},
		{"case variant", `{"Events":{"key.rotated":[]}}`, ""},
		{"unknown field", `{"events":{},"phrase":"x"}`, ""},
		{"NUL", `{"events":{"key.rotated\u0000":[]}}`, ""},
		{"invalid UTF-8", "{\"events\":{\"key.rotated\xff\":[]}}", ""},
		{"not an object", `["mail"]`, ""},
		{"trailing", `{"events":{}}{}`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, body := a.send(t, "PUT", "/v1/notifications/preferences", tt.body)
			var p Problem
			if err := json.Unmarshal(body, &p); err != nil || code != 400 || p.Status != 400 || !strings.HasSuffix(p.Type, "bad-request") {
				t.Fatalf("PUT %s = %d %s, want a 400 bad-request problem", tt.body, code, body)
			}
			if strings.Contains(string(body), "<script>") {
				t.Errorf("the problem echoes the unknown event: %s", body)
			}
			if tt.field == "" {
				return
			}
			for _, f := range p.Errors {
				if f.Field == tt.field {
					return
				}
			}
			t.Errorf("PUT %s: problem %s does not name %s", tt.body, body, tt.field)
		})
	}
	if st, _ := a.st.NoticeSettingsOf(context.Background(), a.sess.UserID); st.Preferences != nil || !st.UpdatedAt.IsZero() {
		t.Errorf("refused bodies changed the settings: %+v", st)
	}
	// The critical refusal says why.
	_, body := a.send(t, "PUT", "/v1/notifications/preferences", `{"events":{"key.created":[]}}`)
	if !strings.Contains(string(body), "cannot be switched off") {
		t.Errorf("critical refusal = %s, want it to say it cannot be switched off", body)
	}
	// Signed out: 401, whatever the body.
	r := httptest.NewRequest("PUT", "/v1/notifications/preferences", strings.NewReader(`{"events":{}}`))
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	if w.Code != 401 {
		t.Errorf("PUT preferences without a session = %d, want 401", w.Code)
	}
}

// TestNoticePhraseAPI sets, refuses and clears the phrase; no answer and
// no audit event ever holds it.
func TestNoticePhraseAPI(t *testing.T) {
	a := newAPIUser(t)
	const phrase = "otters hold hands"
	code, body := a.send(t, "PUT", "/v1/notifications/phrase", `{"phrase":"`+phrase+`"}`)
	if code != 200 || strings.TrimSpace(string(body)) != `{"phrase_set":true}` {
		t.Fatalf("PUT phrase = %d %s", code, body)
	}
	if st, _ := a.st.NoticeSettingsOf(context.Background(), a.sess.UserID); st.Phrase != phrase {
		t.Errorf("stored phrase = %q", st.Phrase)
	}
	var got preferencesView
	resp := a.do(t, "GET", "/v1/notifications/preferences", &got)
	if resp.StatusCode != 200 || !got.PhraseSet {
		t.Errorf("GET preferences after setting the phrase: %d, phrase_set %v", resp.StatusCode, got.PhraseSet)
	}
	for _, path := range []string{"/v1/notifications/preferences", "/v1/audit", "/v1/me"} {
		r := httptest.NewRequest("GET", path, nil)
		r.AddCookie(a.cookie)
		w := httptest.NewRecorder()
		a.h.ServeHTTP(w, r)
		if strings.Contains(w.Body.String(), "otters") {
			t.Errorf("GET %s reads the phrase back: %s", path, w.Body)
		}
	}
	for _, bad := range []string{`{"phrase":"new\nline"}`, `{"phrase":"ab"}`, `{}`, `{"phrase":null}`, `{"phrase":"nul\u0000"}`, `{"phrase":"x","Phrase":"y"}`, `{"phrase":7}`} {
		code, body := a.send(t, "PUT", "/v1/notifications/phrase", bad)
		var p Problem
		json.Unmarshal(body, &p)
		if code != 400 {
			t.Errorf("PUT phrase %s = %d %s, want 400", bad, code, body)
		}
		if strings.Contains(bad, `"phrase":"`) && !strings.Contains(bad, "Phrase") && !strings.Contains(bad, `\u0000`) && (len(p.Errors) != 1 || p.Errors[0].Field != "phrase") {
			t.Errorf("PUT phrase %s: problem %s does not name phrase", bad, body)
		}
	}
	if st, _ := a.st.NoticeSettingsOf(context.Background(), a.sess.UserID); st.Phrase != phrase {
		t.Errorf("refused phrases changed the phrase to %q", st.Phrase)
	}
	if code, body := a.send(t, "PUT", "/v1/notifications/phrase", `{"phrase":""}`); code != 200 || strings.TrimSpace(string(body)) != `{"phrase_set":false}` {
		t.Errorf("clearing the phrase = %d %s", code, body)
	}
	es, _ := a.st.AuditOfUser(context.Background(), a.sess.UserID, 0, 10)
	var sets []string
	for _, e := range es {
		if e.Type == audit.NoticePhrase {
			sets = append(sets, e.Detail["set"])
		}
	}
	if !cmp.Equal(sets, []string{"false", "true"}) {
		t.Errorf("phrase events (newest first) set = %v, want [false true]", sets)
	}
}

// TestSentNoticesAPI lists what was sent to the caller, with its state;
// never a destination, payload or error text.
func TestSentNoticesAPI(t *testing.T) {
	a := newAPIUser(t)
	ctx := context.Background()
	storetest.NewUser(t, a.st, "bob")
	t0 := storetest.T0
	for i, m := range []*store.Message{
		{ID: "msg_a1", Channel: store.ChannelMail, Event: "session.created", UserID: a.sess.UserID, Destination: "alice@example.com", Payload: []byte(`{"freeze_url":"https://x/freeze?token=SECRET"}`)},
		{ID: "msg_a2", Channel: store.ChannelPush, Event: "factor.added", UserID: a.sess.UserID, Destination: "phone-endpoint"},
		{ID: "msg_b1", Channel: store.ChannelMail, Event: "session.created", UserID: "usr_bob", Destination: "bob@example.com"},
	} {
		m.CreatedAt = t0.Add(time.Duration(i) * time.Second)
		if err := a.st.EnqueueMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	a.st.MarkDelivered(ctx, "msg_a1", t0.Add(time.Minute))
	a.st.ClaimMessages(ctx, t0.Add(time.Hour), time.Minute, 10)
	a.st.MarkFailed(ctx, "msg_a2", "push endpoint phone-endpoint answered 500", t0.Add(2*time.Hour))

	r := httptest.NewRequest("GET", "/v1/notifications", nil)
	r.AddCookie(a.cookie)
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	if w.Code != 200 {
		t.Fatalf("GET /v1/notifications = %d %s", w.Code, w.Body)
	}
	for _, leak := range []string{"alice@example.com", "SECRET", "phone-endpoint", "answered 500", "msg_b1"} {
		if strings.Contains(w.Body.String(), leak) {
			t.Errorf("GET /v1/notifications shows %q: %s", leak, w.Body)
		}
	}
	var got struct {
		Notifications []sentView `json:"notifications"`
	}
	json.Unmarshal(w.Body.Bytes(), &got)
	delivered := t0.Add(time.Minute)
	want := []sentView{
		// A push waits for the phone: no worker claims it, so no attempt.
		{ID: "msg_a2", Event: notice.FactorAdded, Channel: notice.Push, State: "pending", Attempts: 0, CreatedAt: t0.Add(time.Second)},
		{ID: "msg_a1", Event: notice.SessionCreated, Channel: notice.Mail, State: "delivered", CreatedAt: t0, DeliveredAt: &delivered},
	}
	if diff := cmp.Diff(want, got.Notifications); diff != "" {
		t.Errorf("GET /v1/notifications (-want +got):\n%s", diff)
	}
	for _, q := range []string{"0", "101", "x", "-1"} {
		if resp := a.do(t, "GET", "/v1/notifications?limit="+q, nil); resp.StatusCode != 400 {
			t.Errorf("GET /v1/notifications?limit=%s = %d, want 400", q, resp.StatusCode)
		}
	}
	var one struct {
		Notifications []sentView `json:"notifications"`
	}
	if resp := a.do(t, "GET", "/v1/notifications?limit=1", &one); resp.StatusCode != 200 || len(one.Notifications) != 1 {
		t.Errorf("GET ?limit=1 = %d with %d notices", resp.StatusCode, len(one.Notifications))
	}
}

// sentPage is one answer of GET /v1/notifications.
type sentPage struct {
	Notifications []sentView `json:"notifications"`
	NextCursor    string     `json:"next_cursor"`
}

// TestSentNoticesAPIPages: pages follow next_cursor through every notice
// of the caller once, newest first, full however many signals lie
// between; the filters select in the store, before the page is cut.
func TestSentNoticesAPIPages(t *testing.T) {
	a := newAPIUser(t)
	ctx := context.Background()
	t0 := storetest.T0
	var want []string
	for i := range 12 {
		at := t0.Add(time.Duration(i/2) * time.Second) // two notices an instant
		ch, ev := store.ChannelMail, "session.created"
		if i%3 == 0 {
			ch, ev = store.ChannelWebhook, "key.created"
		}
		id := fmt.Sprintf("msg_n%02d", i)
		for _, m := range []*store.Message{
			{ID: id, Channel: ch, Event: ev, UserID: a.sess.UserID, CreatedAt: at},
			{ID: fmt.Sprintf("msg_s%02d", i), Channel: store.ChannelSSF, Event: "session-revoked", UserID: a.sess.UserID, CreatedAt: at},
		} {
			if err := a.st.EnqueueMessage(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		want = append([]string{id}, want...)
	}
	walk := func(query string) []string {
		t.Helper()
		var ids []string
		target := "/v1/notifications?" + query
		for range 20 {
			var p sentPage
			if resp := a.do(t, "GET", target, &p); resp.StatusCode != 200 {
				t.Fatalf("GET %s = %d", target, resp.StatusCode)
			}
			for _, n := range p.Notifications {
				ids = append(ids, n.ID)
			}
			if p.NextCursor == "" {
				return ids
			}
			if len(p.Notifications) != 5 {
				t.Errorf("GET %s: a page of %d before the last, want 5", target, len(p.Notifications))
			}
			target = "/v1/notifications?" + query + "&cursor=" + url.QueryEscape(p.NextCursor)
		}
		t.Fatal("paging does not end")
		return nil
	}
	if diff := cmp.Diff(want, walk("limit=5")); diff != "" {
		t.Errorf("paged notices (-want +got):\n%s", diff)
	}
	var hooks []string
	for _, id := range want {
		var i int
		fmt.Sscanf(id, "msg_n%d", &i)
		if i%3 == 0 {
			hooks = append(hooks, id)
		}
	}
	for _, q := range []string{"limit=5&channel=webhook", "limit=5&event=key.created", "event=key.created&limit=5&state=pending"} {
		if diff := cmp.Diff(hooks, walk(q)); diff != "" {
			t.Errorf("GET ?%s (-want +got):\n%s", q, diff)
		}
	}
	var none sentPage
	if resp := a.do(t, "GET", "/v1/notifications?state=delivered", &none); resp.StatusCode != 200 || len(none.Notifications) != 0 || none.NextCursor != "" {
		t.Errorf("GET ?state=delivered = %d, %+v; want none", resp.StatusCode, none)
	}
}

// TestSentNoticesAPIRefused: a cursor not made by the server, and any
// other bad parameter, is a 400 naming the parameter without echoing
// it, and lists nothing.
func TestSentNoticesAPIRefused(t *testing.T) {
	a := newAPIUser(t)
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct{ query, field string }{
		{"cursor=", "cursor"},
		{"cursor=x", "cursor"},
		{"cursor=" + b64("v1.1772443800000000.msg_1") + "=", "cursor"},
		{"cursor=" + base64.StdEncoding.EncodeToString([]byte("v1.1772443800000000.msg_1?")), "cursor"},
		{"cursor=" + b64("v2.1772443800000000.msg_1"), "cursor"},
		{"cursor=" + b64("v1.abc.msg_1"), "cursor"},
		{"cursor=" + b64("v1.-1.msg_1"), "cursor"},
		{"cursor=" + b64("v1.01772443800000000.msg_1"), "cursor"},
		{"cursor=" + b64("v1.99999999999999999999.msg_1"), "cursor"},
		{"cursor=" + b64("v1.1772443800000000.msg_1' OR 1=1 --"), "cursor"},
		{"cursor=" + b64("v1.1772443800000000.msg_\xff"), "cursor"},
		{"cursor=" + b64("v1.1772443800000000.msg_1.x"), "cursor"},
		{"cursor=" + b64("v1.1772443800000000.ses_1"), "cursor"},
		{"cursor=" + strings.Repeat("A", 4096), "cursor"},
		{"cursor=" + b64("v1.1772443800000000.msg_1") + "&cursor=" + b64("v1.1772443800000000.msg_2"), "cursor"},
		{"limit=5&limit=6", "limit"},
		{"limit=05", "limit"},
		{"event=key.made", "event"},
		{"channel=ssf", "channel"},
		{"channel=MAIL", "channel"},
		{"state=parked", "state"},
		{"after=msg_1", "query"},
	} {
		code, body := a.send(t, "GET", "/v1/notifications?"+tc.query, "")
		if code != 400 || !strings.Contains(string(body), `"field":"`+tc.field+`"`) {
			t.Errorf("GET ?%s = %d %s, want 400 naming %s", tc.query, code, body, tc.field)
		}
		if v, _ := url.ParseQuery(tc.query); len(v.Get("cursor")) > 8 && strings.Contains(string(body), v.Get("cursor")) {
			t.Errorf("GET ?%s: the answer echoes the cursor", tc.query)
		}
	}
}
