package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/cli"
	"gatehouse/internal/webhook"
)

// hookReceiver is a webhook endpoint that blocks every request until
// unblocked, then answers 200 and counts each webhook-id it accepted.
type hookReceiver struct {
	*httptest.Server
	first   chan string   // the id of the first request, once
	dropped chan struct{} // a request whose sender went away, once
	unblock chan struct{}
	mu      sync.Mutex
	once    sync.Once
	release sync.Once
	ok      map[string]int
}

// open lets held and later requests through.
func (h *hookReceiver) open() { h.release.Do(func() { close(h.unblock) }) }

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{first: make(chan string, 1), dropped: make(chan struct{}, 1), unblock: make(chan struct{}), ok: map[string]int{}}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(webhook.HeaderID)
		// Read the body first: only then does the server watch the
		// connection, and end the request's context when it closes.
		io.Copy(io.Discard, r.Body)
		h.once.Do(func() { h.first <- id })
		select {
		case <-h.unblock:
		case <-r.Context().Done():
			select {
			case h.dropped <- struct{}{}:
			default:
			}
			return
		}
		if r.Header.Get(webhook.HeaderSignature) == "" {
			w.WriteHeader(400)
			return
		}
		h.mu.Lock()
		h.ok[id]++
		h.mu.Unlock()
	}))
	t.Cleanup(h.Close)
	t.Cleanup(h.open) // before Close, which waits for held requests
	return h
}

func (h *hookReceiver) accepted(id string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ok[id]
}

// serveProcess starts the gatehouse binary (this test binary run as
// "gatehouse", as the scripts do) serving on addr, and waits for /healthz.
func serveProcess(t *testing.T, addr string, args []string, env []string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--addr", addr}, args...)...)
	cmd.Args[0] = "gatehouse"
	cmd.Env = append(os.Environ(), env...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return cmd, &logs
			}
		}
		select {
		case <-exited:
			t.Fatalf("gatehouse serve exited early:\n%s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gatehouse serve did not come up:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestNoticeSurvivesSIGKILL: the server is killed with SIGKILL after a
// login committed and while its notice is on its way to the receiver
// (which holds the request); started again on the same store, it
// delivers the notice, and the receiver accepts its id exactly once.
func TestNoticeSurvivesSIGKILL(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			store := b.flags(t)
			hook := newHookReceiver(t)
			dir := t.TempDir()
			cfg := filepath.Join(dir, "gatehouse.yaml")
			// A short attempt timeout: the killed server's lease (twice it)
			// ends soon after the restart.
			os.WriteFile(cfg, []byte(fmt.Sprintf("webhooks:\n  - url: %s/hook\n    events: [session.created]\noutbox: {attempt_timeout: 1s, retry_base: 1s, retry_cap: 2s}\n", hook.URL)), 0o600)
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := l.Addr().String()
			l.Close()
			vars := map[string]string{
				"GATEHOUSE_SEED_KEY":         "c2VlZC1rZXktZm9yLXRlc3RzLW9ubHktMzItYnl0ZXM=",
				"GATEHOUSE_WEBHOOK_SECRET_1": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
				"GATEHOUSE_PUBLIC_ORIGIN":    "http://" + addr,
				"GOMEMLIMIT":                 "off",
			}
			var env []string
			for k, v := range vars {
				env = append(env, k+"="+v)
			}
			admin := func(stdin string, args ...string) string {
				t.Helper()
				var out bytes.Buffer
				args = append(append(append([]string{}, args[:2]...), append(store, "--config", cfg)...), args[2:]...)
				if err := cli.Run(context.Background(), args, func(k string) string { return vars[k] }, strings.NewReader(stdin), &out, &out); err != nil {
					t.Fatalf("gatehouse %v: %v\n%s", args, err, out.String())
				}
				return out.String()
			}
			admin("violet harbour lantern seven\n", "user", "add", "--username", "kim", "--email", "kim@example.com", "--profile", "occasional", "--password-stdin")

			srv, logs := serveProcess(t, addr, append(append([]string{}, store...), "--config", cfg), env)
			body, _ := json.Marshal(map[string]string{"username": "kim", "password": "violet harbour lantern seven", "interface": "web"})
			resp, err := http.Post("http://"+addr+"/v1/login", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("login = %d\n%s", resp.StatusCode, logs.String())
			}
			var id string
			select {
			case id = <-hook.first:
			case <-time.After(30 * time.Second):
				t.Fatalf("the notice never reached the receiver:\n%s", logs.String())
			}
			// Killed mid-delivery: nothing recorded the attempt's end.
			if err := srv.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			for srv.ProcessState == nil {
				if _, err := srv.Process.Wait(); err != nil {
					break
				}
			}
			if out := admin("", "outbox", "list", "--user", "kim"); !strings.Contains(out, id) || !strings.Contains(out, "pending") {
				t.Fatalf("after SIGKILL the message is not pending:\n%s", out)
			}
			// The receiver sees the killed sender's connection close, so
			// that attempt is never acknowledged.
			select {
			case <-hook.dropped:
			case <-time.After(30 * time.Second):
				t.Fatal("the receiver never saw the killed server's request end")
			}
			hook.open()

			_, logs = serveProcess(t, addr, append(append([]string{}, store...), "--config", cfg), env)
			deadline := time.Now().Add(60 * time.Second)
			for {
				out := admin("", "outbox", "list", "--user", "kim")
				if strings.Contains(out, id) && strings.Contains(out, "delivered") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the notice was not delivered after the restart:\n%s\n%s", out, logs.String())
				}
				time.Sleep(50 * time.Millisecond)
			}
			if n := hook.accepted(id); n != 1 {
				t.Errorf("the receiver accepted %s %d times, want once", id, n)
			}
		})
	}
}
