package secevent_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"gatehouse/internal/secevent"
)

const iss = "https://gatehouse.example"

func key(t testing.TB, id string) secevent.Key {
	t.Helper()
	p, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return secevent.Key{ID: id, Private: p}
}

func jwks(ks ...secevent.Key) jose.JSONWebKeySet {
	var s jose.JSONWebKeySet
	for _, k := range ks {
		s.Keys = append(s.Keys, k.Public())
	}
	return s
}

var user = &secevent.Subject{Format: secevent.FormatIssSub, Iss: iss, Sub: "usr_1"}

// TestEvents signs each event, verifies it as a receiver would and checks
// the event's JSON members against those its specification names.
func TestEvents(t *testing.T) {
	k := key(t, "k1")
	tests := []struct {
		name string
		sub  *secevent.Subject
		ev   secevent.Event
		want string // the event object, as JSON
	}{
		{"SessionRevoked", &secevent.Subject{Format: secevent.FormatComplex, User: user, Session: &secevent.Subject{Format: secevent.FormatOpaque, ID: "ses_1"}},
			secevent.SessionRevokedEvent{Common: secevent.Common{EventTimestamp: 1700000000, InitiatingEntity: secevent.ByUser, ReasonAdmin: map[string]string{"en": "logout"}}},
			`{"event_timestamp":1700000000,"initiating_entity":"user","reason_admin":{"en":"logout"}}`},
		{"CredentialChangePassword", &secevent.Subject{Format: secevent.FormatEmail, Email: "ann@example.com"},
			secevent.CredentialChangeEvent{Common: secevent.Common{EventTimestamp: 1700000000, InitiatingEntity: secevent.ByUser}, CredentialType: secevent.CredPassword, ChangeType: secevent.ChangeUpdate},
			`{"event_timestamp":1700000000,"initiating_entity":"user","credential_type":"password","change_type":"update"}`},
		{"CredentialChangeFIDO2", user,
			secevent.CredentialChangeEvent{CredentialType: secevent.CredFIDO2Roaming, ChangeType: secevent.ChangeCreate, FriendlyName: "YubiKey", FIDO2AAGUID: "accced6a-63f5-490a-9eea-e59bc1896cfc", Common: secevent.Common{ReasonUser: map[string]string{"en": "enrolled"}}},
			`{"reason_user":{"en":"enrolled"},"credential_type":"fido2-roaming","change_type":"create","friendly_name":"YubiKey","fido2_aaguid":"accced6a-63f5-490a-9eea-e59bc1896cfc"}`},
		{"AssuranceLevelChange", user,
			secevent.AssuranceLevelChangeEvent{Namespace: secevent.NamespaceNISTAAL, CurrentLevel: "nist-aal2", PreviousLevel: "nist-aal1", ChangeDirection: "increase"},
			`{"namespace":"NIST-AAL","current_level":"nist-aal2","previous_level":"nist-aal1","change_direction":"increase"}`},
		{"TokenClaimsChange", user,
			secevent.TokenClaimsChangeEvent{Claims: map[string]any{"role": "viewer"}, Common: secevent.Common{InitiatingEntity: secevent.ByAdmin}},
			`{"initiating_entity":"admin","claims":{"role":"viewer"}}`},
		{"AccountDisabled", user, secevent.AccountDisabledEvent{Reason: secevent.ReasonHijacking}, `{"reason":"hijacking"}`},
		{"SessionsRevoked", &secevent.Subject{Format: secevent.FormatOpaque, ID: "usr_1"}, secevent.SessionsRevokedEvent{}, `{}`},
		{"CredentialCompromise", user, secevent.CredentialCompromiseEvent{CredentialType: secevent.CredPassword, EventTimestamp: 1700000001}, `{"credential_type":"password","event_timestamp":1700000001}`},
		{"Verification", &secevent.Subject{Format: secevent.FormatOpaque, ID: "str_1"}, secevent.VerificationEvent{State: "abc"}, `{"state":"abc"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := secevent.New(iss, "jti-"+tt.name, 1700000002, []string{"https://orders.example"}, "tx1", tt.sub, tt.ev)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			s, err := secevent.Sign(tok, k)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			got, err := secevent.Parse(s, jwks(k), iss, "https://orders.example")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got.Type() != tt.ev.EventType() {
				t.Errorf("Type() = %q, want %q", got.Type(), tt.ev.EventType())
			}
			if string(got.Events[got.Type()]) != tt.want {
				t.Errorf("event = %s, want %s", got.Events[got.Type()], tt.want)
			}
			if diff := cmp.Diff(tt.sub, got.Subject); diff != "" {
				t.Errorf("sub_id (-want +got):\n%s", diff)
			}
			ev, err := got.Event()
			if err != nil {
				t.Fatalf("Event: %v", err)
			}
			if ev.EventType() != tt.ev.EventType() {
				t.Errorf("Event().EventType() = %q", ev.EventType())
			}
			// The header is explicitly typed and names the key.
			header, _, _ := strings.Cut(s, ".")
			raw, _ := base64.RawURLEncoding.DecodeString(header)
			var h map[string]string
			json.Unmarshal(raw, &h)
			if h["typ"] != "secevent+jwt" || h["alg"] != "ES256" || h["kid"] != "k1" {
				t.Errorf("header = %v, want typ secevent+jwt, alg ES256, kid k1", h)
			}
		})
	}
}

// TestInvalidEvents: what breaks an event's specification is refused before signing.
func TestInvalidEvents(t *testing.T) {
	for name, ev := range map[string]secevent.Event{
		"NoCredentialType":   secevent.CredentialChangeEvent{ChangeType: secevent.ChangeCreate},
		"BadChangeType":      secevent.CredentialChangeEvent{CredentialType: "password", ChangeType: "rename"},
		"NoNamespace":        secevent.AssuranceLevelChangeEvent{CurrentLevel: "nist-aal2"},
		"BadDirection":       secevent.AssuranceLevelChangeEvent{Namespace: "NIST-AAL", CurrentLevel: "nist-aal2", ChangeDirection: "up"},
		"NoClaims":           secevent.TokenClaimsChangeEvent{},
		"BadInitiator":       secevent.SessionRevokedEvent{Common: secevent.Common{InitiatingEntity: "robot"}},
		"EmptyReason":        secevent.SessionRevokedEvent{Common: secevent.Common{ReasonAdmin: map[string]string{}}},
		"BadDisabledReason":  secevent.AccountDisabledEvent{Reason: "whim"},
		"CompromiseNoType":   secevent.CredentialCompromiseEvent{},
		"StreamUpdatedEmpty": secevent.StreamUpdatedEvent{},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := secevent.New(iss, "j", 1, []string{"a"}, "", user, ev); !errors.Is(err, secevent.ErrInvalid) {
				t.Errorf("New(%+v) = %v, want ErrInvalid", ev, err)
			}
		})
	}
	for name, sub := range map[string]*secevent.Subject{
		"Nil":           nil,
		"OpaqueNoID":    {Format: secevent.FormatOpaque},
		"EmailWithSub":  {Format: secevent.FormatEmail, Email: "a@b", Sub: "x"},
		"IssSubNoIss":   {Format: secevent.FormatIssSub, Sub: "x"},
		"ComplexEmpty":  {Format: secevent.FormatComplex},
		"ComplexInside": {Format: secevent.FormatComplex, User: &secevent.Subject{Format: secevent.FormatComplex, User: user}},
		"UnknownFormat": {Format: "phone_number", ID: "1"},
	} {
		t.Run("Subject"+name, func(t *testing.T) {
			if _, err := secevent.New(iss, "j", 1, []string{"a"}, "", sub, secevent.SessionsRevokedEvent{}); !errors.Is(err, secevent.ErrInvalid) {
				t.Errorf("New with sub_id %+v = %v, want ErrInvalid", sub, err)
			}
		})
	}
}

// sign signs raw claims with typ, as a forger or a careless transmitter would.
func sign(t *testing.T, k secevent.Key, typ string, claims any) string {
	t.Helper()
	opts := &jose.SignerOptions{}
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: k.Private, KeyID: k.ID}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(claims)
	jws, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := jws.CompactSerialize()
	return c
}

// TestParseRefuses checks what a receiver must refuse.
func TestParseRefuses(t *testing.T) {
	k, other := key(t, "k1"), key(t, "k1")
	good := map[string]any{"iss": iss, "jti": "j1", "iat": 1700000000, "aud": "r", "sub_id": map[string]string{"format": "opaque", "id": "u"},
		"events": map[string]any{secevent.SessionsRevoked: map[string]any{}}}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for a, b := range good {
			m[a] = b
		}
		m[k] = v
		return m
	}
	if _, err := secevent.Parse(sign(t, k, secevent.Type, good), jwks(k), iss, "r"); err != nil {
		t.Fatalf("Parse(good) = %v", err)
	}
	tests := []struct {
		name string
		set  string
		want error
	}{
		{"OtherKey", sign(t, other, secevent.Type, good), secevent.ErrSignature},
		{"UnknownKid", sign(t, key(t, "k9"), secevent.Type, good), secevent.ErrSignature},
		{"NoTyp", sign(t, k, "", good), secevent.ErrInvalid},
		{"JWTTyp", sign(t, k, "JWT", good), secevent.ErrInvalid},
		{"WrongIssuer", sign(t, k, secevent.Type, with("iss", "https://evil.example")), secevent.ErrInvalid},
		{"WrongAudience", sign(t, k, secevent.Type, with("aud", []string{"x", "y"})), secevent.ErrInvalid},
		{"Sub", sign(t, k, secevent.Type, with("sub", "u")), secevent.ErrInvalid},
		{"Exp", sign(t, k, secevent.Type, with("exp", 1800000000)), secevent.ErrInvalid},
		{"TwoEvents", sign(t, k, secevent.Type, with("events", map[string]any{secevent.SessionsRevoked: map[string]any{}, secevent.AccountDisabled: map[string]any{}})), secevent.ErrInvalid},
		{"Garbage", "a.b.c", secevent.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := secevent.Parse(tt.set, jwks(k), iss, "r"); !errors.Is(err, tt.want) {
				t.Errorf("Parse = %v, want %v", err, tt.want)
			}
		})
	}
	// HS256 with the public key as secret (alg confusion) never verifies.
	hs, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte("0123456789abcdef0123456789abcdef")}, (&jose.SignerOptions{}).WithType(secevent.Type))
	b, _ := json.Marshal(good)
	jws, _ := hs.Sign(b)
	c, _ := jws.CompactSerialize()
	if _, err := secevent.Parse(c, jwks(k), iss, "r"); err == nil {
		t.Error("Parse(HS256) = nil, want an error")
	}
}

// FuzzRoundTrip: whatever the fields, a token New accepts signs, verifies
// against the published key and decodes to the same claims and event.
func FuzzRoundTrip(f *testing.F) {
	f.Add("usr_1", "ann@example.com", "password", "update", "YubiKey", "en", "reason", int64(1700000000), uint8(0))
	f.Add("ü\x00", "", "", "create", "", "", "", int64(-1), uint8(3))
	f.Add("x", "y", "app", "delete", "\u2028", "de-CH", "Grund", int64(0), uint8(7))
	k := key(f, "k1")
	set := jwks(k)
	f.Fuzz(func(t *testing.T, id, email, credType, change, name, lang, reason string, ts int64, which uint8) {
		common := secevent.Common{EventTimestamp: ts}
		if lang != "" || reason != "" {
			common.ReasonAdmin = map[string]string{lang: reason}
		}
		events := []secevent.Event{
			secevent.SessionRevokedEvent{Common: common},
			secevent.CredentialChangeEvent{Common: common, CredentialType: credType, ChangeType: change, FriendlyName: name},
			secevent.AssuranceLevelChangeEvent{Common: common, Namespace: credType, CurrentLevel: change, PreviousLevel: name},
			secevent.TokenClaimsChangeEvent{Common: common, Claims: map[string]any{name: reason}},
			secevent.AccountDisabledEvent{Reason: reason},
			secevent.SessionsRevokedEvent{},
			secevent.CredentialCompromiseEvent{CredentialType: credType, EventTimestamp: ts, ReasonUser: common.ReasonAdmin},
			secevent.VerificationEvent{State: reason},
		}
		ev := events[int(which)%len(events)]
		subs := []*secevent.Subject{{Format: secevent.FormatOpaque, ID: id}, {Format: secevent.FormatEmail, Email: email}, {Format: secevent.FormatIssSub, Iss: iss, Sub: id}}
		sub := subs[int(which)%len(subs)]
		tok, err := secevent.New(iss, "jti", 1700000000, []string{"r"}, "", sub, ev)
		if err != nil {
			if !errors.Is(err, secevent.ErrInvalid) {
				t.Fatalf("New: %v, not ErrInvalid", err)
			}
			return
		}
		s, err := secevent.Sign(tok, k)
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		got, err := secevent.Parse(s, set, iss, "r")
		if err != nil {
			t.Fatalf("Parse(Sign(%+v)): %v", tok, err)
		}
		if diff := cmp.Diff(tok.Subject, got.Subject); diff != "" {
			t.Errorf("sub_id (-signed +parsed):\n%s", diff)
		}
		gotEv, err := got.Event()
		if err != nil {
			t.Fatalf("Event: %v", err)
		}
		a, _ := json.Marshal(ev)
		b, _ := json.Marshal(gotEv)
		if string(a) != string(b) {
			t.Errorf("event signed %s, parsed %s", a, b)
		}
	})
}
