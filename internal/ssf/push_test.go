package ssf_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"gatehouse/internal/audit"
	"gatehouse/internal/emit"
	"gatehouse/internal/secevent"
	"gatehouse/internal/ssf"
	"gatehouse/internal/store"
	"gatehouse/internal/store/storetest"
)

// TestPushOutcomes: the push sender's answer to each receiver's answer
// (RFC 8935), and a token queued before its stream was paused: held when
// its turn comes, then sent again, same jti, when the stream is enabled.
func TestPushOutcomes(t *testing.T) {
	ctx := context.Background()
	var status int
	var answer string
	var got []string
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, string(b))
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	defer rcv.Close()
	redirect := httptest.NewServer(http.RedirectHandler(rcv.URL, http.StatusTemporaryRedirect))
	defer redirect.Close()
	pk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key := secevent.Key{ID: "k", Private: pk}
	tr := &ssf.Transmitter{Issuer: "https://gh.example", Keys: []secevent.Key{key}, Receivers: []*ssf.Receiver{
		{ID: "o", Audience: []string{"o"}, TokenHash: sha256.Sum256([]byte("t")), PushURL: rcv.URL, Events: secevent.Supported()},
		{ID: "moved", Audience: []string{"m"}, TokenHash: sha256.Sum256([]byte("u")), PushURL: redirect.URL, Events: secevent.Supported()},
	}}
	st := emit.Wrap(storetest.SQLite(t), tr)
	tr.Store = st
	if err := st.AppendAudit(ctx, &audit.Event{Time: storetest.T0, Type: audit.PasswordChanged, UserID: "usr_1", Actor: "usr_1"}); err != nil {
		t.Fatal(err)
	}
	ms, err := st.ListMessages(ctx, store.MessageFilter{})
	if err != nil || len(ms) != 2 {
		t.Fatalf("messages = %d, %v; want one per receiver", len(ms), err)
	}
	var m, moved *store.Message
	for _, x := range ms {
		if x.Destination == "o" {
			m = x
		} else {
			moved = x
		}
	}
	send := tr.Sender()
	var p interface{ Unwrap() error }
	for _, tc := range []struct {
		name      string
		status    int
		answer    string
		permanent bool
		text      string
	}{
		{"Accepted", 202, "", false, ""},
		{"OK", 200, "", false, ""},
		{"Refused", 400, `{"err":"invalid_audience","description":"no"}`, true, "invalid_audience"},
		{"RefusedOddCode", 400, `{"err":"<script>"}`, true, "unknown"},
		{"Unavailable", 503, "", false, "answered 503"},
		{"Unauthorized", 401, "", false, "answered 401"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, answer = tc.status, tc.answer
			err := send.Send(ctx, m)
			if tc.text == "" {
				if err != nil {
					t.Fatalf("Send = %v, want nil", err)
				}
				last := got[len(got)-1]
				if tok, err := secevent.Parse(last, jwks(tr), "https://gh.example", "o"); err != nil || tok.JTI != m.ID {
					t.Errorf("pushed SET: %v, jti %v, want %s", err, tok, m.ID)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.text) || errors.As(err, &p) != tc.permanent {
				t.Errorf("Send = %v, want an error with %q, permanent %v", err, tc.text, tc.permanent)
			}
		})
	}
	if err := send.Send(ctx, moved); err == nil || !strings.Contains(err.Error(), "answered 307") {
		t.Errorf("Send to a redirecting endpoint = %v, want a retryable error (never followed)", err)
	}

	// An endpoint that does not answer: retried, and the stored error
	// names no URL.
	tr.Receivers = append(tr.Receivers, &ssf.Receiver{ID: "down", Audience: []string{"d"}, PushURL: "http://127.0.0.1:1/ssf?k=v", Events: secevent.Supported()})
	down := *moved
	down.Destination = "down"
	if err := send.Send(ctx, &down); err == nil || errors.As(err, &p) || strings.Contains(err.Error(), "127.0.0.1") || strings.Contains(err.Error(), "k=v") {
		t.Errorf("Send to a closed port = %v, want a retryable error that names no address", err)
	}

	// Paused after the token was queued: held, not sent.
	o := tr.Receivers[0]
	if _, err := tr.SetStatus(ctx, o, ssf.StreamStatus{StreamID: "o", Status: "paused"}); err != nil {
		t.Fatal(err)
	}
	n := len(got)
	status = 202
	if err := send.Send(ctx, m); err != nil || len(got) != n {
		t.Fatalf("Send while paused = %v, %d pushes; want nil and none", err, len(got)-n)
	}
	if err := st.MarkDelivered(ctx, m.ID, storetest.T0); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.SetStatus(ctx, o, ssf.StreamStatus{StreamID: "o", Status: "enabled"}); err != nil {
		t.Fatalf("enable with a held token whose message exists = %v", err)
	}
	ms, _ = st.ListMessages(ctx, store.MessageFilter{State: store.MessagePending})
	var again *store.Message
	for _, x := range ms {
		if x.Destination == "o" {
			again = x
		}
	}
	if again == nil {
		t.Fatal("no message released on enabling")
	}
	var c struct{ JTI string }
	json.Unmarshal(again.Payload, &c)
	if c.JTI != m.ID || again.ID == m.ID {
		t.Errorf("released message %s carries jti %s; want the held token's jti %s under a new message id", again.ID, c.JTI, m.ID)
	}
	// A disabled stream's message is parked, not sent.
	if _, err := tr.SetStatus(ctx, o, ssf.StreamStatus{StreamID: "o", Status: "disabled"}); err != nil {
		t.Fatal(err)
	}
	if err := send.Send(ctx, again); !errors.As(err, &p) {
		t.Errorf("Send on a disabled stream = %v, want a permanent error", err)
	}
	if err := send.Send(ctx, &store.Message{ID: "x", Destination: "gone", Payload: m.Payload}); !errors.As(err, &p) {
		t.Errorf("Send to an unconfigured stream = %v, want a permanent error", err)
	}
}
