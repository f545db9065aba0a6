package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/cli"
	"gatehouse/internal/store"
	"gatehouse/internal/store/sqlite"
)

// TestOutboxListRetry: an operator's freeze writes its webhook notice into
// the outbox; once parked, `outbox list --failed` shows it without the
// endpoint's query, `outbox retry` makes it pending again, once.
func TestOutboxListRetry(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gatehouse.yaml")
	os.WriteFile(cfg, []byte("webhooks:\n  - url: http://127.0.0.1:9/hook?token=receiver-secret\n    events: [\"*\"]\n"), 0o600)
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	getenv := func(k string) string {
		return map[string]string{"GATEHOUSE_WEBHOOK_SECRET_1": secret, "GATEHOUSE_SEED_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}[k]
	}
	run := func(stdin string, args ...string) (string, error) {
		t.Helper()
		var out bytes.Buffer
		err := cli.Run(context.Background(), append(args, "--data", dir, "--config", cfg), getenv, strings.NewReader(stdin), &out, &out)
		return out.String(), err
	}
	if out, err := run("correct horse battery staple\n", "user", "add", "--username", "olga", "--email", "olga@example.com", "--password-stdin"); err != nil {
		t.Fatal(err, out)
	}
	if out, err := run("", "freeze", "--user", "olga"); err != nil {
		t.Fatal(err, out)
	}
	out, err := run("", "outbox", "list")
	if err != nil {
		t.Fatal(err, out)
	}
	id := regexp.MustCompile(`(msg_\S+)\s+pending\s+webhook\s+account\.frozen\s+usr_\S+\s+http://127\.0\.0\.1:9/hook\?…`).FindStringSubmatch(out)
	if id == nil {
		t.Fatalf("outbox list shows no pending account.frozen webhook:\n%s", out)
	}
	if strings.Contains(out, "receiver-secret") {
		t.Errorf("outbox list shows the endpoint's query:\n%s", out)
	}
	if out, _ := run("", "outbox", "list", "--failed"); strings.Contains(out, id[1]) {
		t.Errorf("--failed lists a pending message:\n%s", out)
	}
	if _, err := run("", "outbox", "retry", id[1]); err == nil || !strings.Contains(err.Error(), "no parked message") {
		t.Errorf("retry of a pending message = %v, want refused", err)
	}

	// The worker gave up on it.
	st, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if ms, err := st.ClaimMessages(ctx, time.Now().Add(time.Minute), time.Minute, 10); err != nil || len(ms) != 1 {
		t.Fatalf("claim = %d, %v", len(ms), err)
	}
	if err := st.ParkMessage(ctx, id[1], "webhook: endpoint answered 500"); err != nil {
		t.Fatal(err)
	}
	st.Close()

	out, err = run("", "outbox", "list", "--failed")
	if err != nil || !regexp.MustCompile(id[1]+`\s+failed\s+webhook\s+account\.frozen\s+.*\s1\s+.*webhook: endpoint answered 500`).MatchString(out) {
		t.Fatalf("outbox list --failed = %v:\n%s", err, out)
	}
	if out, err := run("", "outbox", "retry", id[1]); err != nil || !strings.Contains(out, "pending again") {
		t.Fatalf("outbox retry = %v %s", err, out)
	}
	if out, _ := run("", "outbox", "list", "--failed"); strings.Contains(out, id[1]) {
		t.Errorf("the retried message is still listed as failed:\n%s", out)
	}
	if _, err := run("", "outbox", "retry", id[1]); err == nil {
		t.Error("a second retry of the same message succeeded")
	}
	if _, err := run("", "outbox", "retry"); err == nil || cli.ExitCode(err) != 2 {
		t.Errorf("retry without an id = exit %d (%v), want a usage error", cli.ExitCode(err), err)
	}
	st, _ = sqlite.Open(ctx, dir)
	defer st.Close()
	m, err := st.MessageByID(ctx, id[1])
	if err != nil || m.State != store.MessagePending || m.Attempts != 0 {
		t.Errorf("after retry: %+v, %v; want pending with attempts counted afresh", m, err)
	}
	if out, err := run("", "audit", "verify"); err != nil {
		t.Errorf("audit verify after retry = %v %s", err, out)
	}
}
