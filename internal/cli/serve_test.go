package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/authn"
	"gatehouse/internal/cli"
	"gatehouse/internal/dpop"
	"gatehouse/internal/store/storetest"
)

// syncBuffer is a buffer the server writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testServer is a real gatehouse serving on a loopback port.
type testServer struct {
	URL    string
	Stdout *syncBuffer
	Stderr *syncBuffer
	store  []string // the flags naming its store, for admin verbs
	env    map[string]string
	// traders are the users made with newTrader, by name.
	traders map[string]*trader
}

// backend names a store for the tests that run on both.
type backend struct {
	name  string
	flags func(t *testing.T) []string
}

func backends(t *testing.T) []backend {
	return []backend{
		{"SQLite", func(t *testing.T) []string { return []string{"--data", t.TempDir()} }},
		{"PostgreSQL", func(t *testing.T) []string { return []string{"--database-url", storetest.PostgresURL(t)} }},
	}
}

// gatehouse runs one CLI verb in-process and returns its output.
func (s *testServer) gatehouse(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	// Store flags go after "verb subverb", before any positional argument.
	args = append(append(append([]string{}, args[:2]...), s.store...), args[2:]...)
	err := cli.Run(context.Background(), args, func(k string) string { return s.env[k] }, strings.NewReader(stdin), &out, &errb)
	return out.String() + errb.String(), err
}

// healthClient waits for servers to come up; a TLS test swaps in one
// that trusts its certificate.
var healthClient = http.DefaultClient

var listening = regexp.MustCompile(`gatehouse listening on (\S+)`)

// startServer starts `gatehouse serve` on the given store and waits for
// /healthz; the server stops when the test ends.
func startServer(t *testing.T, storeFlags []string, env map[string]string, extra ...string) *testServer {
	t.Helper()
	// The public origin must name the real port, since DPoP proofs sign
	// the URL: pick a free port first.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return startServerOn(t, addr, storeFlags, env, extra...)
}

// startServerOn is startServer on a given address.
func startServerOn(t *testing.T, addr string, storeFlags []string, env map[string]string, extra ...string) *testServer {
	t.Helper()
	s := &testServer{Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, store: storeFlags, env: env, traders: map[string]*trader{}}
	if s.env == nil {
		s.env = map[string]string{}
	}
	// localhost, not 127.0.0.1: WebAuthn relying parties are host names.
	if _, ok := s.env["GATEHOUSE_PUBLIC_ORIGIN"]; !ok {
		s.env["GATEHOUSE_PUBLIC_ORIGIN"] = "http://localhost:" + strings.TrimPrefix(addr, "127.0.0.1:")
	}
	// The memory limit is the process's: servers started in one test
	// process must not set it under each other (serve.txtar tests it).
	if _, ok := s.env["GOMEMLIMIT"]; !ok {
		s.env["GOMEMLIMIT"] = "off"
	}
	if _, ok := s.env["GATEHOUSE_SEED_KEY"]; !ok {
		s.env["GATEHOUSE_SEED_KEY"] = "c2VlZC1rZXktZm9yLXRlc3RzLW9ubHktMzItYnl0ZXM="
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	args := append([]string{"serve", "--addr", addr}, storeFlags...)
	args = append(args, extra...)
	go func() {
		done <- cli.Run(ctx, args, func(k string) string { return s.env[k] }, strings.NewReader(""), s.Stdout, s.Stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve returned %v after shutdown", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("serve did not shut down within 15s")
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("serve exited early: %v\nstderr:\n%s", err, s.Stderr)
		default:
		}
		if m := listening.FindStringSubmatch(s.Stdout.String()); m != nil {
			s.URL = s.env["GATEHOUSE_PUBLIC_ORIGIN"]
			resp, err := healthClient.Get(s.URL + "/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return s
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("server did not come up; stderr:\n%s", s.Stderr)
	return nil
}

// soon asks until got answers want, within the bound a revocation made by
// another process on the store promises: on SQLite the revocation log is
// read every authn.DefaultWatchEvery; on PostgreSQL a NOTIFY reaches the
// caches in milliseconds and the caches' age (1 s) is the safety net. It
// fails when the bound passes without the answer, so a revocation that
// only ages out of a cache on SQLite, or is never seen, still fails.
func (s *testServer) soon(t *testing.T, what string, want int, got func() int) {
	t.Helper()
	bound := 2 * authn.DefaultWatchEvery
	if s.store[0] != "--data" {
		bound = 1500 * time.Millisecond
	}
	deadline := time.Now().Add(bound)
	for {
		last := time.Now().After(deadline) // this ask starts after the bound
		g := got()
		if g == want {
			return
		}
		if last {
			t.Errorf("%s = %d, want %d within %v", what, g, want, bound)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// addUser adds a user through the CLI, as an operator would.
func (s *testServer) addUser(t *testing.T, name, pw string) {
	t.Helper()
	if out, err := s.gatehouse(t, pw+"\n", "user", "add", "--username", name, "--email", name+"@example.com", "--password-stdin"); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
}

// call makes an API request and decodes a JSON answer into out (if not nil).
func call(t *testing.T, c *http.Client, method, url string, body any, hdr http.Header, out any) *http.Response {
	t.Helper()
	var r io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			r = strings.NewReader(b)
		default:
			j, _ := json.Marshal(b)
			r = bytes.NewReader(j)
		}
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, url, resp.StatusCode, data, err)
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	return resp
}

func body(resp *http.Response) string {
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func newBrowser(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

// desktop is a desktop client holding a device key.
type desktop struct {
	signer *dpop.Signer
	token  string
	origin string
}

func newDesktop(t *testing.T, origin string) *desktop {
	k, err := dpop.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := dpop.NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	return &desktop{signer: s, origin: origin}
}

// proof returns headers for a request to path, signed for the session token.
func (d *desktop) headers(t *testing.T, method, path string) http.Header {
	p, err := d.signer.Proof(method, d.origin+path, d.token, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{"Dpop": {p}}
	if d.token != "" {
		h.Set("Authorization", "DPoP "+d.token)
	}
	return h
}

const alicePW = "a long and unusual passphrase"

func TestCoreEndToEnd(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			flags := b.flags(t)
			s := startServer(t, flags, nil)
			s.traders["alice"] = s.newTrader(t, "alice", alicePW)
			testEnrolmentSession(t, s)
			testWebLogin(t, s)
			testDesktopLogin(t, s)
			testSessionsAcrossInterfaces(t, s)
			testPasswordChange(t, s)
			testBadInput(t, s)
			testCrossOrigin(t, s)
			testAuditTrail(t, s)
			testMetrics(t, s, b.name == "PostgreSQL")
			testNoSecretsLogged(t, s)
		})
	}
}
