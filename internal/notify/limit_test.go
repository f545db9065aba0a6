package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gatehouse/internal/audit"
	"gatehouse/internal/factor"
	"gatehouse/internal/notice"
	"gatehouse/internal/notify"
	"gatehouse/internal/notify/notifytest"
	"gatehouse/internal/outbox"
	"gatehouse/internal/seal"
	"gatehouse/internal/store"
	"gatehouse/internal/store/storetest"
	"gatehouse/internal/webhook"
)

// keyEvent is the audit event of one of alice's keys created, rotated or
// revoked at at.
func keyEvent(typ string, at time.Time) *audit.Event {
	return &audit.Event{Time: at, Type: typ, UserID: "usr_alice", Actor: "usr_alice", Interface: "api",
		Detail: map[string]string{"key": "gh_live_1", "account": "A1"}}
}

// mailsOf returns the events of alice's mail messages, oldest first.
func mailsOf(t *testing.T, st store.Store) []*store.Message {
	t.Helper()
	ms, err := st.ListMessages(context.Background(), store.MessageFilter{UserID: "usr_alice"})
	if err != nil {
		t.Fatal(err)
	}
	var out []*store.Message
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Channel == store.ChannelMail {
			out = append(out, ms[i])
		}
	}
	return out
}

func summaryCounts(t *testing.T, m *store.Message) map[string]string {
	t.Helper()
	var p struct {
		Notice *notice.Notice `json:"notice"`
	}
	if err := json.Unmarshal(m.Payload, &p); err != nil || p.Notice == nil {
		t.Fatalf("summary payload %s: %v", m.Payload, err)
	}
	return p.Notice.Detail
}

// TestNoticeLimitSummary: a flood of one user's notices is mailed up to
// the limit, then folded into one summary mail due at the window's end
// that counts every held notice; critical notices are mailed however
// many came first; webhooks carry every notice; the next window starts
// afresh.
func TestNoticeLimitSummary(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		storetest.NewUser(t, st, "alice")
		_, sec := testSecret(t)
		d := &notify.Notices{Seal: testBox(t), Mail: true, Limit: notice.Limit{Max: 3, Window: time.Hour},
			Webhooks: []notify.Endpoint{{URL: "https://all.example/hook", Secrets: []webhook.Secret{sec}, Events: []string{"*"}}}}
		t0 := storetest.T0
		hooks := 0
		at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
		run := func(typ string, min int) {
			t.Helper()
			for _, m := range derive(t, st, d, keyEvent(typ, at(min))) {
				if m.Channel == store.ChannelWebhook {
					hooks++
				}
			}
		}
		for i := range 6 {
			run(audit.KeyRotated, i)
		}
		run(audit.KeyCreated, 10) // critical, past the limit
		run(audit.KeyRevoked, 11)
		run(audit.KeyRevoked, 12)
		run(audit.KeyCreated, 13)

		var events []string
		var summary *store.Message
		for _, m := range mailsOf(t, st) {
			events = append(events, m.Event)
			if m.Event == string(notice.Summary) {
				summary = m
			}
		}
		want := []string{"key.rotated", "key.rotated", "key.rotated", "notice.summary", "key.created", "key.created"}
		if diff := cmp.Diff(want, events); diff != "" {
			t.Fatalf("mails (-want +got):\n%s", diff)
		}
		if hooks != 10 {
			t.Errorf("%d webhook messages, want one for each of the 10 notices", hooks)
		}
		if !summary.NextAttemptAt.Equal(t0.Add(time.Hour)) || summary.State != store.MessagePending || summary.Destination != "alice@example.com" {
			t.Errorf("summary due %v, %s, to %q; want pending, due at the window's end %v, to alice", summary.NextAttemptAt, summary.State, summary.Destination, t0.Add(time.Hour))
		}
		if diff := cmp.Diff(map[string]string{"key.rotated": "3", "key.revoked": "2"}, summaryCounts(t, summary)); diff != "" {
			t.Errorf("summary counts (-want +got):\n%s", diff)
		}
		// Nothing is due before the window ends: the summary waits.
		if ms, err := st.ClaimMessages(ctx, at(59), time.Minute, 100); err != nil {
			t.Fatal(err)
		} else {
			for _, m := range ms {
				if m.ID == summary.ID {
					t.Errorf("summary claimed before the window ended")
				}
			}
		}

		// The summary, sent through a relay, tells the counts and carries
		// its own freeze link.
		text := sendText(t, st, d.Seal, summary)
		for _, want := range []string{`More notices than usual`, `An API key was rotated:\s+3 times`, `An API key was revoked:\s+2 times`, `https://auth\.example\.com/freeze\?token=`} {
			if !regexp.MustCompile(want).MatchString(text) {
				t.Errorf("summary mail lacks %q:\n%s", want, text)
			}
		}

		// A new window: mailed again; the old summary is left as it was.
		run(audit.KeyRotated, 61)
		ms := mailsOf(t, st)
		if last := ms[len(ms)-1]; last.Event != "key.rotated" || len(ms) != 7 {
			t.Errorf("after the window, last mail %s of %d, want key.rotated of 7", last.Event, len(ms))
		}
		got, err := st.MessageByID(ctx, summary.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]string{"key.rotated": "3", "key.revoked": "2"}, summaryCounts(t, got)); diff != "" {
			t.Errorf("old summary's counts changed (-want +got):\n%s", diff)
		}
	})
}

// relayed sends m with s through a real SMTP relay (s.Mailer is set to
// it) and returns the message the relay received.
func relayed(t *testing.T, s *notify.MailSender, m *store.Message) *mail.Message {
	t.Helper()
	relay := notifytest.Start(t, notifytest.Options{})
	s.Mailer = &notify.SMTP{Addr: relay.Addr, From: "gatehouse@example.com", TLS: notify.NoTLS}
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatalf("Send(%s) = %v", m.Event, err)
	}
	var got notifytest.Message
	select {
	case got = <-relay.Messages:
	case <-time.After(10 * time.Second):
		t.Fatal("the relay received nothing")
	}
	msg, err := mail.ReadMessage(strings.NewReader(strings.ReplaceAll(got.Data, "\n", "\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// sendText sends m through a real SMTP relay and returns the plain-text
// part of what the relay received.
func sendText(t *testing.T, st store.Store, box *seal.Box, m *store.Message) string {
	t.Helper()
	msg := relayed(t, &notify.MailSender{Seal: box, Origin: "https://auth.example.com", Users: st}, m)
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("no text/plain part: %v", err)
		}
		if ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); ct == "text/plain" {
			b, _ := io.ReadAll(p)
			return string(b)
		}
	}
}

// TestNoticeLimitSummaryTaken: a notice held after a worker took the
// window's summary (a clock ahead on another instance) starts a new one
// instead of changing what is being sent.
func TestNoticeLimitSummaryTaken(t *testing.T) {
	st := storetest.SQLite(t)
	ctx := context.Background()
	storetest.NewUser(t, st, "alice")
	d := &notify.Notices{Seal: testBox(t), Mail: true, Limit: notice.Limit{Max: 1, Window: time.Hour}}
	t0 := storetest.T0
	derive(t, st, d, keyEvent(audit.KeyRotated, t0))
	derive(t, st, d, keyEvent(audit.KeyRotated, t0.Add(time.Minute)))
	if _, err := st.ClaimMessages(ctx, t0.Add(2*time.Hour), time.Minute, 100); err != nil {
		t.Fatal(err)
	}
	derive(t, st, d, keyEvent(audit.KeyRevoked, t0.Add(2*time.Minute)))
	var sums []map[string]string
	for _, m := range mailsOf(t, st) {
		if m.Event == string(notice.Summary) {
			sums = append(sums, summaryCounts(t, m))
		}
	}
	want := []map[string]string{{"key.rotated": "1"}, {"key.rotated": "1", "key.revoked": "1"}}
	if diff := cmp.Diff(want, sums); diff != "" {
		t.Errorf("summaries (-want +got):\n%s", diff)
	}
}

// TestNoticeLimitConcurrent: notices of one user committed at once, on
// either store, are counted one after the other: exactly the limit is
// mailed, one summary counts the rest.
func TestNoticeLimitConcurrent(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		storetest.NewUser(t, st, "alice")
		d := &notify.Notices{Seal: testBox(t), Mail: true, Limit: notice.Limit{Max: 4, Window: time.Hour}}
		const n = 16
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				e := keyEvent(audit.KeyRotated, storetest.T0.Add(time.Duration(i)*time.Second))
				errs <- st.InTx(ctx, func(tx store.Tx) error {
					if err := tx.AppendAudit(ctx, e); err != nil {
						return err
					}
					ms, err := d.Derive(ctx, tx, e)
					for _, m := range ms {
						if err := tx.EnqueueMessage(ctx, m); err != nil {
							return err
						}
					}
					return err
				})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("a notice's transaction: %v", err)
			}
		}
		mailed, summaries := 0, 0
		var counts map[string]string
		for _, m := range mailsOf(t, st) {
			switch m.Event {
			case "key.rotated":
				mailed++
			case string(notice.Summary):
				summaries++
				counts = summaryCounts(t, m)
			}
		}
		if mailed != 4 || summaries != 1 || counts["key.rotated"] != "12" {
			t.Errorf("mailed %d, %d summaries counting %v; want 4 mailed, 1 summary counting 12", mailed, summaries, counts)
		}
	})
}

// TestNoticesPush: a user's phones each get a push message of a notice
// that goes by push, on both stores; a phone not active gets none, an
// event whose push the user switched off goes to no phone, and the
// limit holds the pushes back with the mail.
func TestNoticesPush(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		storetest.NewUser(t, st, "alice")
		for i, status := range []factor.Status{factor.Active, factor.Active, factor.Pending} {
			f := &factor.Factor{ID: fmt.Sprintf("fac_p%d", i), UserID: "usr_alice", Kind: factor.Push, Name: "Pixel", Status: status,
				CredentialID: []byte{byte(i)}, PublicKey: "pk", CreatedAt: storetest.T0.Add(time.Duration(i) * time.Second)}
			if err := st.CreateFactor(ctx, f); err != nil {
				t.Fatal(err)
			}
		}
		offPush := func(context.Context, store.Tx, string) (notice.Preferences, error) {
			return notice.Preferences{notice.SessionCreated: {notice.Mail}}, nil
		}
		d := &notify.Notices{Mail: true, SignIns: true, Limit: notice.Limit{Max: 1, Window: time.Hour}, Preferences: offPush}
		pushes := func(ms []*store.Message) []string {
			var out []string
			for _, m := range ms {
				if m.Channel == store.ChannelPush {
					out = append(out, m.Destination)
				}
			}
			return out
		}
		if got := pushes(derive(t, st, d, signIn(storetest.T0))); len(got) != 0 {
			t.Errorf("sign-in with push switched off pushed to %v", got)
		}
		ms := derive(t, st, d, keyEvent(audit.KeyCreated, storetest.T0.Add(time.Minute)))
		if diff := cmp.Diff([]string{"fac_p0", "fac_p1"}, pushes(ms)); diff != "" {
			t.Errorf("key.created pushed to (-want +got):\n%s", diff)
		}
		if n, ok := notify.DecodeNotice(ms[len(ms)-1].Payload); !ok || n.Event != notice.KeyCreated || n.Detail["key"] != "gh_live_1" {
			t.Errorf("push payload = %s", ms[len(ms)-1].Payload)
		}
		// Past the limit: neither mail nor push, one summary (by mail).
		ms = derive(t, st, d, keyEvent(audit.KeyRotated, storetest.T0.Add(2*time.Minute)))
		if len(ms) != 1 || ms[0].Event != string(notice.Summary) || ms[0].Channel != store.ChannelMail {
			t.Errorf("held notice wrote %d messages (%v), want the summary mail", len(ms), pushes(ms))
		}
	})
}

// TestMailRelayDown: with the relay down, a notice mail is not lost: the
// worker records a failure (naming no address or secret) and tries again
// with backoff; once the relay is back, the mail is delivered, once.
func TestMailRelayDown(t *testing.T) {
	st := storetest.SQLite(t)
	storetest.NewUser(t, st, "alice")
	box := testBox(t)
	ms := derive(t, st, &notify.Notices{Seal: box, Mail: true, SignIns: true}, signIn(storetest.T0))
	// An address where nothing listens: the relay is down.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	smtp := &notify.SMTP{Addr: addr, From: "gatehouse@example.com", TLS: notify.NoTLS, Timeout: 2 * time.Second}
	w := &outbox.Worker{Store: st, Poll: 20 * time.Millisecond, Retry: outbox.Retry{Base: 50 * time.Millisecond, Cap: 200 * time.Millisecond, MaxAttempts: 1000},
		Senders: map[string]outbox.Sender{store.ChannelMail: &notify.MailSender{Mailer: smtp, Seal: box, Origin: "https://auth.example.com", Users: st}}}
	run(t, w)
	waitFor(t, "two failed attempts", func() bool {
		m, err := st.MessageByID(context.Background(), ms[0].ID)
		return err == nil && m.Attempts >= 2 && m.LastError != ""
	})
	m, _ := st.MessageByID(context.Background(), ms[0].ID)
	if m.State != store.MessagePending || strings.Contains(m.LastError, "alice@example.com") {
		t.Errorf("while the relay is down: %s, last error %q; want pending, naming no address", m.State, m.LastError)
	}
	relay := notifytest.Start(t, notifytest.Options{Addr: addr})
	waitFor(t, "the mail delivered", func() bool {
		m, err := st.MessageByID(context.Background(), ms[0].ID)
		return err == nil && m.State == store.MessageDelivered
	})
	select {
	case got := <-relay.Messages:
		if !strings.Contains(got.Data, ms[0].ID) {
			t.Errorf("the relay got another message:\n%s", got.Data)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the relay received nothing")
	}
	select {
	case <-relay.Messages:
		t.Error("the mail was delivered twice")
	case <-time.After(100 * time.Millisecond):
	}
}
