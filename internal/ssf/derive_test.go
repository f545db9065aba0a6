package ssf_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"slices"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"gatehouse/internal/audit"
	"gatehouse/internal/secevent"
	"gatehouse/internal/ssf"
	"gatehouse/internal/store"
	"gatehouse/internal/store/storetest"
)

// TestDerive checks which CAEP and RISC events each audit event gives, on
// which subject, and that a receiver gets only the events it may have.
func TestDerive(t *testing.T) {
	st := storetest.SQLite(t)
	ctx := context.Background()
	tr := &ssf.Transmitter{Issuer: "https://gh.example", Receivers: []*ssf.Receiver{
		{ID: "all", Audience: []string{"a"}, TokenHash: sha256.Sum256([]byte("t1")), PushURL: "https://a.example/", Events: secevent.Supported()},
		{ID: "revocations", Audience: []string{"r"}, TokenHash: sha256.Sum256([]byte("t2")), PushURL: "https://r.example/", Events: []string{secevent.SessionRevoked, secevent.SessionsRevoked}},
	}}
	user := `{"format":"iss_sub","iss":"https://gh.example","sub":"usr_1"}`
	ofSession := `{"format":"complex","user":` + user + `,"session":{"format":"opaque","id":"ses_1"}}`
	tests := []struct {
		name  string
		e     audit.Event
		want  []string // event types, for the receiver "all"
		sub   string
		event string // the first event's JSON, when checked
	}{
		{"Logout", audit.Event{Type: audit.SessionEnded, Actor: "usr_1", Detail: map[string]string{"session": "ses_1", "reason": "logout"}}, []string{secevent.SessionRevoked}, ofSession,
			`{"event_timestamp":1772443800,"initiating_entity":"user"}`},
		{"RevokedByAdmin", audit.Event{Type: audit.SessionEnded, Actor: "admin", Detail: map[string]string{"session": "ses_1", "reason": "revoked"}}, []string{secevent.SessionRevoked}, ofSession,
			`{"event_timestamp":1772443800,"initiating_entity":"admin"}`},
		{"Expired", audit.Event{Type: audit.SessionEnded, Actor: "system", Detail: map[string]string{"session": "ses_1", "reason": "expired"}}, nil, "", ""},
		{"Idle", audit.Event{Type: audit.SessionEnded, Actor: "system", Detail: map[string]string{"session": "ses_1", "reason": "idle"}}, nil, "", ""},
		{"PasswordChanged", audit.Event{Type: audit.PasswordChanged, Actor: "usr_1"}, []string{secevent.CredentialChange}, user,
			`{"event_timestamp":1772443800,"initiating_entity":"user","credential_type":"password","change_type":"update"}`},
		{"FactorAdded", audit.Event{Type: audit.FactorAdded, Actor: "usr_1", Detail: map[string]string{"kind": "webauthn", "device_bound": "true", "name": "YubiKey"}}, []string{secevent.CredentialChange}, user,
			`{"event_timestamp":1772443800,"initiating_entity":"user","credential_type":"fido2-roaming","change_type":"create","friendly_name":"YubiKey"}`},
		{"FactorRemoved", audit.Event{Type: audit.FactorRemoved, Actor: "usr_1", Detail: map[string]string{"kind": "sms"}}, []string{secevent.CredentialChange}, user,
			`{"event_timestamp":1772443800,"initiating_entity":"user","credential_type":"phone-sms","change_type":"delete"}`},
		{"StepUp", audit.Event{Type: audit.StepUp, Actor: "usr_1", Detail: map[string]string{"session": "ses_1", "aal": "AAL3", "previous_aal": "AAL1"}}, []string{secevent.AssuranceLevelChange}, ofSession,
			`{"event_timestamp":1772443800,"initiating_entity":"user","namespace":"NIST-AAL","current_level":"nist-aal3","previous_level":"nist-aal1","change_direction":"increase"}`},
		{"MemberAdded", audit.Event{Type: audit.MemberAdded, Actor: "admin", Detail: map[string]string{"account": "ACC-1", "role": "trader"}}, []string{secevent.TokenClaimsChange}, user,
			`{"event_timestamp":1772443800,"initiating_entity":"admin","claims":{"gatehouse_account":"ACC-1","gatehouse_role":"trader"}}`},
		{"MemberRemoved", audit.Event{Type: audit.MemberRemoved, Actor: "admin", Detail: map[string]string{"account": "ACC-1", "role": "trader"}}, []string{secevent.TokenClaimsChange}, user,
			`{"event_timestamp":1772443800,"initiating_entity":"admin","claims":{"gatehouse_account":"ACC-1","gatehouse_role":"none"}}`},
		{"PermissionsChanged", audit.Event{Type: audit.PermissionsChanged, Actor: "usr_2", Detail: map[string]string{"account": "ACC-1", "after": "options,margin"}}, []string{secevent.TokenClaimsChange}, user,
			`{"event_timestamp":1772443800,"initiating_entity":"policy","claims":{"gatehouse_account":"ACC-1","gatehouse_permissions":"options,margin"}}`},
		{"CloneSuspected", audit.Event{Type: audit.FactorCloneSuspect, Actor: "usr_1"}, []string{secevent.CredentialCompromise}, user, `{"credential_type":"fido2-roaming","event_timestamp":1772443800}`},
		{"PushReported", audit.Event{Type: audit.PushReported, Actor: "usr_1"}, []string{secevent.CredentialCompromise}, user, `{"credential_type":"password","event_timestamp":1772443800}`},
		{"FactorGuessing", audit.Event{Type: audit.FactorGuessing, Actor: "usr_1"}, []string{secevent.CredentialCompromise}, user, ""},
		{"AccountClosed", audit.Event{Type: audit.AccountClosed, Actor: "system"}, []string{secevent.AccountDisabled}, user, `{}`},
		{"Frozen", audit.Event{Type: audit.AccountFrozen, Actor: "usr_1"}, []string{secevent.AccountDisabled, secevent.SessionsRevoked}, user, `{"reason":"hijacking"}`},
		{"SignIn", audit.Event{Type: audit.SessionStarted, Actor: "usr_1", Detail: map[string]string{"session": "ses_1"}}, nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.e
			e.Time, e.UserID = storetest.T0, "usr_1"
			var ms []*store.Message
			err := st.InTx(ctx, func(tx store.Tx) error {
				var err error
				ms, err = tr.Derive(ctx, tx, &e)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			var toks []secevent.Token
			for _, m := range ms {
				var tok secevent.Token
				if err := json.Unmarshal(m.Payload, &tok); err != nil {
					t.Fatal(err)
				}
				if m.Channel != store.ChannelSSF || m.ID != tok.JTI {
					t.Errorf("message %s on %s for jti %s: want channel ssf and the jti as id", m.ID, m.Channel, tok.JTI)
				}
				if m.Destination == "all" {
					got = append(got, tok.Type())
					toks = append(toks, tok)
				} else if !slices.Contains(tr.Receivers[1].Events, tok.Type()) {
					t.Errorf("receiver revocations got %s, which it may not have", tok.Type())
				}
				if tok.Issuer != tr.Issuer || tok.IssuedAt != storetest.T0.Unix() {
					t.Errorf("token iss %q iat %d", tok.Issuer, tok.IssuedAt)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("events = %v, want %v", got, tt.want)
			}
			if len(toks) == 0 {
				return
			}
			if sub, _ := json.Marshal(toks[0].Subject); string(sub) != tt.sub {
				t.Errorf("sub_id = %s, want %s", sub, tt.sub)
			}
			if raw := string(toks[0].Events[tt.want[0]]); tt.event != "" && raw != tt.event {
				t.Errorf("event = %s, want %s", raw, tt.event)
			}
		})
	}
}

func jwks(tr *ssf.Transmitter) jose.JSONWebKeySet { return jose.JSONWebKeySet{Keys: tr.JWKS()} }
