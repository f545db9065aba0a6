package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"gatehouse/internal/cli"
	"gatehouse/internal/store/storetest"
	"gatehouse/internal/webhook"
)

// TestKillOneOfTwoInstances: two `gatehouse serve` processes on one
// PostgreSQL database behind Debian's nginx as the load balancer
// (round robin, a request the dead instance could not answer passed to
// the other: proxy_next_upstream error, non_idempotent), under a load of
// logins and session revocations; one instance is killed with SIGKILL
// mid-load. No client sees a failure; every request answered 2xx is in
// the store; the audit chain verifies; and every webhook the dead
// instance committed is delivered (by the survivor, once the dead one's
// lease ends). Key creations and
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
	bin := findNginx(t)
	lbPort := freePort(t)
	lb := fmt.Sprintf("http://127.0.0.1:%d", lbPort)
	addrs := make([]string, 2)
	var procs [2]interface{ Kill() error }
	for i := range addrs {
		addrs[i] = fmt.Sprintf("127.0.0.1:%d", freePort(t))
		env := []string{"GATEHOUSE_PUBLIC_ORIGIN=" + lb}
		for k, v := range vars {
			env = append(env, k+"="+v)
		}
		cmd, _ := serveProcess(t, addrs[i], append(append([]string{}, store...), "--config", cfg), env)
		procs[i] = cmd.Process
	}
	ngDir := t.TempDir()
	ngConf := fmt.Sprintf(nginxHTTP, ngDir, fmt.Sprintf(`    upstream gatehouse {
        server %s max_fails=1 fail_timeout=30s;
        server %s max_fails=1 fail_timeout=30s;
        keepalive 16;
    }
    server {
        listen 127.0.0.1:%d;
        location / {
            proxy_pass http://gatehouse;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_next_upstream error timeout non_idempotent;
        }
    }`, addrs[0], addrs[1], lbPort))
	ngFile := filepath.Join(ngDir, "nginx.conf")
	if err := os.WriteFile(ngFile, []byte(ngConf), 0o600); err != nil {
		t.Fatal(err)
	}
	runProxy(t, "nginx", exec.Command(bin, "-p", ngDir, "-c", ngFile, "-e", filepath.Join(ngDir, "error.log")), syscall.SIGQUIT, filepath.Join(ngDir, "error.log"), lbPort)

	// Each client is one user with its own browser (its device cookie
	// keeps it a known device): through the load balancer it signs in,
	// revokes the session it got, and again.
	var (
		logins, revokes sync.Map // session id → true
		failures        atomic.Int64
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for u := range users {
		wg.Go(func() {
			jar, _ := cookiejar.New(nil)
			c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
			body, _ := json.Marshal(map[string]string{"username": fmt.Sprintf("kim%d", u), "password": pw, "interface": "web"})
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := c.Post(lb+"/v1/login", "application/json", bytes.NewReader(body))
				if err != nil {
					failures.Add(1)
					continue
				}
				var a loginAnswer
				json.NewDecoder(resp.Body).Decode(&a)
				resp.Body.Close()
				if resp.StatusCode != 200 || a.Session.ID == "" {
					failures.Add(1)
					t.Errorf("login of kim%d = %d %+v", u, resp.StatusCode, a)
					return
				}
				logins.Store(a.Session.ID, true)
				r, _ := http.NewRequest("DELETE", lb+"/v1/sessions/"+a.Session.ID, nil)
				resp, err = c.Do(r)
				if err != nil {
					failures.Add(1)
					continue
				}
				resp.Body.Close()
				if resp.StatusCode/100 == 2 {
					revokes.Store(a.Session.ID, true)
				} else if resp.StatusCode != 401 {
					// 401: the dead instance committed the revocation of the
					// cookie's own session but could not answer, and nginx
					// passed the request on.
					failures.Add(1)
					t.Errorf("revoke = %d", resp.StatusCode)
				}
			}
		})
	}
	time.Sleep(2 * time.Second)
	if err := procs[0].Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()

	if failures.Load() != 0 {
		t.Errorf("%d requests failed through the load balancer", failures.Load())
	}
	// nginx saw the killed instance fail (and passed its requests on).
	if b, _ := os.ReadFile(filepath.Join(ngDir, "error.log")); !strings.Contains(string(b), addrs[0]) {
		t.Errorf("nginx's log never names the killed instance %s: it took no load", addrs[0])
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
			t.Errorf("session %s, whose login was answered 2xx, is not in the store: %v", k, err)
			return true
		}
		if _, revoked := revokes.Load(k); revoked && !ended {
			t.Errorf("session %s: its revocation was answered 2xx, but it is not ended", k)
		}
		return true
	})
	t.Logf("%d logins answered 2xx", n)
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
