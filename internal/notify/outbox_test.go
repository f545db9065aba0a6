package notify_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/notice"
	"gatehouse/internal/notify"
	"gatehouse/internal/outbox"
	"gatehouse/internal/seal"
	"gatehouse/internal/store"
	"gatehouse/internal/store/storetest"
	"gatehouse/internal/token"
	"gatehouse/internal/webhook"
)

// backends runs f on a fresh SQLite store and, when configured, a fresh
// PostgreSQL one.
func backends(t *testing.T, f func(t *testing.T, st store.Store)) {
	t.Run("SQLite", func(t *testing.T) { f(t, storetest.SQLite(t)) })
	t.Run("PostgreSQL", func(t *testing.T) { f(t, storetest.Postgres(t)) })
}

func testBox(t *testing.T) *seal.Box {
	t.Helper()
	key := sha256.Sum256([]byte("gatehouse notify test key"))
	b, err := seal.New(key[:])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testSecret(t *testing.T) (string, webhook.Secret) {
	t.Helper()
	text, err := webhook.NewSecret(nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := webhook.ParseSecret(text)
	if err != nil {
		t.Fatal(err)
	}
	return text, s
}

// signIn is the audit event of a new sign-in of alice.
func signIn(at time.Time) *audit.Event {
	return &audit.Event{Time: at, Type: audit.SessionStarted, UserID: "usr_alice", Actor: "usr_alice", Interface: "desktop", IP: "198.51.100.7",
		Detail: map[string]string{"session": "ses_1", "device": "dev_1", "name": "Trading VM"}}
}

// derive runs d over e in a transaction of st, stores the messages as
// the store wrapper does, and returns them.
func derive(t *testing.T, st store.Store, d *notify.Notices, e *audit.Event) []*store.Message {
	t.Helper()
	var out []*store.Message
	err := st.InTx(context.Background(), func(tx store.Tx) error {
		if err := tx.AppendAudit(context.Background(), e); err != nil {
			return err
		}
		ms, err := d.Derive(context.Background(), tx, e)
		for _, m := range ms {
			if err := tx.EnqueueMessage(context.Background(), m); err != nil {
				return err
			}
		}
		out = ms
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestNoticesDerive(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		storetest.NewUser(t, st, "alice")
		_, sec := testSecret(t)
		box := testBox(t)
		d := &notify.Notices{Seal: box, Mail: true, SignIns: true, Webhooks: []notify.Endpoint{
			{URL: "https://all.example/hook", Secrets: []webhook.Secret{sec}, Events: []string{"*"}},
			{URL: "https://keys.example/hook", Secrets: []webhook.Secret{sec}, Events: []string{"key.created"}},
		}}
		ms := derive(t, st, d, signIn(storetest.T0))
		var mails, hooks []*store.Message
		for _, m := range ms {
			switch m.Channel {
			case store.ChannelMail:
				mails = append(mails, m)
			case store.ChannelWebhook:
				hooks = append(hooks, m)
			}
		}
		if len(mails) != 1 || len(hooks) != 1 || len(ms) != 2 {
			t.Fatalf("messages = %d mail, %d webhook of %d, want 1, 1 (the key endpoint wants no sign-in)", len(mails), len(hooks), len(ms))
		}
		if m := mails[0]; m.Destination != "alice@example.com" || m.Event != "session.created" || m.UserID != "usr_alice" {
			t.Errorf("mail = %s to %q for %q, want session.created to alice@example.com for usr_alice", m.Event, m.Destination, m.UserID)
		}
		if h := hooks[0]; h.Destination != "https://all.example/hook" {
			t.Errorf("webhook destination = %q", h.Destination)
		}
		var body struct {
			Type string
			Data map[string]any
		}
		if err := json.Unmarshal(hooks[0].Payload, &body); err != nil || body.Type != "session.created" || body.Data["user"] != "usr_alice" || body.Data["device"] != "Trading VM" {
			t.Errorf("webhook body = %s (%v)", hooks[0].Payload, err)
		}
		// What is stored holds no link token in clear: the freeze link is
		// in the mail's payload sealed, and as a hash among the links.
		stored, err := st.MessageByID(ctx, mails[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		var p struct{ Freeze []byte }
		if err := json.Unmarshal(stored.Payload, &p); err != nil || len(p.Freeze) == 0 {
			t.Fatalf("mail payload %s has no sealed freeze token (%v)", stored.Payload, err)
		}
		tok, err := box.Open(p.Freeze, []byte("gatehouse freeze link\x00"+stored.ID))
		if err != nil {
			t.Fatalf("the sealed freeze token does not open: %v", err)
		}
		if bytes.Contains(stored.Payload, tok) {
			t.Error("the freeze token is in the payload in clear")
		}
		if uid, err := st.UseFreezeLink(ctx, token.Hash(string(tok)), storetest.T0.Add(time.Hour)); err != nil || uid != "usr_alice" {
			t.Errorf("UseFreezeLink(the sealed token) = %q, %v; want usr_alice", uid, err)
		}

		// Not told: a login.succeeded, an event of nobody.
		for _, e := range []*audit.Event{
			{Time: storetest.T0, Type: audit.LoginSucceeded, UserID: "usr_alice"},
			{Time: storetest.T0, Type: audit.KeyCreated, Detail: map[string]string{"key": "k"}},
		} {
			if ms := derive(t, st, d, e); len(ms) != 0 {
				t.Errorf("%s → %d messages, want none", e.Type, len(ms))
			}
		}
	})
}

func TestNoticesFollowPreferencesAndSettings(t *testing.T) {
	st := storetest.SQLite(t)
	storetest.NewUser(t, st, "alice")
	_, sec := testSecret(t)
	hooks := []notify.Endpoint{{URL: "https://all.example/hook", Secrets: []webhook.Secret{sec}, Events: []string{"*"}}}
	channels := func(ms []*store.Message) string {
		var s []string
		for _, m := range ms {
			s = append(s, m.Channel)
		}
		return strings.Join(s, ",")
	}
	offMail := func(context.Context, store.Tx, string) (notice.Preferences, error) {
		return notice.Preferences{notice.SessionCreated: {notice.Webhook}, notice.KeyCreated: {}}, nil
	}
	key := &audit.Event{Time: storetest.T0, Type: audit.KeyCreated, UserID: "usr_alice", Detail: map[string]string{"key": "gh_live_1", "account": "A1"}}
	for _, tc := range []struct {
		name string
		d    *notify.Notices
		e    *audit.Event
		want string
	}{
		{"Defaults", &notify.Notices{Mail: true, SignIns: true, Webhooks: hooks}, signIn(storetest.T0), "mail,webhook"},
		{"NoMailer", &notify.Notices{SignIns: true, Webhooks: hooks}, signIn(storetest.T0), "webhook"},
		{"SignInsNotMailed", &notify.Notices{Mail: true, Webhooks: hooks}, signIn(storetest.T0), "webhook"},
		{"SignInsNotMailedButKeys", &notify.Notices{Mail: true, Webhooks: hooks}, key, "mail,webhook"},
		{"PreferenceDropsMail", &notify.Notices{Mail: true, SignIns: true, Webhooks: hooks, Preferences: offMail}, signIn(storetest.T0), "webhook"},
		// key.created is critical: switching it off keeps its defaults.
		{"CriticalStays", &notify.Notices{Mail: true, SignIns: true, Webhooks: hooks, Preferences: offMail}, key, "mail,webhook"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := channels(derive(t, st, tc.d, tc.e)); got != tc.want {
				t.Errorf("channels = %q, want %q", got, tc.want)
			}
		})
	}
	failing := &notify.Notices{Mail: true, Preferences: func(context.Context, store.Tx, string) (notice.Preferences, error) {
		return nil, errors.New("preferences unreadable")
	}}
	err := st.InTx(context.Background(), func(tx store.Tx) error {
		_, err := failing.Derive(context.Background(), tx, signIn(storetest.T0))
		return err
	})
	if err == nil {
		t.Error("Derive with unreadable preferences = nil error; the change must not commit without its notice")
	}
}

// TestMailSenderRendersThroughRelay: a notice mail reaches a real SMTP
// server (go-smtp) with a text and an HTML part, the phrase first, the
// freeze link that the stored hash accepts, and the message id.
func TestMailSenderRendersThroughRelay(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		storetest.NewUser(t, st, "alice")
		box := testBox(t)
		d := &notify.Notices{Seal: box, Mail: true, SignIns: true}
		ms := derive(t, st, d, signIn(storetest.T0))
		if len(ms) != 1 {
			t.Fatalf("%d messages, want 1 mail", len(ms))
		}
		msg := relayed(t, &notify.MailSender{Seal: box, Origin: "https://auth.example.com", Users: st,
			Phrase: func(context.Context, string) (string, error) { return "blue heron at dawn", nil }}, ms[0])
		if got, want := msg.Header.Get("Message-ID"), "<"+ms[0].ID+"@example.com>"; got != want {
			t.Errorf("Message-ID = %q, want %q", got, want)
		}
		if got, want := msg.Header.Get("Subject"), "New sign-in to your gatehouse account"; got != want {
			t.Errorf("Subject = %q, want %q", got, want)
		}
		mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
		if err != nil || mt != "multipart/alternative" {
			t.Fatalf("Content-Type = %q (%v), want multipart/alternative", msg.Header.Get("Content-Type"), err)
		}
		parts := map[string]string{}
		mr := multipart.NewReader(msg.Body, params["boundary"])
		for {
			p, err := mr.NextPart() // decodes quoted-printable
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(p)
			ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
			parts[ct] = string(b)
		}
		link := regexp.MustCompile(`https://auth\.example\.com/freeze\?token=([A-Za-z0-9_-]+)`)
		for _, ct := range []string{"text/plain", "text/html"} {
			body, ok := parts[ct]
			if !ok {
				t.Errorf("no %s part; parts %v", ct, parts)
				continue
			}
			if i, j := strings.Index(body, "blue heron at dawn"), strings.Index(body, "signed in to"); i < 0 || j < 0 || i > j {
				t.Errorf("%s part: the phrase does not come first:\n%s", ct, body)
			}
			for _, want := range []string{"Trading VM", "198.51.100.7"} {
				if !strings.Contains(body, want) {
					t.Errorf("%s part lacks %q", ct, want)
				}
			}
			if !link.MatchString(body) {
				t.Errorf("%s part has no freeze link:\n%s", ct, body)
			}
		}
		m := link.FindStringSubmatch(parts["text/plain"])
		if m == nil {
			return
		}
		if uid, err := st.UseFreezeLink(ctx, token.Hash(m[1]), storetest.T0.Add(time.Minute)); err != nil || uid != "usr_alice" {
			t.Errorf("UseFreezeLink(the mailed token) = %q, %v; want usr_alice", uid, err)
		}
	})
}

func TestMailSenderParksWhatCannotOpen(t *testing.T) {
	st := storetest.SQLite(t)
	storetest.NewUser(t, st, "alice")
	ms := derive(t, st, &notify.Notices{Seal: testBox(t), Mail: true, SignIns: true}, signIn(storetest.T0))
	other := sha256.Sum256([]byte("another key"))
	box, _ := seal.New(other[:])
	s := &notify.MailSender{Mailer: notify.LogMailer{}, Seal: box, Origin: "https://auth.example.com", Users: st}
	err := s.Send(context.Background(), ms[0])
	if err == nil || !strings.Contains(err.Error(), "does not open") {
		t.Fatalf("Send with another key = %v, want a permanent 'does not open' error", err)
	}
	for _, bad := range [][]byte{[]byte("{"), []byte(`{"kind":"other"}`)} {
		m := *ms[0]
		m.Payload = bad
		if err := s.Send(context.Background(), &m); err == nil {
			t.Errorf("Send(payload %s) = nil", bad)
		}
	}
}

// receiver is a webhook endpoint that records what it was sent; answer
// decides each reply.
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	got     []delivery
	ids     map[string]int
	active  int
	maxBusy int
	answer  func(r *http.Request) int
}

type delivery struct {
	Headers map[string]string
	Body    string
}

func newReceiver(t *testing.T, answer func(r *http.Request) int) *receiver {
	rc := &receiver{ids: map[string]int{}, answer: answer}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.active++
		rc.maxBusy = max(rc.maxBusy, rc.active)
		rc.mu.Unlock()
		code := rc.answer(r)
		rc.mu.Lock()
		rc.active--
		rc.got = append(rc.got, delivery{map[string]string{webhook.HeaderID: r.Header.Get(webhook.HeaderID), webhook.HeaderTimestamp: r.Header.Get(webhook.HeaderTimestamp),
			webhook.HeaderSignature: r.Header.Get(webhook.HeaderSignature)}, string(b)})
		if code == 200 {
			rc.ids[r.Header.Get(webhook.HeaderID)]++
		}
		rc.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) delivered() map[string]int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := map[string]int{}
	for k, v := range rc.ids {
		out[k] = v
	}
	return out
}

// verify runs the Standard Webhooks reference library (npm
// standardwebhooks) over what the receiver got, with secret.
func verify(t *testing.T, secret string, got []delivery) []string {
	t.Helper()
	nodeModules := filepath.Join("..", "..", ".deps", "node", "node_modules")
	node, err := exec.LookPath("node")
	if _, serr := os.Stat(filepath.Join(nodeModules, "standardwebhooks")); err != nil || serr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node or standardwebhooks missing under CI: make test-deps installs them")
		}
		t.Skip("node or standardwebhooks missing: run make test-deps")
	}
	var in bytes.Buffer
	for _, g := range got {
		b, _ := json.Marshal(map[string]any{"secret": secret, "headers": g.Headers, "payload": g.Body})
		in.Write(append(b, '\n'))
	}
	abs, _ := filepath.Abs(nodeModules)
	cmd := exec.Command(node, filepath.Join("..", "webhook", "testdata", "verify.js"))
	cmd.Env = append(os.Environ(), "NODE_PATH="+abs)
	cmd.Stdin = &in
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("verify.js: %v\n%s", err, out)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// waitFor waits until cond holds, failing the test after a generous bound.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func run(t *testing.T, w *outbox.Worker) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// TestWebhooksSignedAndVerifiedByReference: every endpoint gets the
// notice signed with all its secrets; the reference library accepts it
// with the old secret and the new one during a rotation.
func TestWebhooksSignedAndVerifiedByReference(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		storetest.NewUser(t, st, "alice")
		oldText, old := testSecret(t)
		newText, next := testSecret(t)
		rc := newReceiver(t, func(*http.Request) int { return 200 })
		eps := []notify.Endpoint{{URL: rc.URL + "/hook?tenant=x", Secrets: []webhook.Secret{old, next}, Events: []string{"*"}}}
		ms := derive(t, st, &notify.Notices{Webhooks: eps}, signIn(storetest.T0))
		run(t, &outbox.Worker{Store: st, Senders: map[string]outbox.Sender{store.ChannelWebhook: &notify.Webhooks{Endpoints: eps}}, Poll: 10 * time.Millisecond})
		waitFor(t, "the delivery", func() bool { return rc.delivered()[ms[0].ID] == 1 })
		got := rc.got
		for _, secret := range []string{oldText, newText} {
			if v := verify(t, secret, got); len(v) != 1 || v[0] != "ok" {
				t.Errorf("reference library: %v, want ok", v)
			}
		}
		waitFor(t, "the delivery recorded", func() bool {
			m, err := st.MessageByID(context.Background(), ms[0].ID)
			return err == nil && m.State == store.MessageDelivered
		})
	})
}

// TestWebhookEndpointFailures: an endpoint that answers 500 is retried
// with backoff and parked; one that hangs holds only its share of the
// worker, so another endpoint's messages are all delivered meanwhile;
// the stored errors name no URL or query.
func TestWebhookEndpointFailures(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		storetest.NewUser(t, st, "alice")
		_, sec := testSecret(t)
		release := make(chan struct{})
		hang := newReceiver(t, func(r *http.Request) int {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return 503
		})
		broken := newReceiver(t, func(*http.Request) int { return 500 })
		good := newReceiver(t, func(*http.Request) int { return 200 })
		eps := []notify.Endpoint{
			{URL: hang.URL + "/?key=hang-secret", Secrets: []webhook.Secret{sec}, Events: []string{"*"}},
			{URL: broken.URL + "/?key=broken-secret", Secrets: []webhook.Secret{sec}, Events: []string{"*"}},
			{URL: good.URL + "/", Secrets: []webhook.Secret{sec}, Events: []string{"*"}},
		}
		var all []*store.Message
		for i := range 8 {
			all = append(all, derive(t, st, &notify.Notices{Webhooks: eps}, signIn(storetest.T0.Add(time.Duration(i)*time.Second)))...)
		}
		w := &outbox.Worker{Store: st, Senders: map[string]outbox.Sender{store.ChannelWebhook: &notify.Webhooks{Endpoints: eps}},
			Retry: outbox.Retry{Base: 20 * time.Millisecond, Cap: 40 * time.Millisecond, MaxAttempts: 3}, Timeout: time.Minute,
			Concurrency: 8, PerDestination: 2, Poll: 10 * time.Millisecond}
		run(t, w)
		// While the hanging endpoint holds its two slots, every message to
		// the good one is delivered, once each.
		waitFor(t, "the good endpoint's deliveries", func() bool { return len(good.delivered()) == 8 })
		for id, n := range good.delivered() {
			if n != 1 {
				t.Errorf("good endpoint got %s %d times", id, n)
			}
		}
		hang.mu.Lock()
		busy := hang.maxBusy
		hang.mu.Unlock()
		if busy > 2 {
			t.Errorf("the hanging endpoint had %d attempts at once, want at most 2 (PerDestination)", busy)
		}
		for _, m := range all {
			if m.Destination != eps[1].URL {
				continue
			}
			waitFor(t, "the broken endpoint's message parked", func() bool {
				got, err := st.MessageByID(ctx, m.ID)
				return err == nil && got.State == store.MessageFailed
			})
			got, _ := st.MessageByID(ctx, m.ID)
			if got.Attempts != 3 || got.LastError != "webhook: endpoint answered 500" {
				t.Errorf("parked after %d attempts with %q, want 3 and the status", got.Attempts, got.LastError)
			}
		}
		close(release)
		waitFor(t, "the hanging endpoint's messages parked", func() bool {
			ms, err := st.ListMessages(ctx, store.MessageFilter{State: store.MessageFailed, Limit: 100})
			return err == nil && len(ms) == 16
		})
		ms, _ := st.ListMessages(ctx, store.MessageFilter{State: store.MessageFailed, Limit: 100})
		for _, m := range ms {
			if strings.Contains(m.LastError, "secret") || strings.Contains(m.LastError, "127.0.0.1") {
				t.Errorf("stored error %q names the endpoint", m.LastError)
			}
		}
	})
}

// TestWebhookTimeoutIsAFailure: an endpoint that never answers fails
// the attempt at its timeout, with an error that says so.
func TestWebhookTimeoutIsAFailure(t *testing.T) {
	hang := newReceiver(t, func(r *http.Request) int { <-r.Context().Done(); return 503 })
	_, sec := testSecret(t)
	w := &notify.Webhooks{Endpoints: []notify.Endpoint{{URL: hang.URL + "/?t=1", Secrets: []webhook.Secret{sec}, Events: []string{"*"}}}}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := w.Send(ctx, &store.Message{ID: "msg_1", Channel: store.ChannelWebhook, Destination: hang.URL + "/?t=1", Payload: []byte(`{}`)})
	if err == nil || err.Error() != "webhook: no answer within the attempt's timeout" {
		t.Errorf("Send to a hanging endpoint = %v", err)
	}
	err = w.Send(context.Background(), &store.Message{ID: "msg_2", Channel: store.ChannelWebhook, Destination: "https://gone.example/", Payload: []byte(`{}`)})
	if err == nil || !strings.Contains(err.Error(), "no longer configured") {
		t.Errorf("Send to an endpoint no longer configured = %v", err)
	}
}

// TestRecoveryMailCarriesCancelLink: a recovery's notice mails a cancel
// link beside the freeze link; each token spends for its own purpose only.
func TestRecoveryMailCarriesCancelLink(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		storetest.NewUser(t, st, "alice")
		box := testBox(t)
		d := &notify.Notices{Seal: box, Mail: true}
		e := &audit.Event{Time: storetest.T0, Type: audit.RecoveryRequested, UserID: "usr_alice", Actor: "usr_alice",
			Detail: map[string]string{"request": "rcv_1", "completes_at": "2026-03-04T09:00:00Z"}}
		ms := derive(t, st, d, e)
		var mail *store.Message
		for _, m := range ms {
			if m.Channel == store.ChannelMail {
				mail = m
			}
		}
		if mail == nil {
			t.Fatalf("no mail among %d messages", len(ms))
		}
		msg := relayed(t, &notify.MailSender{Seal: box, Origin: "https://auth.example.com", Users: st}, mail)
		b, _ := io.ReadAll(msg.Body)
		text := strings.ReplaceAll(string(b), "=\r\n", "")
		cancel := regexp.MustCompile(`https://auth\.example\.com/recovery/cancel\?token=3D([A-Za-z0-9_-]{43})|https://auth\.example\.com/recovery/cancel\?token=([A-Za-z0-9_-]{43})`).FindStringSubmatch(text)
		freeze := regexp.MustCompile(`https://auth\.example\.com/freeze\?token=(?:3D)?([A-Za-z0-9_-]{43})`).FindStringSubmatch(text)
		if cancel == nil || freeze == nil {
			t.Fatalf("the mail lacks a cancel or a freeze link:\n%s", text)
		}
		tok := cancel[1] + cancel[2]
		now := storetest.T0.Add(time.Minute)
		if _, err := st.UseFreezeLink(ctx, token.Hash(tok), now); err == nil {
			t.Errorf("the cancel token froze")
		}
		if _, err := st.UseLink(ctx, token.Hash(freeze[1]), store.LinkRecoveryCancel, now); err == nil {
			t.Errorf("the freeze token cancelled")
		}
		if uid, err := st.UseLink(ctx, token.Hash(tok), store.LinkRecoveryCancel, now); err != nil || uid != "usr_alice" {
			t.Errorf("UseLink(the mailed cancel token) = %q, %v", uid, err)
		}
	})
}
