package setup_test

import (
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"

	"gatehouse/internal/posture"
	"gatehouse/internal/posture/setup"
)

// FuzzLoad checks that Load never panics, that it reports every failure
// as a *setup.Error, and that whatever it accepts is a valid snapshot
// that Marshal writes back to the same snapshot and that every renderer
// can show.
func FuzzLoad(f *testing.F) {
	for _, seed := range []string{
		setup.Example,
		"profile: mobile\n",
		"profile: occasional\nfactors: [{kind: push}, {kind: webauthn, device_bound: true}]\nrecovery_codes_left: 3\n",
		"profile: professional\nkeys: [{name: k, environment: live, scopes: [orders:write], allowlist: [10.0.0.0/8], used_scopes: [], used_for: [paper, live], created: 2 years ago, last_used: never}]\n",
		"profile: mobile\nsessions: [{interface: web, started: 2025-01-01T00:00:00Z, last_seen: 3 days ago, expires: never}]\n",
		"profile: mobile\ndevices: [{name: p, interface: mobile, trusted: false, device_lock: off, holds_password: yes}]\n",
		"profile: mobile\naccounts: [{id: A, environment: live, entity: de, permissions: [withdrawals]}]\npushes: [{at: yesterday, outcome: denied}]\n",
		"profile: &a mobile\nname: *a\n",
		"profile: mobile\nprofile: mobile\n",
		"- a\n- b\n",
		"profile: [\n",
		"keys: {a: b}\n",
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := setup.Load(data, now)
		if err != nil {
			var se *setup.Error
			if !errors.As(err, &se) || len(se.Problems) == 0 {
				t.Fatalf("Load error %T %v is not a *setup.Error with problems", err, err)
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("Load accepted an invalid snapshot: %v", err)
		}
		out, err := setup.Marshal(s)
		if err != nil {
			t.Fatalf("Marshal = %v", err)
		}
		back, err := setup.Load(out, now)
		if err != nil {
			t.Fatalf("Load(Marshal(s)) = %v\n%s", err, out)
		}
		if diff := cmp.Diff(s, back); diff != "" {
			t.Fatalf("round trip (-loaded +reloaded):\n%s\n%s", diff, out)
		}
		r := posture.Assess(s, now)
		for _, write := range []func(io.Writer, posture.Report) error{posture.WriteText, posture.WriteJSON, posture.WriteHTML} {
			if err := write(io.Discard, r); err != nil {
				t.Fatalf("render: %v", err)
			}
		}
	})
}
