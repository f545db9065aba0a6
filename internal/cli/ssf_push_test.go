package cli_test

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// TestSSFPushFromRealServer: a running server pushes (RFC 8935) the
// session-revoked SET of a session revoked through the API to a
// configured receiver, through the outbox, with the configured
// Authorization header; the receiver verifies it with go-jose against
// the published keys.
func TestSSFPushFromRealServer(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			sets := make(chan string, 16)
			rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				if r.Header.Get("Content-Type") != "application/secevent+jwt" || r.Header.Get("Authorization") != "Bearer receiver-secret" {
					w.WriteHeader(http.StatusBadRequest)
					io.WriteString(w, `{"err":"authentication_failed"}`)
					return
				}
				w.WriteHeader(http.StatusAccepted)
				sets <- string(body)
			}))
			defer rcv.Close()
			cfg := ssfConfig(t, "    - id: orders\n      audience: [https://orders.example]\n      delivery: push\n      url: "+rcv.URL+"/ssf\n      events: [session-revoked]\n")
			env := map[string]string{"GATEHOUSE_SSF_TOKEN_ORDERS": "orders-receiver-token-0123456789abcdef", "GATEHOUSE_SSF_AUTHORIZATION_ORDERS": "Bearer receiver-secret"}
			remember("orders-receiver-token-0123456789abcdef", "receiver-secret")
			s := startServer(t, b.flags(t), env, "--config", cfg)
			var meta struct {
				Issuer  string `json:"issuer"`
				JWKSURI string `json:"jwks_uri"`
			}
			call(t, http.DefaultClient, "GET", s.URL+"/.well-known/ssf-configuration", nil, nil, &meta)
			var keys jose.JSONWebKeySet
			call(t, http.DefaultClient, "GET", meta.JWKSURI, nil, nil, &keys)

			tr := s.newTrader(t, "alice", "correct horse battery staple")
			other := s.signIn(t, tr, newBrowser(t), nil, "web")
			if resp := call(t, tr.home, "DELETE", s.URL+"/v1/sessions/"+other.Session.ID, nil, nil, nil); resp.StatusCode != http.StatusNoContent {
				t.Fatalf("DELETE session = %d %s", resp.StatusCode, body(resp))
			}
			var set string
			select {
			case set = <-sets:
			case <-time.After(15 * time.Second):
				t.Fatal("no SET pushed within 15s")
			}
			jws, err := jose.ParseSigned(set, []jose.SignatureAlgorithm{jose.ES256})
			if err != nil {
				t.Fatal(err)
			}
			found := keys.Key(jws.Signatures[0].Protected.KeyID)
			if len(found) != 1 {
				t.Fatalf("kid %q not published", jws.Signatures[0].Protected.KeyID)
			}
			payload, err := jws.Verify(found[0].Key)
			if err != nil {
				t.Fatal(err)
			}
			var c struct {
				Iss    string                     `json:"iss"`
				Aud    string                     `json:"aud"`
				SubID  json.RawMessage            `json:"sub_id"`
				Events map[string]json.RawMessage `json:"events"`
			}
			json.Unmarshal(payload, &c)
			if _, ok := c.Events[sessionRevoked]; !ok || c.Iss != meta.Issuer || c.Aud != "https://orders.example" || !strings.Contains(string(c.SubID), other.Session.ID) {
				t.Errorf("pushed SET: iss %q aud %q sub_id %s events %v", c.Iss, c.Aud, c.SubID, slices.Collect(maps.Keys(c.Events)))
			}
		})
	}
}
