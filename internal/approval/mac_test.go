package approval_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/approval"
)

// TestCheckAcceptsWhatVerifyAccepts: forward-auth's MAC check reads the
// same claims from a token as the signature check, escapes in claims
// included.
func TestCheckAcceptsWhatVerifyAccepts(t *testing.T) {
	s := signer(t, "0123456789abcdef0123456789abcdef")
	odd := claims()
	odd.Account = `ACC-<1>&"x"\é` // escaped by encoding/json: read by the slow path
	for name, c := range map[string]approval.Claims{"plain": claims(), "escapes": odd} {
		tok, err := s.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		want, err := s.Verify(tok, t0.Add(time.Minute))
		if err != nil {
			t.Fatalf("%s: Verify = %v", name, err)
		}
		got, err := s.Check(tok, t0.Add(time.Minute))
		if err != nil {
			t.Fatalf("%s: Check = %v", name, err)
		}
		if *got != *want {
			t.Errorf("%s: Check = %+v, want %+v", name, *got, *want)
		}
	}
}

// TestCheckRefuses: a changed claim under the old MAC, a token of
// another key, another header, a missing or moved MAC, and an expired
// token are refused.
func TestCheckRefuses(t *testing.T) {
	s := signer(t, "0123456789abcdef0123456789abcdef")
	other := signer(t, "another secret, another key 0000")
	good, _ := s.Sign(claims())
	foreign, _ := other.Sign(claims())
	parts := strings.Split(good, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatal(err)
	}
	with := func(k string, v any) string {
		c := map[string]any{}
		for k, v := range m {
			c[k] = v
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		b, _ := json.Marshal(c)
		return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
	}
	otherHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","kid":"` + s.KeyID() + `","typ":"` + approval.TokenType + `"}`))
	for name, tok := range map[string]string{
		"other key":       foreign,
		"other account":   with("account", "ACC-2"),
		"other hash":      with("hash", strings.Repeat("cd", 32)),
		"other user":      with("sub", "usr_2"),
		"other id":        with("jti", "apr_2"),
		"other kind":      with("kind", "order"),
		"later expiry":    with("exp", float64(t0.Add(time.Hour).Unix())),
		"no mac":          with("mac", nil),
		"other mac":       with("mac", strings.Repeat("A", 43)),
		"other header":    otherHeader + "." + parts[1] + "." + parts[2],
		"no signature":    parts[0] + "." + parts[1] + ".",
		"four parts":      good + ".x",
		"empty":           "",
		"too long":        strings.Repeat("a", approval.MaxTokenSize+1),
		"not base64":      parts[0] + ".!!." + parts[2],
		"not an object":   parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`[1]`)) + "." + parts[2],
		"mac of another":  parts[0] + "." + strings.Split(foreign, ".")[1] + "." + parts[2],
		"duplicate names": parts[0] + "." + base64.RawURLEncoding.EncodeToString(append(payload[:len(payload)-1], []byte(`,"account":"ACC-2"}`)...)) + "." + parts[2],
	} {
		if _, err := s.Check(tok, t0); !errors.Is(err, approval.ErrToken) {
			t.Errorf("Check(%s) = %v, want ErrToken", name, err)
		}
	}
	if _, err := s.Check(good, t0.Add(2*time.Minute)); !errors.Is(err, approval.ErrTokenExpired) {
		t.Errorf("Check(at exp) = %v, want ErrTokenExpired", err)
	}
}

// FuzzCheck: Check never panics, and accepts nothing but what the signer
// signed.
func FuzzCheck(f *testing.F) {
	s, err := approval.NewSigner([]byte("0123456789abcdef0123456789abcdef"), "https://auth.example")
	if err != nil {
		f.Fatal(err)
	}
	good, _ := s.Sign(claims())
	parts := strings.Split(good, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	f.Add(payload)
	f.Add([]byte(`{"iss":"https://auth.example","sub":"u","jti":"j","iat":1,"exp":99999999999,"account":"a","kind":"transfer","hash":"h","mac":"x"}`))
	f.Fuzz(func(t *testing.T, p []byte) {
		tok := parts[0] + "." + base64.RawURLEncoding.EncodeToString(p) + "." + parts[2]
		c, err := s.Check(tok, t0)
		if err != nil {
			return
		}
		want, verr := s.Verify(good, t0)
		if verr != nil || *c != *want {
			t.Errorf("Check accepted %s as %+v", p, *c)
		}
	})
}
