package webhook_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/webhook"
)

// nodeModules is where scripts/test-deps.sh installs the npm packages the
// tests use as peers.
var nodeModules = filepath.Join("..", "..", ".deps", "node", "node_modules")

// referenceVerifier runs the Standard Webhooks reference library (npm
// standardwebhooks) over cases and returns its verdict for each.
func referenceVerifier(t *testing.T, cases []verifyCase) []string {
	t.Helper()
	node, err := exec.LookPath("node")
	lib := filepath.Join(nodeModules, "standardwebhooks")
	if _, serr := os.Stat(lib); err != nil || serr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node or %s missing under CI: make test-deps installs them", lib)
		}
		t.Skipf("node or %s missing: run make test-deps", lib)
	}
	var in bytes.Buffer
	for _, c := range cases {
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		in.Write(append(b, '\n'))
	}
	abs, err := filepath.Abs(nodeModules)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join("testdata", "verify.js"))
	cmd.Env = append(os.Environ(), "NODE_PATH="+abs)
	cmd.Stdin = &in
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node verify.js: %v\n%s", err, out)
	}
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(got) != len(cases) {
		t.Fatalf("verify.js answered %d lines for %d cases:\n%s", len(got), len(cases), out)
	}
	return got
}

type verifyCase struct {
	Secret  string            `json:"secret"`
	Headers map[string]string `json:"headers"`
	Payload string            `json:"payload"`
}

func headers(s webhook.Signed) map[string]string {
	return map[string]string{webhook.HeaderID: s.ID, webhook.HeaderTimestamp: s.Timestamp, webhook.HeaderSignature: s.Signature}
}

func newSecret(t *testing.T) (string, webhook.Secret) {
	t.Helper()
	text, err := webhook.NewSecret(nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := webhook.ParseSecret(text)
	if err != nil {
		t.Fatalf("ParseSecret(NewSecret()) = %v", err)
	}
	return text, s
}

func TestSignaturesVerifyWithReferenceLibrary(t *testing.T) {
	oldText, old := newSecret(t)
	newText, next := newSecret(t)
	_, stranger := newSecret(t)
	body := `{"type":"session.created","data":{"user":"maya","door":"desktop","note":"ünïcode ✓"}}`
	now := time.Now()

	one, err := webhook.Sign("msg_2Qx7", now, []byte(body), old)
	if err != nil {
		t.Fatal(err)
	}
	// During a rotation the endpoint holds either secret: both verify.
	both, err := webhook.Sign("msg_2Qx8", now, []byte(body), old, next)
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := webhook.Sign("msg_2Qx9", now, []byte(body), stranger)
	if err != nil {
		t.Fatal(err)
	}
	stale, err := webhook.Sign("msg_2Qxa", now.Add(-10*time.Minute), []byte(body), old)
	if err != nil {
		t.Fatal(err)
	}
	tamperedID := headers(one)
	tamperedID[webhook.HeaderID] = "msg_other"

	cases := []struct {
		name string
		c    verifyCase
		ok   bool
	}{
		{"one secret", verifyCase{oldText, headers(one), body}, true},
		{"rotation: old secret", verifyCase{oldText, headers(both), body}, true},
		{"rotation: new secret", verifyCase{newText, headers(both), body}, true},
		{"another endpoint's secret", verifyCase{oldText, headers(wrong), body}, false},
		{"body changed", verifyCase{oldText, headers(one), strings.Replace(body, "maya", "mallory", 1)}, false},
		{"id changed", verifyCase{oldText, tamperedID, body}, false},
		{"ten minutes old", verifyCase{oldText, headers(stale), body}, false},
	}
	var in []verifyCase
	for _, tc := range cases {
		in = append(in, tc.c)
	}
	got := referenceVerifier(t, in)
	for i, tc := range cases {
		if ok := got[i] == "ok"; ok != tc.ok {
			t.Errorf("%s: reference library says %q, want ok=%v", tc.name, got[i], tc.ok)
		}
	}
}

func TestParseSecret(t *testing.T) {
	key24 := "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	tests := []struct {
		in string
		ok bool
	}{
		{key24, true},
		{"whsec_" + strings.Repeat("A", 88), false}, // 66 bytes
		{"whsec_" + strings.Repeat("A", 84), true},  // 63 bytes
		{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", false}, // no prefix
		{"whsec_c2hvcnQ=", false},                   // 5 bytes
		{"whsec_not base64!", false},
		{"whsec_", false},
		{"", false},
		{"WHSEC_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", false},
	}
	for _, tt := range tests {
		_, err := webhook.ParseSecret(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseSecret(%q) = %v, want ok=%v", tt.in, err, tt.ok)
		}
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	text, s := newSecret(t)
	key := strings.TrimPrefix(text, webhook.SecretPrefix)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if out := fmt.Sprintf(verb, s); strings.Contains(out, key) || strings.Contains(out, key[:8]) {
			t.Errorf("Sprintf(%q, secret) = %q: shows the key", verb, out)
		}
	}
	if out := fmt.Sprintf("%+v", struct{ S webhook.Secret }{s}); strings.Contains(out, key[:8]) {
		t.Errorf("a struct holding the secret prints %q", out)
	}
}

func TestSignRefuses(t *testing.T) {
	_, s := newSecret(t)
	for _, id := range []string{"", "msg 1", "msg\n1", "msg\x001"} {
		if _, err := webhook.Sign(id, time.Now(), nil, s); err == nil {
			t.Errorf("Sign(id %q) = nil error, want a refusal", id)
		}
	}
	if _, err := webhook.Sign("msg_1", time.Now(), nil); err == nil {
		t.Error("Sign with no secret = nil error, want a refusal")
	}
	if _, err := webhook.Sign("msg_1", time.Now(), nil, webhook.Secret{}); err == nil {
		t.Error("Sign with the zero Secret = nil error, want a refusal")
	}
}

func TestSignIsDeterministic(t *testing.T) {
	// A redelivery signs the same id, time and body: the same signature,
	// so a receiver's de-duplication by id sees one message.
	_, s := newSecret(t)
	at := time.Unix(1_700_000_000, 0)
	a, _ := webhook.Sign("msg_1", at, []byte("{}"), s)
	b, _ := webhook.Sign("msg_1", at, []byte("{}"), s)
	if a != b {
		t.Errorf("two signatures of one message differ: %+v, %+v", a, b)
	}
	if a.Timestamp != "1700000000" {
		t.Errorf("Timestamp = %q, want Unix seconds 1700000000", a.Timestamp)
	}
	if n := strings.Count(a.Signature, "v1,"); n != 1 {
		t.Errorf("Signature %q has %d v1 parts, want 1", a.Signature, n)
	}
}
