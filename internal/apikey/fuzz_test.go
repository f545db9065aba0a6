package apikey_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/apikey"
)

// FuzzParse checks that Parse never panics, returns only its own errors,
// and accepts a string only if it is the one spelling of what it parsed.
func FuzzParse(f *testing.F) {
	for _, env := range []account.Environment{account.Live, account.Paper} {
		tok, err := apikey.Generate(env, &counter{n: 42})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tok.Key)
		f.Add(tok.Key[:len(tok.Key)-1])
		f.Add(strings.ToUpper(tok.Key))
	}
	f.Add("")
	f.Add("gatehouse_")
	f.Add("gatehouse_live_")
	f.Add("gatehouse_paper_0000000000000000_")
	f.Add("ghp_0123456789abcdefghijklmnopqrstuvwxyz")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := apikey.Parse(s)
		if err != nil {
			switch err {
			case apikey.ErrNotKey, apikey.ErrMalformed, apikey.ErrEnvironment, apikey.ErrChecksum:
			default:
				t.Fatalf("Parse(%q) = %v, not one of its sentinel errors", s, err)
			}
			return
		}
		if got := apikey.Encode(p); got != s {
			t.Fatalf("Parse(%q) accepted, but it re-encodes as %q", s, got)
		}
		if p.Environment != account.Live && p.Environment != account.Paper {
			t.Fatalf("Parse(%q).Environment = %q", s, p.Environment)
		}
		if len(p.ID) != apikey.IDLen || !strings.Contains(s, "_"+p.ID+"_") {
			t.Fatalf("Parse(%q).ID = %q", s, p.ID)
		}
		if strings.Contains(p.String(), s[len(s)-apikey.SumLen-apikey.SecretLen:]) {
			t.Fatalf("Parsed.String() = %q shows the secret", p.String())
		}
		if !p.Matches(p.Hash()) {
			t.Fatalf("Parse(%q): Matches(Hash()) = false", s)
		}
		p2, err := apikey.Parse(apikey.Encode(p))
		if err != nil || p2 != p {
			t.Fatalf("Parse(Encode(Parse(%q))) = %v, %v; want %v", s, p2, err, p)
		}
	})
}

// FuzzValidate checks that Validate never panics and that whatever it
// accepts obeys the key rules.
func FuzzValidate(f *testing.F) {
	f.Add("bot", "live", "orders:write", "orders:read", "203.0.113.0/24", "", int64(0), "live", 2)
	f.Add("treasury", "", "transfers:write", "", "2001:db8::/48", "::ffff:10.0.0.1", int64(400*24*time.Hour), "live", 3)
	f.Add("", "paper", "orders:all", "x", "10.0.0.0/33", "0.0.0.0/0", int64(-1), "paper", 0)
	f.Add("\u202e", "prod", "", "", "", "", int64(time.Hour), "", 9)
	f.Fuzz(func(t *testing.T, name, env, s1, s2, ip1, ip2 string, expires int64, acct string, aal int) {
		var scopes, ips []string
		for _, s := range []string{s1, s2} {
			if s != "" {
				scopes = append(scopes, s)
			}
		}
		for _, s := range []string{ip1, ip2} {
			if s != "" {
				ips = append(ips, s)
			}
		}
		l := apikey.DefaultLimits()
		req := apikey.Request{Name: name, Environment: env, Scopes: scopes, AllowIPs: ips, ExpiresIn: time.Duration(expires)}
		spec, err := req.Validate(l, account.Environment(acct), aal)
		if err != nil {
			var re *apikey.RequestError
			if !errors.As(err, &re) || len(re.Problems) == 0 {
				t.Fatalf("Validate(%+v) = %v, want a *RequestError with problems", req, err)
			}
			for _, p := range re.Problems {
				if p.Field == "" || p.Message == "" || len(p.Message) > 400 {
					t.Fatalf("Validate(%+v): bad problem %+v", req, p)
				}
			}
			return
		}
		if spec.Environment != account.Environment(acct) || (acct != "live" && acct != "paper") {
			t.Fatalf("Validate(%+v) for a %q account gave environment %q", req, acct, spec.Environment)
		}
		if spec.Scopes == 0 || !spec.Scopes.Valid() {
			t.Fatalf("Validate(%+v).Scopes = %#x", req, uint32(spec.Scopes))
		}
		if spec.TTL <= 0 || spec.TTL > l.MaxTTL {
			t.Fatalf("Validate(%+v).TTL = %v, want in (0, %v]", req, spec.TTL, l.MaxTTL)
		}
		if spec.Scopes.Has(apikey.TransfersWrite) && (len(spec.AllowIPs) == 0 || aal < 3) {
			t.Fatalf("Validate(%+v) accepted transfers:write at aal %d with allowlist %v", req, aal, spec.AllowIPs)
		}
		if spec.Environment == account.Live && spec.Scopes.CanTrade() && len(spec.AllowIPs) == 0 && spec.TTL > l.UnrestrictedTradingMaxTTL {
			t.Fatalf("Validate(%+v).TTL = %v for live trading without allowlist", req, spec.TTL)
		}
		if len(spec.AllowIPs) != len(ips) {
			t.Fatalf("Validate(%+v).AllowIPs = %v, want %d entries", req, spec.AllowIPs, len(ips))
		}
		for _, p := range spec.AllowIPs {
			if !p.IsValid() || p.Masked() != p || p.Addr().Is4In6() || p.Addr().Zone() != "" {
				t.Fatalf("Validate(%+v) allowlist entry %v is not canonical", req, p)
			}
		}
		if !bytes.Equal([]byte(spec.Name), []byte(name)) {
			t.Fatalf("Validate(%+v).Name = %q", req, spec.Name)
		}
	})
}
