package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"gatehouse/internal/cli"
	"gatehouse/internal/store/storetest"
	"gatehouse/internal/webhook"
)

// TestKillOneOfTwoInstances: two `gatehouse serve` processes on one
// PostgreSQL database under a load of logins and session revocations;
// one is killed with SIGKILL mid-load. Every request answered 2xx before
// or after the kill is in the store; clients whose request to the dead
// instance failed retry on the survivor and succeed; the audit chain
// verifies; and every webhook the dead instance committed is delivered
// (by the survivor, once the dead one's lease ends). Key creations and
// approvals are not in this load: their single-use and fan-out across
// instances are tested in internal/authz (instances_test.go).
func TestKillOneOfTwoInstances(t *testing.T) {
	url := storetest.PostgresURL(t)
	store := []string{"--database-url", url}
	var mu sync.Mutex
	got := map[string]int{} // webhook ids accepted
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(webhook.HeaderSignature) == "" {
			w.WriteHeader(400)
			return
		}
		mu.Lock()
		got[r.Header.Get(webhook.HeaderID)]++
		mu.Unlock()
	}))
	defer hook.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gatehouse.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("webhooks:\n  - url: %s/hook\n    events: [session.created]\noutbox: {attempt_timeout: 1s, retry_base: 1s, retry_cap: 2s}\n", hook.URL)), 0o600)
	vars := map[string]string{
		"GATEHOUSE_SEED_KEY":         "c2VlZC1rZXktZm9yLXRlc3RzLW9ubHktMzItYnl0ZXM=",
		"GATEHOUSE_WEBHOOK_SECRET_1": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		"GOMEMLIMIT":                 "off",
	}
	admin := func(stdin string, args ...string) (string, error) {
		var out bytes.Buffer
		args = append(append(append([]string{}, args[:2]...), append(store, "--config", cfg)...), args[2:]...)
		err := cli.Run(context.Background(), args, func(k string) string { return vars[k] }, strings.NewReader(stdin), &out, &out)
		return out.String(), err
	}
	const users = 6
	const pw = "violet harbour lantern seven"
	for i := range users {
		if out, err := admin(pw+"\n", "user", "add", "--username", fmt.Sprintf("kim%d", i), "--email", fmt.Sprintf("kim%d@example.com", i), "--profile", "occasional", "--password-stdin"); err != nil {
			t.Fatalf("user add: %v\n%s", err, out)
		}
	}
	addrs := make([]string, 2)
	var procs [2]interface{ Kill() error }
	for i := range addrs {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs[i] = l.Addr().String()
		l.Close()
		env := []string{"GATEHOUSE_PUBLIC_ORIGIN=http://" + addrs[i]}
		for k, v := range vars {
			env = append(env, k+"="+v)
		}
		cmd, _ := serveProcess(t, addrs[i], append(append([]string{}, store...), "--config", cfg), env)
		procs[i] = cmd.Process
	}

	// Each client is one user with its own browser (its device cookie
	// keeps it a known device): it signs in on its instance, revokes the
	// session it got, and again; a request that fails at the connection
	// is retried on the other instance.
	var (
		killed            atomic.Bool
		logins, revokes   sync.Map // session id → the instance that answered 2xx
		retried, failures atomic.Int64
	)
	do := func(home int, req func(base string) (*http.Response, error)) (*http.Response, int) {
		for try, i := range []int{home, 1 - home} {
			resp, err := req("http://" + addrs[i])
			if err == nil {
				if try == 1 {
					retried.Add(1)
				}
				return resp, i
			}
			// Only a request to the killed instance, after the kill, may
			// fail; its retry may not.
			if try == 1 || i != 0 || !killed.Load() {
				failures.Add(1)
			}
		}
		return nil, -1
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for u := range users {
		wg.Go(func() {
			jar, _ := cookiejar.New(nil)
			c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
			home := u % 2
			body, _ := json.Marshal(map[string]string{"username": fmt.Sprintf("kim%d", u), "password": pw, "interface": "web"})
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, at := do(home, func(base string) (*http.Response, error) {
					return c.Post(base+"/v1/login", "application/json", bytes.NewReader(body))
				})
				if resp == nil {
					continue
				}
				var a loginAnswer
				json.NewDecoder(resp.Body).Decode(&a)
				resp.Body.Close()
				if resp.StatusCode != 200 || a.Session.ID == "" {
					t.Errorf("login of kim%d on instance %d = %d %+v", u, at, resp.StatusCode, a)
					return
				}
				logins.Store(a.Session.ID, at)
				resp, at = do(home, func(base string) (*http.Response, error) {
					r, _ := http.NewRequest("DELETE", base+"/v1/sessions/"+a.Session.ID, nil)
					return c.Do(r)
				})
				if resp == nil {
					continue
				}
				resp.Body.Close()
				if resp.StatusCode/100 == 2 {
					revokes.Store(a.Session.ID, at)
				} else if resp.StatusCode != 404 && resp.StatusCode != 401 {
					// 401/404: the session was revoked by an attempt the
					// dead instance committed but could not answer.
					t.Errorf("revoke on instance %d = %d", at, resp.StatusCode)
				}
			}
		})
	}
	time.Sleep(2 * time.Second)
	killed.Store(true)
	if err := procs[0].Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()

	if failures.Load() != 0 {
		t.Errorf("%d requests failed on the surviving instance or before the kill", failures.Load())
	}
	if retried.Load() == 0 {
		t.Error("no request was retried on the survivor: the kill came when nothing was in flight to it")
	}
	db, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	n := 0
	logins.Range(func(k, v any) bool {
		n++
		var ended bool
		if err := db.QueryRow(context.Background(), `SELECT ended_at IS NOT NULL FROM sessions WHERE id = $1`, k).Scan(&ended); err != nil {
			t.Errorf("session %s answered 2xx by instance %v is not in the store: %v", k, v, err)
			return true
		}
		if _, revoked := revokes.Load(k); revoked && !ended {
			t.Errorf("session %s: its revocation was answered 2xx, but it is not ended", k)
		}
		return true
	})
	t.Logf("%d logins answered 2xx, %d retried on the survivor", n, retried.Load())
	if n < users {
		t.Errorf("only %d logins answered: the load did not run", n)
	}
	if out, err := admin("", "audit", "verify"); err != nil || !strings.Contains(out, "audit chain intact") {
		t.Errorf("audit verify = %v\n%s", err, out)
	}
	// Every committed webhook is delivered, the dead instance's too.
	deadline := time.Now().Add(60 * time.Second)
	for {
		var left int
		if err := db.QueryRow(context.Background(), `SELECT count(*) FROM outbox WHERE channel = 'webhook' AND state <> 'delivered'`).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d webhooks still undelivered a minute after the kill", left)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var sent int
	db.QueryRow(context.Background(), `SELECT count(*) FROM outbox WHERE channel = 'webhook'`).Scan(&sent)
	mu.Lock()
	defer mu.Unlock()
	if len(got) != sent || sent < n {
		t.Errorf("the receiver accepted %d distinct webhooks; the outbox holds %d for %d logins", len(got), sent, n)
	}
}
