package cli_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// TestAuditCheckpoint: serve writes signed checkpoints of the audit
// chain's head to a file and a webhook; `audit checkpoint` writes one on
// demand; `audit verify --checkpoint` passes the chain as it is, and
// finds a tail removed and a history rewritten (each of which the chain
// alone does not show) and a checkpoint edited.
func TestAuditCheckpoint(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			dir := t.TempDir()
			var mu sync.Mutex
			var posted [][]byte
			hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				mu.Lock()
				posted = append(posted, body)
				mu.Unlock()
			}))
			t.Cleanup(hook.Close)
			served := filepath.Join(dir, "served.jsonl")
			cfg := filepath.Join(dir, "gatehouse.yaml")
			yaml := "ssf:\n  signing_keys: [" + signingKeyFile(t) + "]\naudit:\n  checkpoints:\n    every: 1s\n    file: " + served + "\n    webhook: " + hook.URL + "\n"
			if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			s := startServer(t, append(b.flags(t), "--config", cfg), nil)
			admin := func(args ...string) (string, error) {
				return s.gatehouse(t, "", append(args, "--config", cfg)...)
			}
			for i := range 3 {
				s.addUser(t, "cp"+strconv.Itoa(i), "a long passphrase number "+strconv.Itoa(i))
			}
			s.soon(t, "checkpoints by serve", 1, func() int {
				mu.Lock()
				defer mu.Unlock()
				data, _ := os.ReadFile(served)
				if len(posted) > 0 && bytes.Count(data, []byte("\n")) > 0 {
					return 1
				}
				return 0
			})
			if out, err := admin("audit", "verify", "--checkpoint", served); err != nil || !strings.Contains(out, "audit chain intact") {
				t.Fatalf("audit verify --checkpoint (serve's) = %v\n%s", err, out)
			}
			mu.Lock()
			if err := os.WriteFile(filepath.Join(dir, "posted.jsonl"), append(posted[0], '\n'), 0o600); err != nil {
				t.Fatal(err)
			}
			mu.Unlock()
			if out, err := admin("audit", "verify", "--checkpoint", filepath.Join(dir, "posted.jsonl")); err != nil {
				t.Errorf("audit verify --checkpoint (the webhook's) = %v\n%s", err, out)
			}

			ours := filepath.Join(dir, "ours.jsonl")
			if out, err := admin("audit", "checkpoint", "--to", ours); err != nil || !strings.Contains(out, "appended") {
				t.Fatalf("audit checkpoint = %v\n%s", err, out)
			}
			head, _ := strconv.Atoi(s.sql(t, `SELECT MAX(seq) FROM audit`))
			if out, err := admin("audit", "verify", "--checkpoint", ours); err != nil || !strings.Contains(out, "1 checkpoint") {
				t.Fatalf("audit verify --checkpoint = %v\n%s", err, out)
			}

			// An edited checkpoint: refused, whatever the chain.
			line, _ := os.ReadFile(ours)
			forged := filepath.Join(dir, "forged.jsonl")
			os.WriteFile(forged, bytes.Replace(line, []byte(`"seq":`+strconv.Itoa(head)), []byte(`"seq":`+strconv.Itoa(head-1)), 1), 0o600)
			if out, err := admin("audit", "verify", "--checkpoint", forged); err == nil || !strings.Contains(out+err.Error(), "signature") {
				t.Errorf("audit verify with an edited checkpoint = %v\n%s", err, out)
			}

			// The tail removed: the chain alone still holds.
			s.sql(t, `DELETE FROM audit WHERE seq > `+strconv.Itoa(head-2))
			if out, err := admin("audit", "verify"); err != nil {
				t.Fatalf("audit verify of the cut chain = %v\n%s; want intact (what checkpoints are for)", err, out)
			}
			if out, err := admin("audit", "verify", "--checkpoint", ours); err == nil || !strings.Contains(err.Error(), "lost its tail") {
				t.Errorf("audit verify --checkpoint of the cut chain = %v\n%s; want the tail lost", err, out)
			}

			// History rewritten: new events in place of the removed ones.
			for i := range 3 {
				s.addUser(t, "late"+strconv.Itoa(i), "another long passphrase "+strconv.Itoa(i))
			}
			if out, err := admin("audit", "verify"); err != nil {
				t.Fatalf("audit verify of the rewritten chain = %v\n%s; want intact", err, out)
			}
			if out, err := admin("audit", "verify", "--checkpoint", ours); err == nil || !strings.Contains(err.Error(), "rewritten") {
				t.Errorf("audit verify --checkpoint of the rewritten chain = %v\n%s; want rewritten", err, out)
			}
		})
	}
}
