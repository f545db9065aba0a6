package cli_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"

	"encoding/json"
	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite"
	"net/http"
	"testing"

	"gatehouse/internal/factor/webauthn/webauthntest"
)

// trader is a user of the test server with a security key and a trusted
// browser (home) whose session holds a fresh AAL3.
type trader struct {
	name, pw string
	key      *webauthntest.Authenticator
	home     *http.Client
}

type loginAnswer struct {
	Status            string `json:"status"`
	State             string `json:"state"`
	Flow              string `json:"flow"`
	Number            int    `json:"number"`
	EnrolmentRequired bool   `json:"enrolment_required"`
	Token             string `json:"token"`
	Factors           []struct {
		Kind string `json:"kind"`
		ID   string `json:"id"`
	} `json:"factors"`
	Device struct {
		ID string `json:"id"`
	} `json:"device"`
	Session struct {
		ID        string `json:"id"`
		Assurance string `json:"assurance"`
	} `json:"session"`
}

// newTrader adds a user through the CLI, signs in its first browser
// (trusted on first use, AAL1 for enrolment), enrols a security key and
// steps the session up with it.
func (s *testServer) newTrader(t *testing.T, name, pw string) *trader {
	t.Helper()
	s.addUser(t, name, pw)
	remember(pw)
	tr := &trader{name: name, pw: pw, key: webauthntest.New(s.URL, "localhost"), home: newBrowser(t)}
	var a loginAnswer
	resp := call(t, tr.home, "POST", s.URL+"/v1/login", map[string]any{"username": name, "password": pw, "interface": "web"}, nil, &a)
	if resp.StatusCode != 200 || a.Status != "authenticated" || !a.EnrolmentRequired || a.Session.Assurance != "AAL1" {
		t.Fatalf("first login of %s = %d %+v; want authenticated, AAL1, enrolment_required", name, resp.StatusCode, a)
	}
	s.enrolKey(t, tr.home, tr.key)
	s.stepUp(t, tr.home, tr.key, nil)
	return tr
}

// enrolKey enrols a software security key on the session of c.
func (s *testServer) enrolKey(t *testing.T, c *http.Client, key *webauthntest.Authenticator) {
	t.Helper()
	var e struct {
		Factor  struct{ ID string } `json:"factor"`
		Options json.RawMessage     `json:"options"`
	}
	if resp := call(t, c, "POST", s.URL+"/v1/factors/webauthn", map[string]string{"name": "YubiKey"}, nil, &e); resp.StatusCode != 201 {
		t.Fatalf("enrol webauthn = %d %s", resp.StatusCode, body(resp))
	}
	cred, err := key.Create(e.Options)
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	if resp := call(t, c, "POST", s.URL+"/v1/factors/"+e.Factor.ID+"/confirm", map[string]any{"response": json.RawMessage(cred)}, nil, &conf); resp.StatusCode != 200 {
		t.Fatalf("confirm webauthn = %d %s", resp.StatusCode, body(resp))
	}
	remember(conf.RecoveryCodes...)
}

// stepUp raises the session of c (or of the key-bound client d) with key.
func (s *testServer) stepUp(t *testing.T, c *http.Client, key *webauthntest.Authenticator, d *desktop) {
	t.Helper()
	hdr := func() http.Header {
		if d == nil {
			return nil
		}
		return d.headers(t, "POST", "/v1/stepup")
	}
	var begin struct {
		Flow    string          `json:"flow"`
		Options json.RawMessage `json:"options"`
	}
	if resp := call(t, c, "POST", s.URL+"/v1/stepup", map[string]string{"factor": "webauthn"}, hdr(), &begin); resp.StatusCode != 200 {
		t.Fatalf("step-up begin = %d %s", resp.StatusCode, body(resp))
	}
	assertion, err := key.Get(begin.Options)
	if err != nil {
		t.Fatal(err)
	}
	var done struct {
		Status    string `json:"status"`
		Assurance string `json:"assurance"`
		Token     string `json:"token"`
	}
	if resp := call(t, c, "POST", s.URL+"/v1/stepup", map[string]any{"factor": "webauthn", "flow": begin.Flow, "response": json.RawMessage(assertion)}, hdr(), &done); resp.StatusCode != 200 || done.Status != "raised" {
		t.Fatalf("step-up finish = %d %+v %s", resp.StatusCode, done, body(resp))
	}
	if d != nil {
		d.token = done.Token
		remember(done.Token)
	}
}

// signIn runs a whole login of tr on a web client c or, when d is set, a
// desktop or mobile client: password, security key, and the approval of
// a new device from tr's home browser. It returns the last answer.
func (s *testServer) signIn(t *testing.T, tr *trader, c *http.Client, d *desktop, iface string) loginAnswer {
	t.Helper()
	flowHdr := func(method, path string) http.Header {
		if d == nil {
			return nil
		}
		saved := d.token
		d.token = ""
		defer func() { d.token = saved }()
		return d.headers(t, method, path)
	}
	if d != nil {
		c = http.DefaultClient
	}
	var a loginAnswer
	resp := call(t, c, "POST", s.URL+"/v1/login", map[string]any{"username": tr.name, "password": tr.pw, "interface": iface, "device": map[string]string{"name": "Trading desk"}},
		flowHdr("POST", "/v1/login"), &a)
	if resp.StatusCode != 200 || a.Status != "factor_required" {
		t.Fatalf("login %s/%s = %d %s; want factor_required", tr.name, iface, resp.StatusCode, body(resp))
	}
	flow := a.Flow
	var begin struct {
		Options json.RawMessage `json:"options"`
	}
	if resp := call(t, c, "POST", s.URL+"/v1/login/"+flow+"/webauthn/begin", nil, flowHdr("POST", "/v1/login/"+flow+"/webauthn/begin"), &begin); resp.StatusCode != 200 {
		t.Fatalf("webauthn begin = %d %s", resp.StatusCode, body(resp))
	}
	assertion, err := tr.key.Get(begin.Options)
	if err != nil {
		t.Fatal(err)
	}
	a = loginAnswer{}
	if resp := call(t, c, "POST", s.URL+"/v1/login/"+flow+"/webauthn/finish", map[string]any{"response": json.RawMessage(assertion)}, flowHdr("POST", "/v1/login/"+flow+"/webauthn/finish"), &a); resp.StatusCode != 200 {
		t.Fatalf("webauthn finish = %d %s", resp.StatusCode, body(resp))
	}
	if a.Status == "device_approval_required" {
		if resp := call(t, tr.home, "POST", s.URL+"/v1/devices/"+a.Device.ID+"/approve", nil, nil, nil); resp.StatusCode != 200 {
			t.Fatalf("approve device = %d %s", resp.StatusCode, body(resp))
		}
		a = loginAnswer{}
		call(t, c, "GET", s.URL+"/v1/login/"+flow, nil, flowHdr("GET", "/v1/login/"+flow), &a)
	}
	if a.Status != "authenticated" {
		t.Fatalf("login %s/%s ended %+v; want authenticated", tr.name, iface, a)
	}
	if d != nil {
		d.token = a.Token
		remember(a.Token)
	}
	return a
}

// sql runs a statement on the test server's database, as an operator with
// a SQL shell would, and returns the first column of the first row.
func (s *testServer) sql(t *testing.T, query string) string {
	t.Helper()
	ctx := context.Background()
	var out any
	switch s.store[0] {
	case "--data":
		db, err := sql.Open("sqlite", filepath.Join(s.store[1], "gatehouse.db")+"?_pragma=busy_timeout(10000)")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		rows, err := db.QueryContext(ctx, query)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		defer rows.Close()
		if rows.Next() {
			rows.Scan(&out)
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	default:
		conn, err := pgx.Connect(ctx, s.store[1])
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		rows, err := conn.Query(ctx, query)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		defer rows.Close()
		if rows.Next() {
			vals, _ := rows.Values()
			if len(vals) > 0 {
				out = vals[0]
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	if out == nil {
		return ""
	}
	return fmt.Sprint(out)
}

// ageProof moves the last proof of a user's sessions an hour back.
func (s *testServer) ageProof(t *testing.T, username string) {
	t.Helper()
	shift := "auth_time = auth_time - 3600000000"
	if s.store[0] != "--data" {
		shift = "auth_time = auth_time - interval '1 hour'"
	}
	s.sql(t, `UPDATE sessions SET `+shift+` WHERE user_id = (SELECT id FROM users WHERE username = '`+username+`')`)
}
