package audit_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"gatehouse/internal/audit"
)

func TestForOwner(t *testing.T) {
	tests := []struct {
		name   string
		typ    string
		detail map[string]string
		want   map[string]string
	}{
		{"LoginFailedHidesReason", audit.LoginFailed,
			map[string]string{"reason": "bad_password", "action": "password_change"}, map[string]string{"action": "password_change"}},
		{"FactorFailedHidesReason", audit.FactorFailed,
			map[string]string{"reason": "replayed", "factor": "fac_1", "kind": "totp"}, map[string]string{"factor": "fac_1", "kind": "totp"}},
		{"OnlyReasonLeavesNoDetail", audit.LoginFailed, map[string]string{"reason": "unknown_user"}, nil},
		{"SessionEndedKeepsReason", audit.SessionEnded,
			map[string]string{"reason": "revoked", "session": "ses_1"}, map[string]string{"reason": "revoked", "session": "ses_1"}},
		{"KeyRevokedKeepsReason", audit.KeyRevoked, map[string]string{"reason": "dormant"}, map[string]string{"reason": "dormant"}},
		{"NoDetail", audit.LoginSucceeded, nil, nil},
		{"UnknownTypeShownWhole", "future.event", map[string]string{"reason": "r"}, map[string]string{"reason": "r"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &audit.Event{Seq: 7, Type: tt.typ, UserID: "usr_1", IP: "192.0.2.1", Detail: tt.detail, Hash: []byte{1}}
			got := audit.ForOwner(e)
			if diff := cmp.Diff(tt.want, got.Detail); diff != "" {
				t.Errorf("ForOwner(%s %v).Detail: -want +got\n%s", tt.typ, tt.detail, diff)
			}
			if got.Seq != 7 || got.Type != tt.typ || got.IP != "192.0.2.1" || got.Hash != nil {
				t.Errorf("ForOwner = %+v; want the event's seq, type and address, and no hash", got)
			}
		})
	}
}

// TestForOwnerLeavesStoredEvent keeps the redaction a view: the event
// itself (what operators read, and what the chain hashes) is unchanged.
func TestForOwnerLeavesStoredEvent(t *testing.T) {
	e := &audit.Event{Type: audit.LoginFailed, Detail: map[string]string{"reason": "bad_password"}}
	audit.ForOwner(e)
	if got, want := e.Detail["reason"], "bad_password"; got != want {
		t.Errorf("after ForOwner, stored reason = %q, want %q", got, want)
	}
}
