package cli_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

const (
	sessionRevoked = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
	mdToken        = "market-data-receiver-token-0123456789"
)

// pollReceiver is a poll receiver (its token in
// GATEHOUSE_SSF_TOKEN_MARKET_DATA), as ssf.receivers YAML.
const pollReceiver = "    - id: market-data\n      audience: [market-data]\n      delivery: poll\n"

// signingKeyFile writes a new P-256 key in PEM, as ssf.signing_keys
// names them, and returns its path.
func signingKeyFile(t *testing.T) string {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalECPrivateKey(k)
	key := filepath.Join(t.TempDir(), "ssf.pem")
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return key
}

// ssfConfig writes a configuration with a signing key and the receivers.
func ssfConfig(t *testing.T, receivers string) string {
	t.Helper()
	dir := t.TempDir()
	key := signingKeyFile(t)
	cfg := filepath.Join(dir, "gatehouse.yaml")
	yaml := "ssf:\n  signing_keys: [" + key + "]\n  receivers:\n" + receivers
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestSSFPollFromRealServer: against a running server, a session revoked
// through the API and one revoked by an operator's command reach a poll
// receiver as session-revoked SETs that verify, with go-jose alone,
// against the keys at the jwks_uri the transmitter configuration names.
func TestSSFPollFromRealServer(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			cfg := ssfConfig(t, pollReceiver)
			s := startServer(t, b.flags(t), map[string]string{"GATEHOUSE_SSF_TOKEN_MARKET_DATA": mdToken}, "--config", cfg)
			remember(mdToken)
			var meta struct {
				Issuer  string `json:"issuer"`
				JWKSURI string `json:"jwks_uri"`
			}
			call(t, http.DefaultClient, "GET", s.URL+"/.well-known/ssf-configuration", nil, nil, &meta)
			var keys jose.JSONWebKeySet
			// The set also holds the approval token key (kid approval-…).
			resp := call(t, http.DefaultClient, "GET", meta.JWKSURI, nil, nil, &keys)
			keys.Keys = slices.DeleteFunc(keys.Keys, func(k jose.JSONWebKey) bool { return strings.HasPrefix(k.KeyID, "approval-") })
			if resp.StatusCode != 200 || len(keys.Keys) != 1 {
				t.Fatalf("GET %s = %d, %d SSF keys", meta.JWKSURI, resp.StatusCode, len(keys.Keys))
			}

			tr := s.newTrader(t, "alice", "correct horse battery staple")
			other := s.signIn(t, tr, newBrowser(t), nil, "web")
			if resp := call(t, tr.home, "DELETE", s.URL+"/v1/sessions/"+other.Session.ID, nil, nil, nil); resp.StatusCode != http.StatusNoContent {
				t.Fatalf("DELETE session = %d %s", resp.StatusCode, body(resp))
			}
			third := s.signIn(t, tr, newBrowser(t), nil, "web")
			if out, err := s.gatehouse(t, "", "session", "revoke", "--config", cfg, third.Session.ID); err != nil {
				t.Fatalf("session revoke: %v %s", err, out)
			}

			var res struct {
				Sets map[string]string `json:"sets"`
			}
			auth := http.Header{"Authorization": {"Bearer " + mdToken}}
			if resp := call(t, http.DefaultClient, "POST", s.URL+"/v1/ssf/poll", map[string]any{"returnImmediately": true}, auth, &res); resp.StatusCode != 200 {
				t.Fatalf("poll = %d %s", resp.StatusCode, body(resp))
			}
			revoked := map[string]string{} // session id → initiating entity
			for jti, set := range res.Sets {
				jws, err := jose.ParseSigned(set, []jose.SignatureAlgorithm{jose.ES256})
				if err != nil {
					t.Fatalf("SET %s: %v", jti, err)
				}
				h := jws.Signatures[0].Protected
				found := keys.Key(h.KeyID)
				if len(found) != 1 || h.ExtraHeaders[jose.HeaderType] != "secevent+jwt" {
					t.Fatalf("SET %s: kid %q (%d keys), typ %v", jti, h.KeyID, len(found), h.ExtraHeaders[jose.HeaderType])
				}
				payload, err := jws.Verify(found[0].Key)
				if err != nil {
					t.Fatalf("SET %s does not verify: %v", jti, err)
				}
				var c struct {
					Iss    string                     `json:"iss"`
					Aud    string                     `json:"aud"`
					JTI    string                     `json:"jti"`
					Events map[string]json.RawMessage `json:"events"`
				}
				json.Unmarshal(payload, &c)
				if c.Iss != meta.Issuer || c.Aud != "market-data" || c.JTI != jti {
					t.Errorf("SET %s: iss %q aud %q jti %q", jti, c.Iss, c.Aud, c.JTI)
				}
				if ev, ok := c.Events[sessionRevoked]; ok {
					var e struct {
						By string `json:"initiating_entity"`
					}
					json.Unmarshal(ev, &e)
					var sub struct {
						Session struct {
							ID string `json:"id"`
						} `json:"session"`
					}
					var raw map[string]json.RawMessage
					json.Unmarshal(payload, &raw)
					json.Unmarshal(raw["sub_id"], &sub)
					revoked[sub.Session.ID] = e.By
				}
			}
			if revoked[other.Session.ID] != "user" || revoked[third.Session.ID] != "admin" {
				t.Errorf("session-revoked SETs by session = %v, want %s by user (API) and %s by admin (CLI)", revoked, other.Session.ID, third.Session.ID)
			}
			// "This wasn't me": the freeze is a RISC account-disabled
			// (hijacking) and sessions-revoked, beside each session's
			// session-revoked.
			if resp := call(t, tr.home, "POST", s.URL+"/v1/freeze", nil, nil, nil); resp.StatusCode != 200 {
				t.Fatalf("POST /v1/freeze = %d %s", resp.StatusCode, body(resp))
			}
			var acks []string
			for jti := range res.Sets {
				acks = append(acks, jti)
			}
			res.Sets = nil
			if resp := call(t, http.DefaultClient, "POST", s.URL+"/v1/ssf/poll", map[string]any{"ack": acks, "returnImmediately": true}, auth, &res); resp.StatusCode != 200 {
				t.Fatalf("poll = %d %s", resp.StatusCode, body(resp))
			}
			kinds := map[string]int{}
			for _, set := range res.Sets {
				jws, _ := jose.ParseSigned(set, []jose.SignatureAlgorithm{jose.ES256})
				payload, err := jws.Verify(keys.Key(jws.Signatures[0].Protected.KeyID)[0].Key)
				if err != nil {
					t.Fatal(err)
				}
				var c struct {
					Events map[string]json.RawMessage `json:"events"`
				}
				json.Unmarshal(payload, &c)
				for typ, ev := range c.Events {
					kinds[typ[strings.LastIndexByte(typ, '/')+1:]]++
					if strings.HasSuffix(typ, "account-disabled") && string(ev) != `{"reason":"hijacking"}` {
						t.Errorf("account-disabled = %s, want reason hijacking", ev)
					}
				}
			}
			if kinds["account-disabled"] != 1 || kinds["sessions-revoked"] != 1 || kinds["session-revoked"] < 1 {
				t.Errorf("SETs after the freeze = %v, want one account-disabled, one sessions-revoked and the home session's session-revoked", kinds)
			}
			// A wrong token is refused.
			if resp := call(t, http.DefaultClient, "POST", s.URL+"/v1/ssf/poll", map[string]any{}, http.Header{"Authorization": {"Bearer " + mdToken + "x"}}, nil); resp.StatusCode != 401 {
				t.Errorf("poll with a wrong token = %d, want 401", resp.StatusCode)
			}
		})
	}
}
