package httpapi

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"gatehouse/internal/apikey"
	"gatehouse/internal/audit"
	"gatehouse/internal/authn"
	"gatehouse/internal/authz"
	"gatehouse/internal/dpop"
	"gatehouse/internal/emit"
	"gatehouse/internal/login"
	"gatehouse/internal/outbox"
	"gatehouse/internal/posturegate"
	"gatehouse/internal/secevent"
	"gatehouse/internal/session"
	"gatehouse/internal/ssf"
	"gatehouse/internal/store"
	"gatehouse/internal/store/storetest"
	"gatehouse/internal/token"
)

const (
	ssfIssuer   = "https://gatehouse.example"
	pushToken   = "push-receiver-token-0123456789abcdef"
	pollToken   = "poll-receiver-token-0123456789abcdef"
	ordersAud   = "https://orders.example"
	marketAud   = "market-data"
	pushStream  = "orders"
	pollStream  = "market-data"
	aliceCookie = "tok-alice"
)

// setReceiver is a Shared Signals receiver written against the
// specifications with go-jose alone, not with gatehouse's secevent: it
// reads the transmitter configuration, fetches the JWKS at its jwks_uri,
// and accepts a SET only when its ES256 signature verifies under a
// published key, its typ is secevent+jwt, its iss is the issuer and its
// aud names the receiver. It drops a jti it has seen.
type setReceiver struct {
	t        *testing.T
	aud      string
	issuer   string
	keys     jose.JSONWebKeySet
	mu       sync.Mutex
	seen     map[string]bool
	got      []map[string]any // accepted claims, in order
	dups     int
	arrived  chan struct{}
	failNext int // answer 503 to this many pushes first (after reading them)
}

func newSetReceiver(t *testing.T, api http.Handler, aud string) *setReceiver {
	t.Helper()
	var meta struct {
		Issuer   string   `json:"issuer"`
		JWKSURI  string   `json:"jwks_uri"`
		Methods  []string `json:"delivery_methods_supported"`
		Config   string   `json:"configuration_endpoint"`
		Status   string   `json:"status_endpoint"`
		Verify   string   `json:"verification_endpoint"`
		Version  string   `json:"spec_version"`
		Subjects string   `json:"default_subjects"`
	}
	getJSON(t, api, "/.well-known/ssf-configuration", &meta)
	if meta.Issuer != ssfIssuer || meta.Version != "1_0" || !slices.Contains(meta.Methods, ssf.MethodPush) || !slices.Contains(meta.Methods, ssf.MethodPoll) ||
		!strings.HasSuffix(meta.Config, "/v1/ssf/stream") || !strings.HasSuffix(meta.Status, "/v1/ssf/status") || !strings.HasSuffix(meta.Verify, "/v1/ssf/verify") {
		t.Fatalf("transmitter configuration = %+v", meta)
	}
	r := &setReceiver{t: t, aud: aud, issuer: meta.Issuer, seen: map[string]bool{}, arrived: make(chan struct{}, 100)}
	getJSON(t, api, strings.TrimPrefix(meta.JWKSURI, "http://localhost"), &r.keys)
	if len(r.keys.Keys) == 0 {
		t.Fatal("the JWKS has no key")
	}
	return r
}

func getJSON(t *testing.T, h http.Handler, path string, out any) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
	if w.Code != http.StatusOK || !strings.Contains(w.Header().Get("Content-Type"), "json") {
		t.Fatalf("GET %s = %d %s: %s", path, w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	if err := json.Unmarshal(w.Body.Bytes(), out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// accept verifies one compact SET; it reports whether it was new.
func (r *setReceiver) accept(compact string) (map[string]any, error) {
	jws, err := jose.ParseSigned(compact, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return nil, err
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != "secevent+jwt" {
		return nil, errf("typ %q", typ)
	}
	keys := r.keys.Key(h.KeyID)
	if len(keys) != 1 {
		return nil, errf("kid %q not published", h.KeyID)
	}
	payload, err := jws.Verify(keys[0].Key)
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, err
	}
	if claims["iss"] != r.issuer {
		return nil, errf("iss %v", claims["iss"])
	}
	if aud, _ := claims["aud"].(string); aud != r.aud {
		return nil, errf("aud %v, want %s", claims["aud"], r.aud)
	}
	if _, has := claims["sub"]; has {
		return nil, errf("a SET has no sub")
	}
	jti, _ := claims["jti"].(string)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen[jti] {
		r.dups++
		return nil, nil
	}
	r.seen[jti] = true
	r.got = append(r.got, claims)
	return claims, nil
}

type errString string

func (e errString) Error() string { return string(e) }

func errf(format string, args ...any) error {
	b, _ := json.Marshal(args)
	return errString(format + " " + string(b))
}

// ServeHTTP is the push endpoint (RFC 8935).
func (r *setReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if req.Header.Get("Content-Type") != "application/secevent+jwt" || req.Header.Get("Authorization") != "Bearer to-the-receiver" {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"err":"authentication_failed","description":"bad request"}`)
		return
	}
	claims, err := r.accept(string(body))
	if err != nil {
		r.t.Errorf("push receiver refused a SET: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"err":"invalid_key"}`)
		return
	}
	r.mu.Lock()
	fail := r.failNext > 0
	if fail {
		r.failNext--
	}
	r.mu.Unlock()
	if fail {
		w.WriteHeader(http.StatusServiceUnavailable) // taken, then lost: the transmitter must send it again
		return
	}
	w.WriteHeader(http.StatusAccepted)
	_ = claims
	r.arrived <- struct{}{} // a delivery the receiver took, new or repeated
}

// events returns the accepted events by type URI, in order.
func (r *setReceiver) events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, c := range r.got {
		for typ := range c["events"].(map[string]any) {
			out = append(out, typ)
		}
	}
	return out
}

func (r *setReceiver) wait(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-r.arrived:
		case <-time.After(10 * time.Second):
			t.Fatalf("push receiver: fewer than %d deliveries after 10s (events %v)", n, r.events())
		}
	}
}

// ssfAPI is the API over a store that derives Shared Signals, with alice
// signed in twice on the web, a push receiver and an outbox worker.
type ssfAPI struct {
	h    http.Handler
	st   store.Store
	tr   *ssf.Transmitter
	push *setReceiver
	clk  *clock
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newSSFAPI(t *testing.T, raw store.Store) *ssfAPI {
	t.Helper()
	clk := &clock{t: storetest.T0.Add(time.Minute)}
	now := clk.now
	pk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tr := &ssf.Transmitter{Issuer: ssfIssuer, Origin: "http://localhost", Keys: []secevent.Key{{ID: "k1", Private: pk}}, Now: now, Log: slog.New(slog.DiscardHandler),
		LongPoll: time.Millisecond}
	st := emit.Wrap(raw, tr)
	tr.Store = st
	a := &ssfAPI{st: st, tr: tr, clk: clk}

	u := storetest.NewUser(t, st, "alice")
	for _, id := range []string{"ses_alice", "ses_other"} {
		s := &session.Session{ID: id, UserID: u.ID, Door: session.Web, TokenHash: token.Hash("tok-" + strings.TrimPrefix(id, "ses_")), IP: "192.0.2.1",
			Assurance: session.AAL2, AuthTime: storetest.T0, CreatedAt: storetest.T0, LastSeenAt: storetest.T0, ExpiresAt: storetest.T0.Add(12 * time.Hour), Idle: time.Hour}
		if err := st.CreateSession(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	auth := &Authenticator{Authenticator: &authn.Authenticator{Sessions: authn.New(st, time.Second, now, nil), Replay: &dpop.ReplayCache{Window: time.Minute},
		MaxAge: time.Minute, Now: now}, Origin: "http://localhost"}
	keys := authz.NewKeys(authz.KeysConfig{Store: st, Limits: apikey.DefaultLimits(), StepUpWindow: 5 * time.Minute, MaxAge: time.Second, Now: now})
	a.h = NewHandler(Deps{Posture: &posturegate.Service{Store: st, Now: now}, Login: &login.Service{Store: st, Now: now}, Auth: auth, Log: slog.New(slog.DiscardHandler),
		Now: now, Keys: keys, SSF: tr, JWKS: tr.JWKS})

	a.push = newSetReceiver(t, a.h, ordersAud)
	srv := httptest.NewServer(a.push)
	t.Cleanup(srv.Close)
	tr.Receivers = []*ssf.Receiver{
		{ID: pushStream, Audience: []string{ordersAud}, TokenHash: sha256.Sum256([]byte(pushToken)), PushURL: srv.URL + "/events",
			PushAuthorization: "Bearer to-the-receiver", Events: secevent.Supported()},
		{ID: pollStream, Audience: []string{marketAud}, TokenHash: sha256.Sum256([]byte(pollToken)), Events: secevent.Supported()},
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &outbox.Worker{Store: st, Senders: map[string]outbox.Sender{store.ChannelSSF: tr.Sender()}, Retry: outbox.Retry{Base: time.Millisecond, Cap: time.Millisecond},
		Poll: 5 * time.Millisecond, Timeout: 5 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return a
}

// as makes a request with alice's cookie, or with a receiver's bearer token.
func (a *ssfAPI) do(t *testing.T, method, target, bearer string, body any) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, ok := body.(string)
		if !ok {
			raw, _ := json.Marshal(body)
			b = string(raw)
		}
		rd = strings.NewReader(b)
	}
	r := httptest.NewRequest(method, target, rd)
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		r.Header.Set("Authorization", "Bearer "+bearer)
	} else {
		r.AddCookie(&http.Cookie{Name: "gatehouse_session", Value: aliceCookie})
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	return w
}

// poll polls the poll stream, acknowledging ack, and returns the SETs.
func (a *ssfAPI) poll(t *testing.T, body map[string]any) map[string]string {
	t.Helper()
	if body == nil {
		body = map[string]any{"returnImmediately": true}
	}
	w := a.do(t, "POST", "/v1/ssf/poll", pollToken, body)
	if w.Code != http.StatusOK {
		t.Fatalf("POST /v1/ssf/poll %v = %d: %s", body, w.Code, w.Body)
	}
	var res struct {
		Sets          map[string]string `json:"sets"`
		MoreAvailable bool              `json:"moreAvailable"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	return res.Sets
}

func ssfBackends(t *testing.T, f func(t *testing.T, st store.Store)) {
	t.Run("SQLite", func(t *testing.T) { f(t, storetest.SQLite(t)) })
	t.Run("PostgreSQL", func(t *testing.T) { f(t, storetest.Postgres(t)) })
}

// TestSSFSessionRevokedEndToEnd: a session revoked through the API reaches
// a push receiver and a poll receiver as a CAEP session-revoked SET that
// verifies against the published JWKS, names the issuer, the receiver's
// audience and the session; a push the receiver lost is sent again with
// the same jti, which the receiver drops; an acknowledged SET is not
// polled again.
func TestSSFSessionRevokedEndToEnd(t *testing.T) {
	ssfBackends(t, func(t *testing.T, st store.Store) {
		a := newSSFAPI(t, st)
		a.push.failNext = 1
		if w := a.do(t, "DELETE", "/v1/sessions/ses_other", "", nil); w.Code != http.StatusNoContent {
			t.Fatalf("DELETE /v1/sessions/ses_other = %d: %s", w.Code, w.Body)
		}
		a.push.wait(t, 1)
		if got, want := a.push.events(), []string{secevent.SessionRevoked}; !slices.Equal(got, want) {
			t.Fatalf("push receiver events = %v, want %v", got, want)
		}
		a.push.mu.Lock()
		claims, dups := a.push.got[0], a.push.dups
		a.push.mu.Unlock()
		if dups != 1 {
			t.Errorf("push receiver dropped %d repeated jti, want 1 (the push it answered 503 came again)", dups)
		}
		sub, _ := json.Marshal(claims["sub_id"])
		if want := `{"format":"complex","session":{"format":"opaque","id":"ses_other"},"user":{"format":"iss_sub","iss":"https://gatehouse.example","sub":"usr_alice"}}`; string(sub) != want {
			t.Errorf("sub_id = %s, want %s", sub, want)
		}
		ev := claims["events"].(map[string]any)[secevent.SessionRevoked].(map[string]any)
		if ev["initiating_entity"] != "user" || ev["event_timestamp"] == nil {
			t.Errorf("session-revoked event = %v, want initiating_entity user and an event_timestamp", ev)
		}

		poller := &setReceiver{t: t, aud: marketAud, issuer: ssfIssuer, keys: a.push.keys, seen: map[string]bool{}}
		sets := a.poll(t, nil)
		if len(sets) != 1 {
			t.Fatalf("poll = %d SETs, want 1", len(sets))
		}
		var acks []string
		for jti, set := range sets {
			c, err := poller.accept(set)
			if err != nil || c == nil || c["jti"] != jti {
				t.Fatalf("poll receiver: SET %s: %v %v", jti, c, err)
			}
			acks = append(acks, jti)
		}
		if got := poller.events(); !slices.Equal(got, []string{secevent.SessionRevoked}) {
			t.Errorf("poll receiver events = %v", got)
		}
		// Unacknowledged, a SET is polled again; acknowledged, never.
		if again := a.poll(t, nil); len(again) != 1 {
			t.Errorf("second poll before the ack = %d SETs, want the same 1 again", len(again))
		}
		if after := a.poll(t, map[string]any{"ack": acks, "returnImmediately": true}); len(after) != 0 {
			t.Errorf("poll with the ack = %d SETs, want 0", len(after))
		}
		// A poll that may wait returns empty when nothing comes (LongPoll is 1ms here).
		if after := a.poll(t, map[string]any{}); len(after) != 0 {
			t.Errorf("waiting poll = %d SETs, want 0", len(after))
		}
	})
}

// TestSSFReceiverToken: every stream endpoint wants the receiver's own
// bearer token; a missing, malformed or wrong one is 401 with a Bearer
// challenge and changes nothing, and another receiver's stream is 404.
func TestSSFReceiverToken(t *testing.T) {
	a := newSSFAPI(t, storetest.SQLite(t))
	routes := []struct {
		method, target string
		body           any
	}{
		{"GET", "/v1/ssf/stream", nil},
		{"PATCH", "/v1/ssf/stream", map[string]any{"stream_id": pollStream, "description": "x"}},
		{"POST", "/v1/ssf/stream", map[string]any{}},
		{"DELETE", "/v1/ssf/stream", nil},
		{"GET", "/v1/ssf/status?stream_id=" + pollStream, nil},
		{"POST", "/v1/ssf/status", map[string]any{"stream_id": pollStream, "status": "disabled"}},
		{"POST", "/v1/ssf/verify", map[string]any{"stream_id": pollStream}},
		{"POST", "/v1/ssf/poll", map[string]any{"returnImmediately": true}},
	}
	for _, rt := range routes {
		for name, hdr := range map[string]string{"None": "", "Wrong": "Bearer " + pollToken + "x", "Basic": "Basic " + pollToken, "Empty": "Bearer ", "Prefix": "Bearer " + pollToken[:20]} {
			r := httptest.NewRequest(rt.method, rt.target, nil)
			if rt.body != nil {
				b, _ := json.Marshal(rt.body)
				r = httptest.NewRequest(rt.method, rt.target, strings.NewReader(string(b)))
			}
			if hdr != "" {
				r.Header.Set("Authorization", hdr)
			}
			w := httptest.NewRecorder()
			a.h.ServeHTTP(w, r)
			if w.Code != http.StatusUnauthorized || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s %s with %s token = %d (WWW-Authenticate %q), want 401 with a Bearer challenge", rt.method, rt.target, name, w.Code, w.Header().Get("WWW-Authenticate"))
			}
		}
	}
	if st, _ := a.tr.Status(context.Background(), a.tr.Receivers[1], pollStream); st.Status != store.StreamEnabled {
		t.Errorf("status after refused requests = %q, want enabled", st.Status)
	}
	// The push receiver's token does not reach the poll receiver's stream.
	for _, rt := range []struct{ method, target string }{{"GET", "/v1/ssf/stream?stream_id=" + pollStream}, {"GET", "/v1/ssf/status?stream_id=" + pollStream}} {
		if w := a.do(t, rt.method, rt.target, pushToken, nil); w.Code != http.StatusNotFound {
			t.Errorf("%s %s with the other receiver's token = %d, want 404", rt.method, rt.target, w.Code)
		}
	}
	if w := a.do(t, "POST", "/v1/ssf/status", pushToken, map[string]any{"stream_id": pollStream, "status": "disabled"}); w.Code != http.StatusNotFound {
		t.Errorf("POST status of another receiver's stream = %d, want 404", w.Code)
	}
	if w := a.do(t, "POST", "/v1/ssf/poll", pushToken, map[string]any{}); w.Code != http.StatusNotFound {
		t.Errorf("poll of a push stream = %d, want 404", w.Code)
	}
}

// TestSSFStreamManagement: a receiver reads its stream, narrows the events
// it asks for (and gets only those), is refused a change of what the
// transmitter supplies, pauses (tokens are held, then sent in order when
// enabled), asks for verification (echoing its state, at most once per
// interval) and disables the stream (nothing more comes).
func TestSSFStreamManagement(t *testing.T) {
	ssfBackends(t, func(t *testing.T, st store.Store) {
		a := newSSFAPI(t, st)
		ctx := context.Background()
		var list []ssf.StreamConfig
		if w := a.do(t, "GET", "/v1/ssf/stream", pollToken, nil); w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &list) != nil || len(list) != 1 {
			t.Fatalf("GET /v1/ssf/stream = %d %s, want a list of one", w.Code, w.Body)
		}
		c := list[0]
		if c.StreamID != pollStream || c.Iss != ssfIssuer || !slices.Equal(c.Aud, secevent.Audience{marketAud}) || c.Delivery.Method != ssf.MethodPoll ||
			c.Delivery.EndpointURL != "http://localhost/v1/ssf/poll" || len(c.EventsDelivered) != len(secevent.Supported()) {
			t.Errorf("stream configuration = %+v", c)
		}

		// Narrow to credential-change (an unknown event type is ignored).
		w := a.do(t, "PATCH", "/v1/ssf/stream", pollToken, map[string]any{"stream_id": pollStream, "events_requested": []string{secevent.CredentialChange, "urn:example:unknown"},
			"description": "market data", "iss": ssfIssuer, "delivery": map[string]string{"method": ssf.MethodPoll}})
		if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &c) != nil {
			t.Fatalf("PATCH = %d %s", w.Code, w.Body)
		}
		if !slices.Equal(c.EventsDelivered, []string{secevent.CredentialChange}) || c.Description != "market data" || len(c.EventsRequested) != 2 {
			t.Errorf("after PATCH: delivered %v, requested %v, description %q", c.EventsDelivered, c.EventsRequested, c.Description)
		}
		for name, body := range map[string]map[string]any{
			"Issuer":    {"stream_id": pollStream, "iss": "https://evil.example"},
			"Audience":  {"stream_id": pollStream, "aud": "someone-else"},
			"Delivery":  {"stream_id": pollStream, "delivery": map[string]string{"method": ssf.MethodPush, "endpoint_url": "https://evil.example/"}},
			"Delivered": {"stream_id": pollStream, "events_delivered": []string{secevent.SessionRevoked}},
			"NoEvents":  {"stream_id": pollStream, "events_requested": []string{}},
			"NoStream":  {"description": "x"},
		} {
			if w := a.do(t, "PATCH", "/v1/ssf/stream", pollToken, body); w.Code != http.StatusBadRequest {
				t.Errorf("PATCH %s = %d %s, want 400", name, w.Code, w.Body)
			}
		}
		if w := a.do(t, "PATCH", "/v1/ssf/stream", pollToken, `{"stream_id":"market-data","description":"a","DESCRIPTION":"b"}`); w.Code != http.StatusBadRequest {
			t.Errorf("PATCH with a case-variant key = %d, want 400", w.Code)
		}
		// A session revoked is no longer delivered to the poll stream.
		if w := a.do(t, "DELETE", "/v1/sessions/ses_other", "", nil); w.Code != http.StatusNoContent {
			t.Fatal(w.Code)
		}
		a.push.wait(t, 1)
		if sets := a.poll(t, nil); len(sets) != 0 {
			t.Errorf("poll after narrowing to credential-change = %d SETs, want 0", len(sets))
		}

		// Pause the push stream: what happens meanwhile waits, then comes in order.
		if w := a.do(t, "POST", "/v1/ssf/status", pushToken, map[string]any{"stream_id": pushStream, "status": "paused", "reason": "maintenance"}); w.Code != http.StatusOK {
			t.Fatalf("pause = %d %s", w.Code, w.Body)
		}
		var status ssf.StreamStatus
		if w := a.do(t, "GET", "/v1/ssf/status?stream_id="+pushStream, pushToken, nil); w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &status) != nil || status.Status != "paused" || status.Reason != "maintenance" {
			t.Errorf("GET status = %d %s, want paused, maintenance", w.Code, w.Body)
		}
		for _, e := range []string{"password", "factor"} {
			ev := sessionEventOf(e)
			ev.Time, ev.UserID, ev.Actor = a.clk.now(), "usr_alice", "usr_alice"
			if err := a.st.AppendAudit(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
		if got := len(a.push.events()); got != 1 {
			t.Errorf("push receiver has %d SETs while paused, want still 1", got)
		}
		if w := a.do(t, "POST", "/v1/ssf/status", pushToken, map[string]any{"stream_id": pushStream, "status": "enabled"}); w.Code != http.StatusOK {
			t.Fatalf("enable = %d", w.Code)
		}
		a.push.wait(t, 2)
		if got, want := a.push.events(), []string{secevent.SessionRevoked, secevent.CredentialChange, secevent.CredentialChange}; !slices.Equal(got, want) {
			t.Errorf("push receiver after resume = %v, want %v", got, want)
		}
		// The poll stream got the two credential changes it asked for.
		if sets := a.poll(t, map[string]any{"maxEvents": 1, "returnImmediately": true}); len(sets) != 1 {
			t.Errorf("poll maxEvents 1 = %d SETs", len(sets))
		}

		// Verification: the state comes back, on the stream's own subject.
		if w := a.do(t, "POST", "/v1/ssf/verify", pushToken, map[string]any{"stream_id": pushStream, "state": "abc123"}); w.Code != http.StatusNoContent {
			t.Fatalf("verify = %d %s", w.Code, w.Body)
		}
		a.push.wait(t, 1)
		a.push.mu.Lock()
		last := a.push.got[len(a.push.got)-1]
		a.push.mu.Unlock()
		v, _ := last["events"].(map[string]any)[secevent.Verification].(map[string]any)
		sub, _ := json.Marshal(last["sub_id"])
		if v["state"] != "abc123" || string(sub) != `{"format":"opaque","id":"orders"}` {
			t.Errorf("verification SET: events %v sub_id %s", last["events"], sub)
		}
		if w := a.do(t, "POST", "/v1/ssf/verify", pushToken, map[string]any{"stream_id": pushStream}); w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
			t.Errorf("second verify at once = %d (Retry-After %q), want 429 with Retry-After", w.Code, w.Header().Get("Retry-After"))
		}
		a.clk.add(time.Minute)
		if w := a.do(t, "POST", "/v1/ssf/verify", pushToken, map[string]any{"stream_id": pushStream}); w.Code != http.StatusNoContent {
			t.Errorf("verify a minute later = %d, want 204", w.Code)
		}
		a.push.wait(t, 1)

		// Disabled: held tokens are dropped and none are made.
		if w := a.do(t, "POST", "/v1/ssf/status", pollToken, map[string]any{"stream_id": pollStream, "status": "disabled"}); w.Code != http.StatusOK {
			t.Fatal(w.Code)
		}
		if w := a.do(t, "POST", "/v1/ssf/status", pollToken, map[string]any{"stream_id": pollStream, "status": "on"}); w.Code != http.StatusBadRequest {
			t.Errorf("status on = %d, want 400", w.Code)
		}
		if w := a.do(t, "POST", "/v1/ssf/status", pollToken, map[string]any{"stream_id": pollStream, "status": "enabled"}); w.Code != http.StatusOK {
			t.Fatal(w.Code)
		}
		if sets := a.poll(t, nil); len(sets) != 0 {
			t.Errorf("poll after disable and enable = %d SETs, want 0 (disabling drops what was held)", len(sets))
		}
		if w := a.do(t, "POST", "/v1/ssf/stream", pollToken, map[string]any{}); w.Code != http.StatusConflict {
			t.Errorf("POST /v1/ssf/stream = %d, want 409", w.Code)
		}
	})
}

// sessionEventOf is an audit event that the transmitter turns into a CAEP
// credential-change.
func sessionEventOf(what string) *audit.Event {
	if what == "password" {
		return &audit.Event{Type: audit.PasswordChanged}
	}
	return &audit.Event{Type: audit.FactorAdded, Detail: map[string]string{"factor": "fac_1", "kind": "totp", "name": "phone"}}
}
