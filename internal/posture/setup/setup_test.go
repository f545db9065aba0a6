package setup_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gatehouse/internal/posture"
	"gatehouse/internal/posture/setup"
)

var now = time.Date(2025, 6, 2, 14, 0, 0, 0, time.UTC)

func TestLoadExample(t *testing.T) {
	s, err := setup.Load([]byte(setup.Example), now)
	if err != nil {
		t.Fatalf("Load(Example) = %v", err)
	}
	if s.UserID != "sam" || s.UserName != "Sam Carter" || s.Profile != posture.Professional {
		t.Errorf("user, name, profile = %q, %q, %q", s.UserID, s.UserName, s.Profile)
	}
	// What the example promises in its comment.
	if len(s.Factors) != 1 || s.Factors[0].Kind != posture.SMS {
		t.Errorf("factors = %+v, want SMS alone", s.Factors)
	}
	if got, want := s.DoorsUsed(), []string{"desktop", "web", "mobile", "api"}; !cmp.Equal(got, want) {
		t.Errorf("doors = %v, want %v", got, want)
	}
	if len(s.Keys) != 1 {
		t.Fatalf("keys = %+v, want one", s.Keys)
	}
	k := s.Keys[0]
	if k.Environment != "live" || len(k.Allowlist) != 0 || !k.Has("orders:write") || !strings.Contains(k.Location, "cloud VM") {
		t.Errorf("key = %+v, want a live trading key on a cloud VM without allowlist", k)
	}
	if want := now.AddDate(0, -7, 0); !k.Created.Equal(want) {
		t.Errorf("key created %v, want %v (7 months ago)", k.Created, want)
	}
	if k.UsedScopes != nil {
		t.Errorf("used scopes = %v, want nil (unknown)", k.UsedScopes)
	}
	desk := s.Sessions[0]
	if desk.Interface != "desktop" || desk.ID != "desktop-1" || desk.Lifetime() != 30*24*time.Hour || desk.Assurance != 2 {
		t.Errorf("desktop session = %+v", desk)
	}
	a := s.Accounts[0]
	if a.Entity.Scheme != "SIPC" || !a.Permissions.Options || !a.Permissions.Margin || a.Permissions.Withdrawals {
		t.Errorf("account = %+v", a)
	}
	if s.Settings.SessionNotifications {
		t.Errorf("session notifications on, want off")
	}
	if !posture.Assess(s, now).HasHigh() {
		t.Errorf("the example has no high finding")
	}
}

func TestLoadDefaults(t *testing.T) {
	s, err := setup.Load([]byte(`
profile: mobile
factors:
  - kind: push
devices:
  - name: phone
    interface: mobile
sessions:
  - interface: mobile
    device: phone
    expires: never
keys:
  - name: reader
    environment: paper
    scopes: [account:read]
    used_scopes: []
    allowlist: [198.51.100.4, "2001:db8::/48"]
accounts:
  - id: P1
    environment: paper
    entity: zz
`), now)
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	want := posture.Snapshot{
		UserID: "trader", Profile: posture.Mobile,
		Factors: []posture.Factor{{ID: "push-1", Kind: posture.Push}},
		Devices: []posture.Device{{ID: "phone", Interface: "mobile", Name: "phone", Trusted: true, Lock: "unknown"}},
		Sessions: []posture.Session{{
			ID: "mobile-1", Interface: "mobile", Device: "phone", Created: now, LastSeen: now, Assurance: 2,
		}},
		Keys: []posture.APIKey{{
			ID: "reader", Name: "reader", Environment: "paper", Scopes: []string{"account:read"},
			UsedScopes: []string{}, Allowlist: []string{"198.51.100.4/32", "2001:db8::/48"},
		}},
		Accounts: []posture.Account{{ID: "P1", Environment: "paper", Entity: posture.Entity{Code: "ZZ"}}},
		// Left out, so not known: not "none" and not "off".
		Unstated: []string{"recovery_codes_left", "settings.session_notifications"},
	}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
}

// TestUnstatedIsNotNone: a field left out (or written as null) is
// unstated, a field written as none is none, and the strict reading takes
// every field left out as its worst case.
func TestUnstatedIsNotNone(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, yaml string
		strict     bool
		want       []string
	}{
		{"all left out", "profile: occasional\n", false, []string{"factors", "recovery_codes_left", "settings.session_notifications"}},
		{"all left out, strict", "profile: occasional\n", true, nil},
		{"written as none", "profile: occasional\nfactors: []\nrecovery_codes_left: 0\nsettings: {session_notifications: off}\n", false, nil},
		{"null is not an answer", "profile: occasional\nfactors:\nrecovery_codes_left: ~\nsettings: {}\n", false, []string{"factors", "recovery_codes_left", "settings.session_notifications"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := setup.Loader{Strict: tc.strict}.Load([]byte(tc.yaml), now)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, s.Unstated); diff != "" {
				t.Errorf("Unstated (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoaderEntities(t *testing.T) {
	l := setup.Loader{Entities: posture.EntityTable{"AU": {Code: "AU", Scheme: "none", Limit: "n/a"}}}
	s, err := l.Load([]byte("profile: occasional\naccounts: [{id: A, environment: live, entity: au}]\n"), now)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Accounts[0].Entity; got.Code != "AU" || got.Scheme != "none" {
		t.Errorf("entity = %+v, want the table's AU", got)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want string // the whole error text, one problem a line
	}{
		{
			name: "many problems",
			in: `user: sam
profile: pro
interfaces: [desktop, fax]
settings:
  session_notifications: maybe
factors:
  - kind: sms
    colour: blue
keys:
  - name: bot
    environment: live
    scopes: [account:read, orders:all]
    allowlist: [1.2.3.4, nope]
    created: in 3 days
    last_used: sometime
recovery_codes_left: lots
accounts:
  - id: A
    environment: live
    permissions: [options, crypto]
`,
			want: `setup.yaml:2: profile: unknown value "pro" (want one of professional, occasional, mobile)
setup.yaml:3: interfaces: unknown interface "fax" (want one of desktop, web, mobile, api)
setup.yaml:5: settings.session_notifications: want true or false (on or off), got text "maybe"
setup.yaml:8: factors[0].colour: unknown field "colour" (known: id, kind, name, device_bound, device, added, last_used)
setup.yaml:12: keys[0].scopes: unknown scope "orders:all" (want one of account:read, marketdata:read, orders:read, orders:write, transfers:write)
setup.yaml:13: keys[0].allowlist: "nope" is not an address or CIDR prefix
setup.yaml:14: keys[0].created: "in 3 days" is in the future
setup.yaml:15: keys[0].last_used: "sometime": want a date (2025-03-01), an RFC 3339 time, or "N days ago" / "in N days"
setup.yaml:16: recovery_codes_left: want a whole number, got text "lots"
setup.yaml:20: accounts[0].permissions: unknown permission "crypto" (want one of options, margin, futures, withdrawals)`,
		},
		{
			name: "unknown top-level field",
			in:   "profile: mobile\nprofiles: occasional\n",
			want: `setup.yaml:2: profiles: unknown field "profiles" (known: user, name, profile, interfaces, settings, factors, recovery_codes_left, devices, sessions, keys, accounts, pushes)`,
		},
		{name: "syntax", in: "profile: mobile\nkeys: [\n", want: "setup.yaml:2: did not find expected node content"},
		{name: "empty", in: "", want: "setup.yaml: empty; run gatehouse assess --example for a commented start"},
		{name: "comments only", in: "# nothing\n", want: "setup.yaml: empty; run gatehouse assess --example for a commented start"},
		{name: "not a mapping", in: "- profile: mobile\n", want: "setup.yaml:1: want a mapping of fields (profile:, factors:, keys: ...); gatehouse assess --example prints one"},
		{name: "two documents", in: "profile: mobile\n---\nprofile: mobile\n", want: "setup.yaml:2: more than one YAML document"},
		{name: "repeated field", in: "profile: mobile\nprofile: occasional\n", want: "setup.yaml:2: profile: repeated field (first at line 1)"},
		{name: "alias", in: "profile: &p mobile\nname: *p\n", want: "setup.yaml:1: profile: anchors and aliases are not supported; write the value out\nsetup.yaml:2: name: anchors and aliases are not supported; write the value out"},
		{name: "missing profile", in: "user: sam\n", want: "setup.yaml:1: profile: required (one of professional, occasional, mobile)"},
		{name: "list where mapping", in: "profile: mobile\nsettings: [a]\n", want: "setup.yaml:2: settings: want a mapping, got a list"},
		{name: "text where list, in a list item", in: "profile: mobile\nkeys:\n  - name: k\n    environment: paper\n    scopes: [orders:read]\n    used_scopes: orders:read\n", want: `setup.yaml:6: keys[0].used_scopes: want a list, got text "orders:read"`},
		{name: "repeated field in a list item", in: "profile: mobile\nfactors:\n  - kind: totp\n    kind: sms\n", want: "setup.yaml:4: factors[0].kind: repeated field (first at line 3)"},
		{name: "mapping where text", in: "profile: {a: b}\n", want: "setup.yaml:1: profile: want text, got a mapping"},
		{
			name: "required fields of list items",
			in:   "profile: mobile\nkeys:\n  - environment: live\n    scopes: []\nfactors:\n  - name: x\n",
			want: `setup.yaml:3: keys[0].name: required
setup.yaml:4: keys[0].scopes: required (some of account:read, marketdata:read, orders:read, orders:write, transfers:write)
setup.yaml:6: factors[0].kind: required (one of sms, totp, push, webauthn, recovery)`,
		},
		{
			name: "session problems",
			in: `profile: mobile
devices:
  - {name: phone, interface: mobile}
  - {name: phone, interface: web, device_lock: maybe}
sessions:
  - {interface: desktop, device: phone, expires: in 2 days, lifetime: 3 days}
  - {interface: web, device: tablet, started: 2 days ago, last_seen: 3 days ago, lifetime: 3 fortnights, assurance: 4}
  - {interface: web, started: 2 days ago, expires: 3 days ago}
  - {interface: web}
`,
			want: `setup.yaml:4: devices[1].name: device "phone" listed twice
setup.yaml:4: devices[1].device_lock: unknown value "maybe" (want one of on, off, unknown)
setup.yaml:6: sessions[0].device: device "phone" is a web device, not desktop
setup.yaml:6: sessions[0].lifetime: give expires or lifetime, not both
setup.yaml:7: sessions[1].device: no device named "tablet" in devices
setup.yaml:7: sessions[1].last_seen: before the session started
setup.yaml:7: sessions[1].lifetime: "3 fortnights": want a span such as "30 days" or "12 hours"
setup.yaml:7: sessions[1].assurance: 4: want 1 (password), 2 (second factor) or 3 (security key)
setup.yaml:8: sessions[2].expires: before the session started
setup.yaml:9: sessions[3]: expires or lifetime is required ("never" if it never ends)`,
		},
		{
			name: "key problems",
			in: `profile: professional
accounts: [{id: A, environment: live}, {id: A, environment: demo}]
keys:
  - {name: k, account: B, environment: live, scopes: [orders:write, orders:write], used_scopes: [x], used_for: [test]}
  - {name: k, environment: paper, scopes: [account:read], created: 2025-01-01, expires: 2024-01-01}
factors:
  - {kind: totp, device_bound: true}
  - {kind: push, id: p}
  - {kind: push, id: p}
`,
			want: `setup.yaml:2: accounts[1].id: account "A" listed twice
setup.yaml:2: accounts[1].environment: unknown value "demo" (want one of paper, live)
setup.yaml:4: keys[0].account: no account "B" in accounts
setup.yaml:4: keys[0].scopes: scope "orders:write" listed twice
setup.yaml:4: keys[0].used_scopes: unknown scope "x" (want one of account:read, marketdata:read, orders:read, orders:write, transfers:write)
setup.yaml:4: keys[0].used_for: unknown environment "test" (want one of paper, live)
setup.yaml:5: keys[1].name: key "k" listed twice
setup.yaml:5: keys[1].expires: before the key was created
setup.yaml:7: factors[0].device_bound: only a webauthn factor can be device-bound
setup.yaml:9: factors[2].id: id "p" used twice`,
		},
		{
			name: "text fields",
			in:   "profile: mobile\nname: \"a\\tb\"\npushes: [{at: never, outcome: ignored}, {outcome: denied}]\nrecovery_codes_left: -1\n",
			want: `setup.yaml:2: name: contains control characters
setup.yaml:3: pushes[0].at: "never": "never" does not fit here
setup.yaml:3: pushes[0].outcome: unknown value "ignored" (want one of approved, denied, reported, expired)
setup.yaml:3: pushes[1].at: required
setup.yaml:4: recovery_codes_left: -1 is not a count of recovery codes (0 to 100)`,
		},
		{name: "too large", in: "profile: mobile\n" + strings.Repeat("#", setup.MaxSize), want: "setup.yaml: larger than 1048576 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := setup.Load([]byte(tc.in), now)
			if err == nil {
				t.Fatalf("Load succeeded, want errors:\n%s", tc.want)
			}
			if !errors.Is(err, setup.ErrInvalid) {
				t.Errorf("error %v is not ErrInvalid", err)
			}
			var se *setup.Error
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not *setup.Error", err)
			}
			if diff := cmp.Diff(tc.want, err.Error()); diff != "" {
				t.Errorf("Load errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoaderName(t *testing.T) {
	_, err := setup.Loader{Name: "mine.yaml"}.Load([]byte("profile: x\n"), now)
	if err == nil || !strings.HasPrefix(err.Error(), "mine.yaml:1: profile:") {
		t.Errorf("Load = %v, want it reported against mine.yaml:1", err)
	}
}

func TestTimes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"2025-03-01", time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)},
		{"2025-03-01T09:30:00Z", time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC)},
		{"2025-03-01T09:30:00+02:00", time.Date(2025, 3, 1, 7, 30, 0, 0, time.UTC)},
		{"2025-03-01 09:30", time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC)},
		{"now", now},
		{"Today", now},
		{"yesterday", now.AddDate(0, 0, -1)},
		{"5 minutes ago", now.Add(-5 * time.Minute)},
		{"1 hour ago", now.Add(-time.Hour)},
		{"3h ago", now.Add(-3 * time.Hour)},
		{"3 days ago", now.AddDate(0, 0, -3)},
		{"2w ago", now.AddDate(0, 0, -14)},
		{"14 months ago", now.AddDate(0, -14, 0)},
		{"1 year ago", now.AddDate(-1, 0, 0)},
		{"in 20 days", now.AddDate(0, 0, 20)},
	} {
		s, err := setup.Load([]byte("profile: mobile\nfactors: [{kind: push, last_used: never}]\nkeys: [{name: k, environment: paper, scopes: [account:read], expires: \""+tc.in+"\"}]\n"), now)
		if err != nil {
			t.Errorf("time %q: %v", tc.in, err)
			continue
		}
		if got := s.Keys[0].Expires; !got.Equal(tc.want) {
			t.Errorf("time %q = %v, want %v", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{"soon", "3 fortnights ago", "ago", "in days", "1234567 days ago", "9000 years ago", "in 9000 years", "2025-13-01", "3 days"} {
		if _, err := setup.Load([]byte("profile: mobile\nkeys: [{name: k, environment: paper, scopes: [account:read], expires: \""+bad+"\"}]\n"), now); err == nil {
			t.Errorf("time %q accepted", bad)
		}
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	for _, in := range []string{setup.Example, `
profile: occasional
keys:
  - {name: a, environment: live, scopes: [orders:write], used_scopes: []}
  - {name: b, environment: live, scopes: [orders:write], used_for: [paper, live]}
sessions: [{interface: web, expires: never, assurance: 1}]
devices: [{name: d, interface: web, trusted: false, device_lock: off, holds_password: true}]
pushes: [{at: 1 day ago, outcome: reported}]
settings: {session_notifications: true}
recovery_codes_left: 3
`} {
		s, err := setup.Load([]byte(in), now)
		if err != nil {
			t.Fatal(err)
		}
		out, err := setup.Marshal(s)
		if err != nil {
			t.Fatalf("Marshal = %v", err)
		}
		// Read back at another time: absolute times do not move.
		back, err := setup.Load(out, now.Add(1000*time.Hour))
		if err != nil {
			t.Fatalf("Load(Marshal) = %v\n%s", err, out)
		}
		if diff := cmp.Diff(s, back); diff != "" {
			t.Errorf("round trip (-loaded +reloaded):\n%s\n%s", diff, out)
		}
	}
}
