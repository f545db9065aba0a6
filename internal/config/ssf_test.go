package config_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse/internal/config"
)

func writeKey(t *testing.T, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestValidateSSF: a receiver's stream is refused at start when it could
// not be served safely (no signing key, no token, a push URL in clear
// off loopback, an unknown event), and the token from the environment
// is what the hash is taken of.
func TestValidateSSF(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sec1, _ := x509.MarshalECPrivateKey(ec)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(ec)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	sec1384, _ := x509.MarshalECPrivateKey(p384)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsa8, _ := x509.MarshalPKCS8PrivateKey(rk)
	good := writeKey(t, "EC PRIVATE KEY", sec1)
	hash := strings.Repeat("ab", 32)
	push := config.SSFReceiver{ID: "order-gateway", Audience: []string{"https://orders.example"}, TokenSHA256: hash, Delivery: "push", URL: "https://orders.example/ssf"}
	poll := config.SSFReceiver{ID: "md", Audience: []string{"md"}, TokenSHA256: hash, Delivery: "poll", Events: []string{"session-revoked", "account-disabled"}}
	with := func(f func(*config.SSFReceiver)) config.SSFReceiver { r := push; f(&r); return r }
	for _, tc := range []struct {
		name string
		ssf  config.SSF
		want string
	}{
		{"None", config.SSF{}, ""},
		{"PushAndPoll", config.SSF{SigningKeys: []string{good}, Receivers: []config.SSFReceiver{push, poll}}, ""},
		{"PKCS8", config.SSF{SigningKeys: []string{writeKey(t, "PRIVATE KEY", pkcs8)}, Receivers: []config.SSFReceiver{push}}, ""},
		{"HTTPLoopback", config.SSF{SigningKeys: []string{good}, Receivers: []config.SSFReceiver{with(func(r *config.SSFReceiver) { r.URL = "http://127.0.0.1:9000/ssf" })}}, ""},
		{"NoKey", config.SSF{Receivers: []config.SSFReceiver{push}}, "ssf.signing_keys"},
		{"P384", config.SSF{SigningKeys: []string{writeKey(t, "EC PRIVATE KEY", sec1384)}}, "P-256"},
		{"RSA", config.SSF{SigningKeys: []string{writeKey(t, "PRIVATE KEY", rsa8)}}, "P-256"},
		{"MissingFile", config.SSF{SigningKeys: []string{"/nonexistent.pem"}}, "ssf.signing_keys[0]"},
		{"HTTPRemote", config.SSF{SigningKeys: []string{good}, Receivers: []config.SSFReceiver{with(func(r *config.SSFReceiver) { r.URL = "http://orders.example/ssf" })}}, "loopback"},
		{"NoToken", config.SSF{SigningKeys: []string{good}, Receivers: []config.SSFReceiver{with(func(r *config.SSFReceiver) { r.TokenSHA256 = "" })}}, "GATEHOUSE_SSF_TOKEN_ORDER_GATEWAY"},
		{"BadHash", config.SSF{SigningKeys: []string{good}, Receivers: []config.SSFReceiver{with(func(r *config.SSFReceiver) { r.TokenSHA256 = "abc" })}}, "token_sha256"},
		{"BadID", config.SSF{SigningKeys: []string{good}, Receivers: []config.SSFReceiver{with(func(r *config.SSFReceiver) { r.ID = "Orders/1" })}}, ".id"},
		{"TwoIDs", config.SSF{SigningKeys: []string{good}, Receivers: []config.SSFReceiver{push, push}}, "named twice"},
		{"NoAudience", config.SSF{SigningKeys: []string{good}, Receivers: []config.SSFReceiver{with(func(r *config.SSFReceiver) { r.Audience = nil })}}, "audience"},
		{"UnknownEvent", config.SSF{SigningKeys: []string{good}, Receivers: []config.SSFReceiver{with(func(r *config.SSFReceiver) { r.Events = []string{"session-created"} })}}, "unknown event"},
		{"PollWithURL", config.SSF{SigningKeys: []string{good}, Receivers: []config.SSFReceiver{with(func(r *config.SSFReceiver) { r.Delivery = "poll" })}}, "poll stream"},
		{"Delivery", config.SSF{SigningKeys: []string{good}, Receivers: []config.SSFReceiver{with(func(r *config.SSFReceiver) { r.Delivery = "email" })}}, "delivery"},
		{"Issuer", config.SSF{Issuer: "https://gh.example/?x=1"}, "ssf.issuer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := config.Default()
			c.Factors.SeedKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
			c.SSF = tc.ssf
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate = %v, want an error naming %q", err, tc.want)
			}
		})
	}

	// The token from the environment replaces the file's hash.
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	os.WriteFile(file, []byte("ssf:\n  signing_keys: ["+good+"]\n  receivers:\n    - {id: order-gateway, audience: [o], delivery: poll}\n"), 0o600)
	env := map[string]string{"GATEHOUSE_SEED_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "GATEHOUSE_SSF_TOKEN_ORDER_GATEWAY": "a-receiver-token-of-at-least-32-chars"}
	c, err := config.Load(file, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate with the token from the environment = %v", err)
	}
	if r := c.SSF.Receivers[0]; r.Token != env["GATEHOUSE_SSF_TOKEN_ORDER_GATEWAY"] || r.SSFTokenHash() == [32]byte{} {
		t.Errorf("receiver token = %q", r.Token)
	}
	env["GATEHOUSE_SSF_TOKEN_ORDER_GATEWAY"] = "short"
	c, _ = config.Load(file, func(k string) string { return env[k] })
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "shorter than 32") {
		t.Errorf("Validate with a short token = %v", err)
	}
}
